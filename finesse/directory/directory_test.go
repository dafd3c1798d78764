package directory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDefaultAccounts(t *testing.T) {
	d := Default()
	var agents []string
	for _, u := range d.Users() {
		if u.Role == RoleAgent {
			agents = append(agents, u.ID)
			if u.TeamID != 1 || u.Extension == "" || u.FirstName == "" || u.LastName == "" {
				t.Errorf("agent %+v: want team 1, an extension and a name", u)
			}
		}
	}
	want := []string{"1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008", "1009", "1010", "1080"}
	if !slices.Equal(agents, want) {
		t.Errorf("agents = %v, want %v", agents, want)
	}
	sup, ok := d.User("2001")
	if !ok || sup.Role != RoleSupervisor || sup.TeamID != 1 || !sup.Supervises(1) {
		t.Errorf("2001 = %+v, %v; want a supervisor of team 1", sup, ok)
	}
	admin, ok := d.User("admin")
	if !ok || admin.Role != RoleAdministrator {
		t.Errorf("admin = %+v, %v", admin, ok)
	}
	for _, u := range d.Users() {
		if local, ok := d.Authenticate(u.ID, "password"); !ok || local != u.Localpart() {
			t.Errorf("Authenticate(%q, password) = %q, %v", u.ID, local, ok)
		}
	}
	team, ok := d.Team(1)
	if !ok || team.Name != "Team A" {
		t.Errorf("team 1 = %+v, %v", team, ok)
	}
	if n := len(d.TeamMembers(1)); n != 12 {
		t.Errorf("team 1 has %d members, want 12", n)
	}
	voice, ok := d.VoiceMRD()
	if !ok || voice.ID != 1 || voice.Name != "Cisco_Voice" {
		t.Errorf("voice MRD = %+v, %v", voice, ok)
	}
	nonVoice := 0
	for _, m := range d.MediaRoutingDomains() {
		if !m.Voice {
			nonVoice++
		}
	}
	if nonVoice == 0 {
		t.Error("no non-voice MRD in the default")
	}
	if _, ok := d.MediaRoutingDomainByName("Cisco_Chat_MRD"); !ok {
		t.Error("no Cisco_Chat_MRD")
	}
	for _, c := range []Category{CategoryNotReady, CategoryLogout} {
		if len(d.ReasonCodesFor("1001", c)) == 0 {
			t.Errorf("no %s reason codes offered to 1001", c)
		}
	}
	if rc, ok := d.ReasonCodeByCode(CategoryLogout, 255); !ok || !rc.SystemCode {
		t.Errorf("forced-logout code 255 = %+v, %v; want a system code", rc, ok)
	}
}

func TestDefaultYAMLIsTheDefault(t *testing.T) {
	d, err := Parse(DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Users()) != len(Default().Users()) {
		t.Error("DefaultYAML parses to a different directory")
	}
}

func TestAuthenticate(t *testing.T) {
	d := mustParse(t, `
teams: [{id: 7, name: Blue}]
users:
  - {id: JSmith, password: "s3cret", role: Agent, team: 7}
  - {id: "1001", password: "pässwörd", role: agent, team: 7}
`)
	cases := []struct {
		user, pass string
		want       string
		ok         bool
	}{
		{"JSmith", "s3cret", "jsmith", true},
		{"jsmith", "s3cret", "jsmith", true},
		{"JSMITH", "s3cret", "jsmith", true},
		{"jsmith", "S3cret", "", false},
		{"jsmith", "s3cret ", "", false},
		{"jsmith", "", "", false},
		{"1001", "pässwörd", "1001", true},
		{"nobody", "s3cret", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		got, ok := d.Authenticate(c.user, c.pass)
		if got != c.want || ok != c.ok {
			t.Errorf("Authenticate(%q, %q) = %q, %v; want %q, %v", c.user, c.pass, got, ok, c.want, c.ok)
		}
	}
	for _, name := range []string{"jsmith", "JSmith", "1001"} {
		if !d.Exists(name) {
			t.Errorf("Exists(%q) = false", name)
		}
	}
	if d.Exists("nobody") || d.Exists("") {
		t.Error("Exists is true for an unknown user")
	}
	u, ok := d.User("jsmith")
	if !ok || u.ID != "JSmith" || u.Localpart() != "jsmith" || u.LoginName != "JSmith" {
		t.Errorf("User(jsmith) = %+v, %v", u, ok)
	}
}

func TestLookupsReturnCopies(t *testing.T) {
	d := mustParse(t, `
teams: [{id: 1, name: A}, {id: 2, name: B}]
users: [{id: s, password: p, role: Supervisor, team: 1, supervises: [1, 2]}]
reasonCodes: [{id: 1, category: NOT_READY, code: 5, label: X, teams: [1]}]
`)
	u, _ := d.User("s")
	u.SupervisedTeams[0] = 99
	rc, _ := d.ReasonCode(1)
	rc.Teams[0] = 99
	if u2, _ := d.User("s"); u2.SupervisedTeams[0] != 1 {
		t.Error("changing a returned user changed the directory")
	}
	if rc2, _ := d.ReasonCode(1); rc2.Teams[0] != 1 {
		t.Error("changing a returned reason code changed the directory")
	}
}

func TestReasonCodesFor(t *testing.T) {
	d := mustParse(t, `
teams: [{id: 1, name: A}, {id: 2, name: B}]
users:
  - {id: a, password: p, role: Agent, team: 1}
  - {id: b, password: p, role: Agent, team: 2}
reasonCodes:
  - {id: 1, category: NOT_READY, code: 1, label: Everyone, forAll: true}
  - {id: 2, category: NOT_READY, code: 2, label: Team A only, teams: [1]}
  - {id: 3, category: NOT_READY, code: 3, label: System, forAll: true, systemCode: true}
  - {id: 4, category: LOGOUT, code: 1, label: Bye, forAll: true}
`)
	ids := func(rcs []ReasonCode) []int {
		var out []int
		for _, rc := range rcs {
			out = append(out, rc.ID)
		}
		return out
	}
	if got := ids(d.ReasonCodesFor("a", CategoryNotReady)); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("a's NOT_READY codes = %v, want [1 2]", got)
	}
	if got := ids(d.ReasonCodesFor("B", CategoryNotReady)); !slices.Equal(got, []int{1}) {
		t.Errorf("b's NOT_READY codes = %v, want [1]", got)
	}
	if got := ids(d.ReasonCodesFor("a", CategoryLogout)); !slices.Equal(got, []int{4}) {
		t.Errorf("a's LOGOUT codes = %v, want [4]", got)
	}
	if got := d.ReasonCodesFor("nobody", CategoryLogout); got != nil {
		t.Errorf("unknown user's codes = %v", got)
	}
	if got := ids(d.ReasonCodes(CategoryNotReady)); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("all NOT_READY codes = %v", got)
	}
	if got := ids(d.ReasonCodes("")); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("all codes = %v", got)
	}
	if rc, ok := d.ReasonCodeByCode(CategoryLogout, 1); !ok || rc.ID != 4 {
		t.Errorf("LOGOUT code 1 = %+v, %v", rc, ok)
	}
}

func TestMRDDefaults(t *testing.T) {
	d := mustParse(t, `
users: [{id: admin, password: p, role: Administrator}]
mediaRoutingDomains:
  - {id: 1, name: Cisco_Voice, voice: true}
  - {id: 5000, name: Chat, description: Chat MRD, interruptible: true, maxDialogLimit: 4}
`)
	v, _ := d.MediaRoutingDomain(1)
	if v.MaxDialogLimit != 1 {
		t.Errorf("voice maxDialogLimit = %d, want the default 1", v.MaxDialogLimit)
	}
	c, ok := d.MediaRoutingDomain(5000)
	if !ok || !c.Interruptible || c.MaxDialogLimit != 4 || c.Description != "Chat MRD" || c.Voice {
		t.Errorf("chat MRD = %+v, %v", c, ok)
	}
	if _, ok := d.MediaRoutingDomain(2); ok {
		t.Error("MRD 2 exists")
	}
}

func TestInvalidDirectories(t *testing.T) {
	const base = "teams: [{id: 1, name: A}]\n"
	cases := []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"empty", "", []string{"empty"}},
		{"no users", base, []string{"no users"}},
		{"unknown key", base + "users: [{id: a, passwd: p, role: Agent, team: 1}]", []string{"line 2", `unknown key "passwd"`}},
		{"unknown section", "agents: []", []string{"agents"}},
		{"bad yaml", "users: [", []string{"yaml"}},
		{"two documents", "users: []\n---\nusers: []\n", []string{"more than one"}},
		{"team id as text", "teams: [{id: one, name: A}]", []string{"line 1"}},
		{"duplicate user", base + "users:\n  - {id: Ann, password: p, role: Agent, team: 1}\n  - {id: ann, password: q, role: Agent, team: 1}\n",
			[]string{"line 4", `user "ann"`, "duplicate id"}},
		{"unknown team", base + "users:\n  - {id: a, password: p, role: Agent, team: 7}\n", []string{"line 3", `user "a"`, "unknown team 7"}},
		{"no team", base + "users: [{id: a, password: p, role: Supervisor}]", []string{`user "a"`, "needs a team"}},
		{"bad role", base + "users: [{id: a, password: p, role: Boss, team: 1}]", []string{`user "a"`, `role "Boss"`}},
		{"empty password", base + "users: [{id: a, password: '', role: Agent, team: 1}]", []string{`user "a"`, "empty password"}},
		{"missing password", base + "users: [{id: a, role: Agent, team: 1}]", []string{`user "a"`, "empty password"}},
		{"no id", base + "users: [{password: p, role: Agent, team: 1}]", []string{"without an id"}},
		{"bad id", base + "users: [{id: 'a b', password: p, role: Agent, team: 1}]", []string{`user "a b"`, "localpart"}},
		{"slash in id", base + "users: [{id: 'a/b', password: p, role: Agent, team: 1}]", []string{`user "a/b"`, "localpart"}},
		{"reserved id", base + "users: [{id: Finesse, password: p, role: Agent, team: 1}]", []string{"reserved"}},
		{"bad extension", base + "users: [{id: a, password: p, role: Agent, team: 1, extension: 12a}]", []string{`extension "12a"`}},
		{"shared extension", base + "users:\n  - {id: a, password: p, role: Agent, team: 1, extension: '5'}\n  - {id: b, password: p, role: Agent, team: 1, extension: '5'}\n",
			[]string{`user "b"`, "extension 5"}},
		{"agent supervises", base + "users: [{id: a, password: p, role: Agent, team: 1, supervises: [1]}]", []string{"only a supervisor"}},
		{"supervises unknown", base + "users: [{id: a, password: p, role: Supervisor, team: 1, supervises: [3]}]", []string{"unknown team 3"}},
		{"duplicate team", "teams: [{id: 1, name: A}, {id: 1, name: B}]\nusers: [{id: a, password: p, role: Administrator}]", []string{"team 1: duplicate id"}},
		{"duplicate team name", "teams: [{id: 1, name: A}, {id: 2, name: A}]\nusers: [{id: a, password: p, role: Administrator}]", []string{"duplicate name"}},
		{"team without name", "teams: [{id: 1}]\nusers: [{id: a, password: p, role: Administrator}]", []string{"team 1: no name"}},
		{"zero team id", "teams: [{id: 0, name: A}]\nusers: [{id: a, password: p, role: Administrator}]", []string{"positive"}},
		{"duplicate reason code id", base + "users: [{id: a, password: p, role: Administrator}]\nreasonCodes:\n  - {id: 1, category: LOGOUT, code: 1, label: X}\n  - {id: 1, category: LOGOUT, code: 2, label: Y}\n",
			[]string{"line 5", "reason code 1: duplicate id"}},
		{"duplicate code", base + "users: [{id: a, password: p, role: Administrator}]\nreasonCodes:\n  - {id: 1, category: LOGOUT, code: 1, label: X}\n  - {id: 2, category: LOGOUT, code: 1, label: Y}\n",
			[]string{"reason code 2", "code 1"}},
		{"bad category", base + "users: [{id: a, password: p, role: Administrator}]\nreasonCodes: [{id: 1, category: BUSY, code: 1, label: X}]", []string{`category "BUSY"`}},
		{"code out of range", base + "users: [{id: a, password: p, role: Administrator}]\nreasonCodes: [{id: 1, category: LOGOUT, code: 70000, label: X}]", []string{"70000"}},
		{"no label", base + "users: [{id: a, password: p, role: Administrator}]\nreasonCodes: [{id: 1, category: LOGOUT, code: 1}]", []string{"no label"}},
		{"teams and forAll", base + "users: [{id: a, password: p, role: Administrator}]\nreasonCodes: [{id: 1, category: LOGOUT, code: 1, label: X, forAll: true, teams: [1]}]", []string{"forAll"}},
		{"reason code unknown team", base + "users: [{id: a, password: p, role: Administrator}]\nreasonCodes: [{id: 1, category: LOGOUT, code: 1, label: X, teams: [2]}]", []string{"unknown team 2"}},
		{"duplicate MRD", base + "users: [{id: a, password: p, role: Administrator}]\nmediaRoutingDomains: [{id: 1, name: A}, {id: 1, name: B}]", []string{"media routing domain 1: duplicate id"}},
		{"duplicate MRD name", base + "users: [{id: a, password: p, role: Administrator}]\nmediaRoutingDomains: [{id: 1, name: A}, {id: 2, name: A}]", []string{"name \"A\""}},
		{"two voice MRDs", base + "users: [{id: a, password: p, role: Administrator}]\nmediaRoutingDomains: [{id: 1, name: A, voice: true}, {id: 2, name: B, voice: true}]", []string{"voice"}},
		{"MRD limit", base + "users: [{id: a, password: p, role: Administrator}]\nmediaRoutingDomains: [{id: 1, name: A, maxDialogLimit: 11}]", []string{"maxDialogLimit 11"}},
		{"MRD without name", base + "users: [{id: a, password: p, role: Administrator}]\nmediaRoutingDomains: [{id: 3}]", []string{"media routing domain 3: no name"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Parse([]byte(c.yaml))
			if err == nil {
				t.Fatalf("parsed, want an error containing %q", c.want)
			}
			if d != nil {
				t.Error("a directory came back with the error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestManyProblemsAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("users:\n")
	for range 30 {
		b.WriteString("  - {id: a, password: p, role: Nobody}\n")
	}
	_, err := Parse([]byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "and 10 more") {
		t.Errorf("error = %v, want the list capped with \"and 10 more\"", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "dir.yaml")
	if err := os.WriteFile(path, []byte("users:\n  - {id: a, password: p, role: Agent, team: 9}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Load error = %v, want the path and line 2", err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("Load of a missing file: %v", err)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Exists("1080") {
		t.Error("1080 missing from the loaded copy of the default")
	}
}

func TestCampaigns(t *testing.T) {
	const users = "users: [{id: a, password: p, role: Administrator}]\n"
	ids := func(d *Directory) []string {
		var out []string
		for _, c := range d.Campaigns() {
			out = append(out, c.PublicID)
		}
		return out
	}
	def := Default()
	if got := ids(def); !slices.Equal(got, []string{DefaultCampaign}) {
		t.Errorf("default campaigns = %v", got)
	}
	if c, ok := def.Campaign(DefaultCampaign); !ok || c.Name != DefaultCampaign || c.Description != "Campaign for any type of task" {
		t.Errorf("default campaign = %+v, %v", c, ok)
	}
	// Without the key, or with a null value, the default campaign exists.
	for _, src := range []string{users, users + "campaigns:\n"} {
		if got := ids(mustParse(t, src)); !slices.Equal(got, []string{DefaultCampaign}) {
			t.Errorf("campaigns of %q = %v, want the default", src, got)
		}
	}
	// An explicit empty list means none.
	if got := ids(mustParse(t, users+"campaigns: []\n")); len(got) != 0 {
		t.Errorf("campaigns: [] gave %v", got)
	}
	d := mustParse(t, users+"campaigns:\n  - {publicId: Sales.EU-2_x}\n  - {publicId: Care, name: ' Customer care '}\n")
	if got := ids(d); !slices.Equal(got, []string{"Sales.EU-2_x", "Care"}) {
		t.Errorf("campaigns = %v", got)
	}
	if c, ok := d.Campaign("Sales.EU-2_x"); !ok || c.Name != "Sales.EU-2_x" {
		t.Errorf("Sales.EU-2_x = %+v, %v; want the id as its name", c, ok)
	}
	if c, ok := d.Campaign("Care"); !ok || c.Name != "Customer care" {
		t.Errorf("Care = %+v, %v", c, ok)
	}
	for _, missing := range []string{"care", "CARE", "", DefaultCampaign} {
		if _, ok := d.Campaign(missing); ok {
			t.Errorf("Campaign(%q) found; public ids match exactly", missing)
		}
	}
	cs := d.Campaigns()
	cs[0].PublicID = "changed"
	if _, ok := d.Campaign("Sales.EU-2_x"); !ok || d.Campaigns()[0].PublicID != "Sales.EU-2_x" {
		t.Error("changing the returned slice changed the directory")
	}

	bad := []struct{ name, yaml, want string }{
		{"no id", "campaigns: [{name: X}]", "without a publicId"},
		{"space", "campaigns: [{publicId: 'a b'}]", `campaign "a b"`},
		{"slash", "campaigns: [{publicId: 'a/b'}]", `campaign "a/b"`},
		{"non-ASCII", "campaigns: [{publicId: 'café'}]", `campaign "café"`},
		{"too long", "campaigns: [{publicId: " + strings.Repeat("x", 256) + "}]", "at most 255"},
		{"duplicate", "campaigns:\n  - {publicId: Care}\n  - {publicId: CARE}\n", "line 4"},
		{"unknown key", "campaigns: [{id: Care}]", `unknown key "id"`},
	}
	for _, c := range bad {
		_, err := Parse([]byte(users + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func mustParse(t *testing.T, src string) *Directory {
	t.Helper()
	d, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
