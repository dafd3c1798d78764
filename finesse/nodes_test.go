package finesse

import (
	"strings"
	"testing"
)

func TestNodeConstructors(t *testing.T) {
	cases := []struct{ got, want string }{
		{UserNode("1001"), "/finesse/api/User/1001"},
		{UserDialogsNode("1001"), "/finesse/api/User/1001/Dialogs"},
		{UserDialogsMediaNode("1001"), "/finesse/api/User/1001/Dialogs/Media"},
		{UserMediaNode("1001"), "/finesse/api/User/1001/Media"},
		{UserQueuesNode("1001"), "/finesse/api/User/1001/Queues"},
		{TeamUsersNode(42), "/finesse/api/Team/42/Users"},
		{SystemInfoNode, "/finesse/api/SystemInfo"},
		{CampaignNode("Cisco_Default_Task_Campaign"), "ccp.campaign.updates.Cisco_Default_Task_Campaign"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestParseNode(t *testing.T) {
	good := []struct {
		name string
		want Node
	}{
		{"/finesse/api/User/1001", Node{Kind: KindUser, UserID: "1001"}},
		{"/finesse/api/User/JSmith/Dialogs", Node{Kind: KindUserDialogs, UserID: "JSmith"}},
		{"/finesse/api/User/1001/Dialogs/Media", Node{Kind: KindUserDialogsMedia, UserID: "1001"}},
		{"/finesse/api/User/1001/Media", Node{Kind: KindUserMedia, UserID: "1001"}},
		{"/finesse/api/User/1001/Queues", Node{Kind: KindUserQueues, UserID: "1001"}},
		{"/finesse/api/User/jöhn.doe_1/Queues", Node{Kind: KindUserQueues, UserID: "jöhn.doe_1"}},
		{"/finesse/api/Team/1/Users", Node{Kind: KindTeamUsers, TeamID: 1}},
		{"/finesse/api/Team/123456789/Users", Node{Kind: KindTeamUsers, TeamID: 123456789}},
		{"/finesse/api/SystemInfo", Node{Kind: KindSystemInfo}},
		{"ccp.campaign.updates.Cisco_Default_Task_Campaign", Node{Kind: KindCampaign, Campaign: "Cisco_Default_Task_Campaign"}},
		{"ccp.campaign.updates.a.b-C_9", Node{Kind: KindCampaign, Campaign: "a.b-C_9"}},
	}
	for _, c := range good {
		got, ok := ParseNode(c.name)
		if !ok || got != c.want {
			t.Errorf("ParseNode(%q) = %+v, %v; want %+v", c.name, got, ok, c.want)
			continue
		}
		if back := got.Name(); back != c.name {
			t.Errorf("ParseNode(%q).Name() = %q", c.name, back)
		}
	}
	bad := []string{
		"",
		"/finesse/api/User/",
		"/finesse/api/User//Dialogs",
		"/finesse/api/User/1001/",
		"/finesse/api/User/1001/Dialogs/",
		"/finesse/api/User/1001/dialogs",
		"/finesse/api/User/1001/Media/5000",
		"/finesse/api/User/1001/ClientLog",
		"/finesse/api/User/1001/Dialogs/Media/x",
		"/finesse/api/User/10 01",
		"/finesse/api/User/a@b",
		"/finesse/api/User/a:b",
		"/finesse/api/User/a&b",
		"/finesse/api/User/a\x01b",
		"/finesse/api/User/" + strings.Repeat("x", 1024),
		"/finesse/api/user/1001",
		"/Finesse/api/User/1001",
		"finesse/api/User/1001",
		"/finesse/api/User",
		"/finesse/api/Team/1",
		"/finesse/api/Team/1/Users/",
		"/finesse/api/Team/1/users",
		"/finesse/api/Team/0/Users",
		"/finesse/api/Team/01/Users",
		"/finesse/api/Team/-1/Users",
		"/finesse/api/Team/+1/Users",
		"/finesse/api/Team/1x/Users",
		"/finesse/api/Team//Users",
		"/finesse/api/Team/1234567890/Users",
		"/finesse/api/SystemInfo/",
		"/finesse/api/systeminfo",
		"/finesse/api/Queue/1",
		"ccp.campaign.updates.",
		"ccp.campaign.updates.a b",
		"ccp.campaign.updates.a/b",
		"ccp.campaign.updates.café",
		"ccp.campaign.updates." + strings.Repeat("x", 256),
		"CCP.campaign.updates.x",
		"pubsub",
	}
	for _, name := range bad {
		if got, ok := ParseNode(name); ok {
			t.Errorf("ParseNode(%q) = %+v, want no Finesse node", name, got)
		}
	}
}

func TestResolver(t *testing.T) {
	exists := Resolver(testDirectory(t))
	cases := []struct {
		name string
		want bool
	}{
		{"/finesse/api/User/1001", true},
		{"/finesse/api/User/1001/Dialogs", true},
		{"/finesse/api/User/1001/Dialogs/Media", true},
		{"/finesse/api/User/1001/Media", true},
		{"/finesse/api/User/1001/Queues", true},
		{"/finesse/api/User/admin", true},
		{"/finesse/api/User/9999", false},
		{"/finesse/api/User/9999/Dialogs", false},
		// The id must be spelled as in the directory.
		{"/finesse/api/User/JSmith/Dialogs", true},
		{"/finesse/api/User/jsmith/Dialogs", false},
		{"/finesse/api/User/JSMITH", false},
		{"/finesse/api/User/ADMIN", false},
		// The service's own user is not a Finesse user.
		{"/finesse/api/User/finesse", false},
		{"/finesse/api/Team/1/Users", true},
		{"/finesse/api/Team/2/Users", true},
		{"/finesse/api/Team/3/Users", false},
		{"/finesse/api/SystemInfo", true},
		{"ccp.campaign.updates.Care", true},
		{"ccp.campaign.updates.Cisco_Default_Task_Campaign", true},
		{"ccp.campaign.updates.care", false},
		{"ccp.campaign.updates.Other", false},
		{"/finesse/api/User/1001/ClientLog", false},
		{"/finesse/api/Queue/1", false},
		{"anything", false},
		{"", false},
	}
	for _, c := range cases {
		if got := exists(c.name); got != c.want {
			t.Errorf("resolver(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestNodeKindString(t *testing.T) {
	if got := KindUserDialogsMedia.String(); got != "User/Dialogs/Media" {
		t.Errorf("KindUserDialogsMedia = %q", got)
	}
	if got := NodeKind(0).String(); got != "NodeKind(0)" {
		t.Errorf("NodeKind(0) = %q", got)
	}
	if KindTeamUsers.IsUserNode() || !KindUserQueues.IsUserNode() || !KindUser.IsUserNode() {
		t.Error("IsUserNode is wrong")
	}
}
