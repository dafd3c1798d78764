package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

func TestUserXML(t *testing.T) {
	f := newFixture(t, nil, nil)
	doc, ok := f.r.UserXML("1001")
	want := `<User>` + user1001Head + `<pendingState></pendingState>` + agentRoles +
		`<state>LOGOUT</state><stateChangeTime>2024-05-01T10:00:00.000Z</stateChangeTime>` + user1001Tail + `</User>`
	if !ok || string(doc) != want {
		t.Fatalf("UserXML:\n%s\nwant:\n%s", doc, want)
	}
	sup, _ := f.r.UserXML("2001")
	if !strings.Contains(string(sup), `<roles><role>Agent</role><role>Supervisor</role></roles>`) {
		t.Errorf("supervisor roles: %s", sup)
	}
	admin, _ := f.r.UserXML("admin")
	if !strings.Contains(string(admin), `<roles><role>Administrator</role></roles>`) ||
		!strings.Contains(string(admin), `<teamId></teamId><teamName></teamName>`) || !strings.HasPrefix(string(admin), "<User><dialogs>") {
		t.Errorf("administrator: %s", admin)
	}
	if _, ok := f.r.UserXML("nobody"); ok {
		t.Error("UserXML of an unknown user")
	}
}

func TestMediaListXML(t *testing.T) {
	f := newFixture(t, nil, nil)
	doc, ok := f.r.MediaListXML("1002")
	want := `<MediaList>` +
		`<Media><uri>/finesse/api/User/1002/Media/5000</uri><description>Chat MRD</description><dialogLogoutAction>CLOSE</dialogLogoutAction>` +
		`<id>5000</id><interruptAction>ACCEPT</interruptAction><interruptible>true</interruptible><maxDialogLimit>10</maxDialogLimit>` +
		`<name>Cisco_Chat_MRD</name><routable>false</routable><state>LOGOUT</state><stateChangeTime>2024-05-01T10:00:00.000Z</stateChangeTime></Media>` +
		`<Media><uri>/finesse/api/User/1002/Media/5001</uri><description>Task MRD</description><dialogLogoutAction>CLOSE</dialogLogoutAction>` +
		`<id>5001</id><interruptAction>ACCEPT</interruptAction><interruptible>false</interruptible><maxDialogLimit>5</maxDialogLimit>` +
		`<name>Cisco_Task_MRD</name><routable>false</routable><state>LOGOUT</state><stateChangeTime>2024-05-01T10:00:00.000Z</stateChangeTime></Media>` +
		`</MediaList>`
	if !ok || string(doc) != want {
		t.Fatalf("MediaListXML:\n%s\nwant:\n%s", doc, want)
	}
	one, ok := f.r.MediaXML("1002", 5001)
	if !ok || !strings.Contains(want, string(one)) || !strings.HasPrefix(string(one), "<Media><uri>/finesse/api/User/1002/Media/5001<") {
		t.Errorf("MediaXML 5001: %s", one)
	}
	for _, c := range []struct {
		id  string
		mrd int
	}{{"1002", 1}, {"1002", 42}, {"nobody", 5000}} {
		if _, ok := f.r.MediaXML(c.id, c.mrd); ok {
			t.Errorf("MediaXML(%s, %d) found", c.id, c.mrd)
		}
	}
	if _, ok := f.r.MediaListXML("nobody"); ok {
		t.Error("MediaListXML of an unknown user")
	}
}

func TestTeamXML(t *testing.T) {
	f := newFixture(t, nil, nil)
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateNotReady, ReasonCodeID: 3})
	doc, ok := f.r.TeamXML(1)
	if !ok {
		t.Fatal("TeamXML(1) not found")
	}
	s := string(doc)
	head := `<Team><uri>/finesse/api/Team/1</uri><id>1</id><name>Team A</name><users><User>` + team1001Head +
		`<pendingState></pendingState><state>NOT_READY</state><stateChangeTime>2024-05-01T10:00:00.000Z</stateChangeTime>` +
		lunch + `</User><User><uri>/finesse/api/User/1002</uri>`
	if !strings.HasPrefix(s, head) || !strings.HasSuffix(s, `</User></users></Team>`) {
		t.Fatalf("TeamXML:\n%s\nwant it to start with\n%s", s, head)
	}
	// Agents 1001–1010 and 1080, and the supervisor who is a member.
	if n := strings.Count(s, "<User>"); n != 12 {
		t.Errorf("%d users in team 1, want 12", n)
	}
	if strings.Contains(s, "/User/admin<") {
		t.Error("the administrator is listed in team 1")
	}
	wellFormed(t, doc)
	if _, ok := f.r.TeamXML(2); ok {
		t.Error("TeamXML of an unknown team")
	}
}

func TestReasonCodesXML(t *testing.T) {
	f := newFixture(t, nil, nil)
	doc, ok := f.r.ReasonCodesXML("1001", directory.CategoryLogout)
	want := `<ReasonCodes category="LOGOUT">` +
		`<ReasonCode><uri>/finesse/api/ReasonCode/11</uri><category>LOGOUT</category><code>20</code><label>End of Shift</label><forAll>true</forAll><id>11</id></ReasonCode>` +
		`<ReasonCode><uri>/finesse/api/ReasonCode/12</uri><category>LOGOUT</category><code>21</code><label>Personal</label><forAll>true</forAll><id>12</id></ReasonCode>` +
		`</ReasonCodes>`
	if !ok || string(doc) != want {
		t.Fatalf("LOGOUT codes:\n%s\nwant (no system codes):\n%s", doc, want)
	}
	nr, _ := f.r.ReasonCodesXML("1001", directory.CategoryNotReady)
	if n := strings.Count(string(nr), "<ReasonCode>"); n != 5 || strings.Contains(string(nr), "<code>999<") {
		t.Errorf("NOT_READY codes (%d): %s", n, nr)
	}

	g := newFixture(t, parseDir(t, teamDirectory), nil)
	other, _ := g.r.ReasonCodesXML("2002", directory.CategoryNotReady)
	if strings.Contains(string(other), "Coaching") || !strings.Contains(string(other), "Meeting") {
		t.Errorf("team 2's NOT_READY codes: %s", other)
	}
	for _, c := range []struct {
		id  string
		cat directory.Category
	}{{"nobody", directory.CategoryLogout}, {"1001", ""}, {"1001", "READY"}} {
		if _, ok := f.r.ReasonCodesXML(c.id, c.cat); ok {
			t.Errorf("ReasonCodesXML(%q, %q) answered", c.id, c.cat)
		}
	}
}

func TestDialogsXML(t *testing.T) {
	f := newFixture(t, nil, nil)
	if doc, ok := f.r.DialogsXML("1001"); !ok || string(doc) != "<Dialogs/>" {
		t.Errorf("DialogsXML: %s %v", doc, ok)
	}
	if _, ok := f.r.DialogsXML("nobody"); ok {
		t.Error("DialogsXML of an unknown user")
	}
}

// TestRenderingEscapes feeds directory text full of markup and characters
// XML cannot carry through every renderer: every document stays
// well-formed, and markup reads back as the text it was.
func TestRenderingEscapes(t *testing.T) {
	f := newFixture(t, parseDir(t, `
teams: [{id: 1, name: "R&D <\"core\">"}]
users:
  - {id: "1001", password: p, firstName: "<b>Ann</b>", lastName: "O'Neil & \"Co\"\r\n", loginName: "ann]]>", role: Agent, team: 1, extension: "3001"}
reasonCodes:
  - {id: 1, category: NOT_READY, code: 10, label: "Tea & <cake> \u0001 \ufffe", forAll: true}
mediaRoutingDomains:
  - {id: 5000, name: Chat, description: "a < b & c", interruptible: true, maxDialogLimit: 10}
`), nil)
	f.login(t, "1001")
	f.must(t, "1001", StateRequest{State: StateNotReady, ReasonCodeID: 1})
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateLogin})
	f.mustMedia(t, "1001", 5000, MediaRequest{State: StateNotReady, ReasonCodeID: 1})

	var docs [][]byte
	for _, get := range []func() ([]byte, bool){
		func() ([]byte, bool) { return f.r.UserXML("1001") },
		func() ([]byte, bool) { return f.r.MediaListXML("1001") },
		func() ([]byte, bool) { return f.r.TeamXML(1) },
		func() ([]byte, bool) { return f.r.ReasonCodesXML("1001", directory.CategoryNotReady) },
	} {
		doc, ok := get()
		if !ok {
			t.Fatal("renderer found nothing")
		}
		docs = append(docs, doc)
	}
	for _, rec := range f.pub.all() {
		docs = append(docs, rec.update.Render())
	}
	for _, doc := range docs {
		wellFormed(t, doc)
	}
	user := docs[0]
	for name, want := range map[string]string{
		"firstName": "<b>Ann</b>",
		"lastName":  "O'Neil & \"Co\"\r\n",
		"loginName": "ann]]>",
		"teamName":  `R&D <"core">`,
		"label":     "Tea & <cake> \ufffd \ufffd",
	} {
		if got := field(user, name); got != want {
			t.Errorf("%s reads back as %q, want %q", name, got, want)
		}
	}
	if got := field(docs[1], "description"); got != "a < b & c" {
		t.Errorf("description reads back as %q", got)
	}
}

func TestFormatTime(t *testing.T) {
	at := time.Date(2024, 5, 1, 12, 0, 0, 7_000_000, time.FixedZone("CEST", 2*3600))
	if got := formatTime(at); got != "2024-05-01T10:00:00.007Z" {
		t.Errorf("formatTime = %s", got)
	}
}
