package finesse

import (
	"testing"

	"github.com/finesse-notify/finesse-notify/server"
)

// userNodes are the five nodes of user id.
func userNodes(id string) []string {
	return []string{UserNode(id), UserDialogsNode(id), UserDialogsMediaNode(id), UserMediaNode(id), UserQueuesNode(id)}
}

func TestPolicySubscribe(t *testing.T) {
	p := NewPolicy(testDirectory(t))
	type row struct {
		user string // bare JID localpart, as the core lower-cases it
		node string
		want bool
	}
	var rows []row
	add := func(user string, want bool, nodes ...string) {
		for _, n := range nodes {
			rows = append(rows, row{user, n, want})
		}
	}
	other := []string{"mynode", "/finesse/api/Queue/1", "/finesse/api/User/1001/ClientLog"}

	// Agent 1001 (team 1): its own user nodes and SystemInfo only.
	add("1001", true, userNodes("1001")...)
	add("1001", true, SystemInfoNode)
	add("1001", false, userNodes("1002")...) // a teammate
	add("1001", false, userNodes("2002")...) // another team's agent
	add("1001", false, userNodes("2001")...) // its supervisor
	add("1001", false, TeamUsersNode(1), TeamUsersNode(2))
	add("1001", false, CampaignNode("Care"), CampaignNode("Cisco_Default_Task_Campaign"))
	add("1001", false, other...)

	// A mixed-case id: the localpart is lower case, the nodes are the
	// directory's spelling.
	add("jsmith", true, userNodes("JSmith")...)
	add("jsmith", false, userNodes("jsmith")...)
	add("jsmith", true, SystemInfoNode)

	// Supervisor 2001 of team 1: its own nodes, team 1's Users node and
	// team 1's members' user nodes, SystemInfo.
	add("2001", true, userNodes("2001")...)
	add("2001", true, userNodes("1001")...)
	add("2001", true, userNodes("1002")...)
	add("2001", true, userNodes("JSmith")...)
	add("2001", false, userNodes("jsmith")...) // not the directory's spelling
	add("2001", true, TeamUsersNode(1), SystemInfoNode)
	add("2001", false, TeamUsersNode(2), TeamUsersNode(3))
	add("2001", false, userNodes("2002")...)  // team 2's agent
	add("2001", false, userNodes("3001")...)  // team 2's supervisor
	add("2001", false, userNodes("admin")...) // no team
	add("2001", false, userNodes("9999")...)  // nobody
	add("2001", false, CampaignNode("Care"))
	add("2001", false, other...)

	// Supervisor 3001 of team 2 (supervises its own team by default).
	add("3001", true, TeamUsersNode(2))
	add("3001", true, userNodes("2002")...)
	add("3001", false, TeamUsersNode(1))
	add("3001", false, userNodes("1001")...)

	// The administrator: everything, campaigns included.
	add("admin", true, userNodes("1001")...)
	add("admin", true, userNodes("2001")...)
	add("admin", true, userNodes("admin")...)
	add("admin", true, TeamUsersNode(1), TeamUsersNode(2), SystemInfoNode)
	add("admin", true, CampaignNode("Care"), CampaignNode("Cisco_Default_Task_Campaign"))
	add("admin", true, other...)

	// Not in the directory: nothing.
	for _, u := range []string{"nobody", "finesse"} {
		add(u, false, userNodes("1001")...)
		add(u, false, userNodes(u)...)
		add(u, false, TeamUsersNode(1), SystemInfoNode, CampaignNode("Care"))
		add(u, false, other...)
	}

	for _, r := range rows {
		jid := server.JID{Local: r.user, Domain: testDomain}
		if got := p.MaySubscribe(jid, r.node); got != r.want {
			t.Errorf("MaySubscribe(%s, %s) = %v, want %v", jid, r.node, got, r.want)
		}
	}
	// A JID without a localpart (a server or component) is no user.
	if p.MaySubscribe(server.JID{Domain: testDomain}, SystemInfoNode) {
		t.Error("the domain itself may subscribe")
	}
}

func TestPolicyPublishCreateAdminister(t *testing.T) {
	p := NewPolicy(testDirectory(t))
	nodes := append(userNodes("1001"), TeamUsersNode(1), SystemInfoNode, CampaignNode("Care"), "mynode")
	for _, user := range []string{"1001", "jsmith", "2001", "3001", "admin", "nobody", "finesse", ""} {
		want := user == "admin"
		jid := server.JID{Local: user, Domain: testDomain}
		for _, node := range nodes {
			if got := p.MayPublish(jid, node); got != want {
				t.Errorf("MayPublish(%s, %s) = %v, want %v", jid, node, got, want)
			}
			if got := p.MayCreate(jid, node); got != want {
				t.Errorf("MayCreate(%s, %s) = %v, want %v", jid, node, got, want)
			}
			if got := p.MayAdminister(jid, node); got != want {
				t.Errorf("MayAdminister(%s, %s) = %v, want %v", jid, node, got, want)
			}
		}
	}
}
