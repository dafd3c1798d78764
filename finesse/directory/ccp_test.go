package directory

import (
	"slices"
	"strings"
	"testing"
)

func TestDefaultFeedAndScriptSelectors(t *testing.T) {
	d := Default()
	f, ok := d.Feed(DefaultFeedID)
	if !ok || f.Name != "Cisco_Default_Task_Feed" || f.Campaign != DefaultCampaign ||
		f.Description != "Feed for Universal Queuing" || !slices.Equal(f.Tags, []string{"cisco_uq_tag"}) {
		t.Fatalf("default feed = %+v, %v", f, ok)
	}
	f.Tags[0] = "changed"
	if g, _ := d.Feed(DefaultFeedID); g.Tags[0] != "cisco_uq_tag" {
		t.Error("changing a returned feed's tags changed the directory")
	}
	sel, ok := d.ScriptSelector("CumulusTask")
	want := ScriptSelector{Name: "CumulusTask", DialedNumber: "CumulusTask", SkillGroupID: 5199,
		QueueNumber: "12282837", QueueName: "CumulusTask", MRDID: 5001}
	if !ok || sel != want {
		t.Errorf("CumulusTask = %+v, %v; want %+v", sel, ok, want)
	}
	if _, ok := d.ScriptSelector("cumulustask"); ok {
		t.Error("script selectors match exactly")
	}
	if got := len(d.ScriptSelectors()); got != 2 {
		t.Errorf("%d default script selectors, want 2", got)
	}
}

func TestFeedsDefaultToTheFirstCampaign(t *testing.T) {
	const users = "users: [{id: a, password: p, role: Administrator}]\n"
	d := mustParse(t, users+"campaigns: [{publicId: Care}, {publicId: Sales}]\n")
	if f, ok := d.Feed(DefaultFeedID); !ok || f.Campaign != "Care" {
		t.Errorf("default feed = %+v, %v; want it into Care", f, ok)
	}
	if got := mustParse(t, users+"campaigns: []\n").Feeds(); len(got) != 0 {
		t.Errorf("without campaigns there are feeds %v", got)
	}
	if got := mustParse(t, users+"feeds: []\n").Feeds(); len(got) != 0 {
		t.Errorf("feeds: [] gave %v", got)
	}
	d = mustParse(t, users+"feeds: [{id: 7, name: Mail, campaign: "+DefaultCampaign+"}]\n")
	if _, ok := d.Feed(DefaultFeedID); ok {
		t.Error("the default feed exists next to a listed one")
	}
	if f, ok := d.Feed(7); !ok || f.Name != "Mail" {
		t.Errorf("feed 7 = %+v, %v", f, ok)
	}
}

func TestUserRanges(t *testing.T) {
	const base = "teams: [{id: 1, name: T}]\nusers: [{id: '1001', password: p, role: Agent, team: 1, extension: '1001'}]\n"
	d := mustParse(t, base+"userRanges: [{from: 3001, to: 3500, password: secret, role: Agent, team: 1}]\n")
	if got := len(d.Users()); got != 501 {
		t.Fatalf("%d users, want 1 listed + 500 generated", got)
	}
	u, ok := d.User("3250")
	if !ok || u.Extension != "3250" || u.FirstName != "Load" || u.LastName != "3250" || u.TeamID != 1 || u.Role != RoleAgent {
		t.Errorf("user 3250 = %+v, %v", u, ok)
	}
	if _, ok := d.Authenticate("3500", "secret"); !ok {
		t.Error("a generated user cannot authenticate with the range's password")
	}
	if _, ok := d.Authenticate("3500", "p"); ok {
		t.Error("a generated user authenticated with another password")
	}
	// Extensions may start elsewhere, away from the listed users'.
	d = mustParse(t, base+
		"userRanges: [{from: 2001, to: 2002, password: p, role: Agent, team: 1, extensionFrom: 1002}]\n")
	if u, _ := d.User("2001"); u.Extension != "1002" {
		t.Errorf("user 2001's extension = %q, want 1002", u.Extension)
	}
	if _, err := Parse([]byte(base + "userRanges: [{from: 2001, to: 2002, password: p, role: Agent, team: 1, extensionFrom: 1001}]")); err == nil || !strings.Contains(err.Error(), "extension 1001 is already") {
		t.Errorf("a range extension clashing with a listed user's: %v", err)
	}
	// Ranges alone are enough users.
	mustParse(t, "teams: [{id: 1, name: T}]\nuserRanges: [{from: 1, to: 2, password: p, role: Agent, team: 1}]\n")

	bad := []struct{ name, yaml, want string }{
		{"reversed", "userRanges: [{from: 10, to: 9, password: p, role: Agent, team: 1}]", "from must be positive"},
		{"zero", "userRanges: [{from: 0, to: 9, password: p, role: Agent, team: 1}]", "from must be positive"},
		{"too many", "userRanges: [{from: 1, to: 300000, password: p, role: Agent, team: 1}]", "more than 200000"},
		{"clashes with a listed id", "userRanges: [{from: 1000, to: 1002, password: p, role: Agent, team: 1}]", `user "1001": duplicate id`},
		{"no password", "userRanges: [{from: 5000, to: 5002, role: Agent, team: 1}]", "line 3"},
		{"unknown team", "userRanges: [{from: 5000, to: 5002, password: p, role: Agent, team: 9}]", "unknown team 9"},
		{"unknown key", "userRanges: [{from: 1, to: 2, pw: p}]", `unknown key "pw"`},
	}
	for _, c := range bad {
		_, err := Parse([]byte(base + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// A bad range reports one problem, not one per generated user.
	_, err := Parse([]byte(base + "userRanges: [{from: 5000, to: 9000, role: Agent, team: 1}]"))
	if err == nil || strings.Count(err.Error(), "empty password") != 1 {
		t.Errorf("error %v, want one empty-password problem", err)
	}
}

func TestInvalidFeedsAndScriptSelectors(t *testing.T) {
	const base = "users: [{id: a, password: p, role: Administrator}]\n" +
		"mediaRoutingDomains: [{id: 1, name: V, voice: true}, {id: 5001, name: T}]\n"
	bad := []struct{ name, yaml, want string }{
		{"feed id", "feeds: [{id: 0, name: F, campaign: " + DefaultCampaign + "}]", "id must be a positive number"},
		{"feed name", "feeds: [{id: 1, campaign: " + DefaultCampaign + "}]", "feed 1: no name"},
		{"feed campaign", "feeds: [{id: 1, name: F, campaign: Nope}]", `unknown campaign "Nope"`},
		{"feed duplicate", "feeds: [{id: 1, name: F, campaign: " + DefaultCampaign + "}, {id: 1, name: G, campaign: " + DefaultCampaign + "}]", "duplicate id"},
		{"selector too long", "scriptSelectors: [{name: " + strings.Repeat("s", 33) + ", skillGroupId: 1, queueNumber: '1', queueName: Q, mrd: 5001}]", "1 to 32 characters"},
		{"selector voice MRD", "scriptSelectors: [{name: S, skillGroupId: 1, queueNumber: '1', queueName: Q, mrd: 1}]", "mrd 1 is not a non-voice"},
		{"selector unknown MRD", "scriptSelectors: [{name: S, skillGroupId: 1, queueNumber: '1', queueName: Q, mrd: 9}]", "mrd 9 is not"},
		{"selector queue", "scriptSelectors: [{name: S, skillGroupId: 1, mrd: 5001}]", "queueNumber and queueName are required"},
		{"selector skill group", "scriptSelectors: [{name: S, queueNumber: '1', queueName: Q, mrd: 5001}]", "skillGroupId must be"},
		{"selector duplicate", "scriptSelectors: [{name: S, skillGroupId: 1, queueNumber: '1', queueName: Q, mrd: 5001}, {name: S, skillGroupId: 2, queueNumber: '2', queueName: R, mrd: 5001}]", "duplicate name"},
	}
	for _, c := range bad {
		_, err := Parse([]byte(base + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	d := mustParse(t, base+"scriptSelectors: [{name: S, dialedNumber: '8001', skillGroupId: 1, queueNumber: ' 1 ', queueName: Q, mrd: 5001}]")
	if s, _ := d.ScriptSelector("S"); s.DialedNumber != "8001" || s.QueueNumber != "1" {
		t.Errorf("S = %+v", s)
	}
}

func TestSwapReplacesTheContentsEveryHolderSees(t *testing.T) {
	held := Default()
	before := held.Snapshot()
	next := mustParse(t, "teams: [{id: 7, name: Night}]\nusers: [{id: '4001', password: p, role: Agent, team: 7}]\n")
	previous := held.Swap(next)
	if !held.Exists("4001") || held.Exists("1001") {
		t.Error("after Swap the held directory does not have the new users only")
	}
	if _, ok := held.Team(7); !ok {
		t.Error("after Swap the held directory lacks the new team")
	}
	if !previous.Exists("1001") || previous.Exists("4001") {
		t.Error("the previous directory does not hold the old contents")
	}
	if _, ok := held.Authenticate("4001", "p"); !ok {
		t.Error("a new user cannot authenticate after Swap")
	}
	if !before.Exists("1001") || before.Exists("4001") {
		t.Error("a snapshot taken before Swap changed with it")
	}
	if !next.Exists("4001") || len(next.Users()) != 1 {
		t.Error("Swap changed the directory it took the contents from")
	}
}
