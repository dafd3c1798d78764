package directory

import (
	"crypto/sha256"
	"crypto/subtle"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/finesse-notify/finesse-notify/server"
)

// Role is what a user may do in Finesse.
type Role string

// The roles of Finesse users.
const (
	RoleAgent         Role = "Agent"
	RoleSupervisor    Role = "Supervisor"
	RoleAdministrator Role = "Administrator"
)

// Category is what a reason code explains: a NOT_READY or a LOGOUT.
type Category string

// The reason code categories.
const (
	CategoryNotReady Category = "NOT_READY"
	CategoryLogout   Category = "LOGOUT"
)

// User is a Finesse user. The password is not part of it: it is checked
// with Authenticate and never handed out.
type User struct {
	// ID is the user id as written in the directory: the id in REST URLs.
	// The XMPP localpart is its lower-case form (Localpart).
	ID        string
	FirstName string
	LastName  string
	LoginName string
	Role      Role
	// TeamID is the user's team, 0 for an administrator without one.
	TeamID    int
	Extension string
	// SupervisedTeams are the teams a supervisor supervises (nil otherwise).
	SupervisedTeams []int
}

// Localpart is the user's XMPP localpart: the id in lower case, as Cisco's
// tunnel builds the JID.
func (u User) Localpart() string { return strings.ToLower(u.ID) }

// IsSupervisor reports whether u supervises teams.
func (u User) IsSupervisor() bool { return u.Role == RoleSupervisor }

// Supervises reports whether u supervises team id.
func (u User) Supervises(teamID int) bool {
	return u.Role == RoleSupervisor && slices.Contains(u.SupervisedTeams, teamID)
}

func (u User) clone() User {
	u.SupervisedTeams = slices.Clone(u.SupervisedTeams)
	return u
}

// Team is a Finesse team.
type Team struct {
	ID   int
	Name string
}

// ReasonCode is a NOT_READY or LOGOUT reason code.
type ReasonCode struct {
	// ID identifies the reason code object (/finesse/api/ReasonCode/{id});
	// Code is the number reported to the contact centre.
	ID       int
	Category Category
	Code     int
	Label    string
	// ForAll offers the code to every team; otherwise only to Teams.
	ForAll bool
	Teams  []int
	// SystemCode marks codes the system sets (forced logout, RONA...);
	// agents are never offered them.
	SystemCode bool
}

// OfferedTo reports whether an agent of team teamID may choose the code.
func (rc ReasonCode) OfferedTo(teamID int) bool {
	return !rc.SystemCode && (rc.ForAll || slices.Contains(rc.Teams, teamID))
}

func (rc ReasonCode) clone() ReasonCode {
	rc.Teams = slices.Clone(rc.Teams)
	return rc
}

// MediaRoutingDomain is a media routing domain (MRD): the voice channel
// or a non-voice one (chat, email, tasks) an agent signs in to.
type MediaRoutingDomain struct {
	ID             int
	Name           string
	Description    string
	Voice          bool
	Interruptible  bool
	MaxDialogLimit int
}

// Campaign is a Customer Collaboration Platform (CCP) campaign, whose task
// status updates are published on ccp.campaign.updates.<PublicID>.
type Campaign struct {
	// PublicID is the campaign's public id: letters, digits, '_', '.', '-'.
	// It is matched exactly (with its case).
	PublicID string
	// Name is the display name; it defaults to the public id.
	Name        string
	Description string
}

// Feed is a CCP task feed: the Task API's /ccp/task/feed/<ID>. The tasks
// submitted to it become contacts of its campaign.
type Feed struct {
	ID          int
	Name        string
	Description string
	// Campaign is the public id of the campaign its tasks join.
	Campaign string
	Tags     []string
}

// ScriptSelector is what a task's scriptSelector routes to: in CCE, the
// dialed number whose script queues the task to a skill group of a
// non-voice media routing domain.
type ScriptSelector struct {
	// Name is the Task's scriptSelector (at most 32 characters), matched
	// exactly.
	Name string
	// DialedNumber is the Dialog's mediaProperties/dialedNumber (default
	// Name).
	DialedNumber string
	SkillGroupID int
	// QueueNumber and QueueName are the Dialog's mediaProperties
	// queueNumber and queueName.
	QueueNumber string
	QueueName   string
	// MRDID is the non-voice media routing domain the task is routed in.
	MRDID int
}

// DefaultCampaign is the public id of CCP's default task campaign, the
// directory's only campaign when the file lists none.
const DefaultCampaign = "Cisco_Default_Task_Campaign"

// Directory is a validated set of users, teams, reason codes, media
// routing domains, campaigns, feeds and script selectors. Its contents
// change only as a whole, with Swap (a reload), so every component that
// holds the *Directory sees the reload; each method reads one consistent
// version.
type Directory struct {
	c atomic.Pointer[contents]
}

// newDirectory wraps validated contents.
func newDirectory(c *contents) *Directory {
	d := &Directory{}
	d.c.Store(c)
	return d
}

// Swap replaces d's contents with next's (a reload) and returns a
// Directory holding the contents d had before. next itself is unchanged.
func (d *Directory) Swap(next *Directory) (previous *Directory) {
	return newDirectory(d.c.Swap(next.c.Load()))
}

// Snapshot returns a Directory holding d's present contents, which later
// reloads of d do not change.
func (d *Directory) Snapshot() *Directory { return newDirectory(d.c.Load()) }

// contents is one immutable version of a directory.
type contents struct {
	users       []User
	passwords   map[string][sha256.Size]byte // by lower-case id
	byID        map[string]int               // lower-case id → index in users
	teams       []Team
	teamByID    map[int]int
	reasonCodes []ReasonCode
	rcByID      map[int]int
	mrds        []MediaRoutingDomain
	mrdByID     map[int]int
	campaigns   []Campaign
	campByID    map[string]int // exact public id → index in campaigns
	feeds       []Feed
	feedByID    map[int]int
	selectors   []ScriptSelector
	selByName   map[string]int
}

var _ server.Accounts = (*Directory)(nil)

// Authenticate checks a SASL PLAIN (or HTTP Basic) identity and password.
// The identity matches a user id whatever its case; the lower-case id is
// returned. Passwords are compared in constant time, and an unknown user
// costs the same comparison as a known one.
func (d *Directory) Authenticate(username, password string) (localpart string, ok bool) {
	local := strings.ToLower(username)
	want, known := d.c.Load().passwords[local]
	got := sha256.Sum256([]byte(password))
	match := subtle.ConstantTimeCompare(want[:], got[:]) == 1
	if !known || !match {
		return "", false
	}
	return local, true
}

// Exists reports whether localpart names a user (ignoring case).
func (d *Directory) Exists(localpart string) bool {
	_, ok := d.c.Load().byID[strings.ToLower(localpart)]
	return ok
}

// User returns the user whose id is id, ignoring case. An XMPP localpart
// (the lower-case id) finds its user this way too.
func (d *Directory) User(id string) (User, bool) {
	c := d.c.Load()
	i, ok := c.byID[strings.ToLower(id)]
	if !ok {
		return User{}, false
	}
	return c.users[i].clone(), true
}

// Users returns every user in directory order.
func (d *Directory) Users() []User {
	c := d.c.Load()
	out := make([]User, len(c.users))
	for i, u := range c.users {
		out[i] = u.clone()
	}
	return out
}

// Team returns the team whose id is id.
func (d *Directory) Team(id int) (Team, bool) {
	c := d.c.Load()
	i, ok := c.teamByID[id]
	if !ok {
		return Team{}, false
	}
	return c.teams[i], true
}

// Teams returns every team in directory order.
func (d *Directory) Teams() []Team { return slices.Clone(d.c.Load().teams) }

// TeamMembers returns the users whose team is teamID, in directory order.
func (d *Directory) TeamMembers(teamID int) []User {
	var out []User
	for _, u := range d.c.Load().users {
		if u.TeamID == teamID {
			out = append(out, u.clone())
		}
	}
	return out
}

// ReasonCode returns the reason code whose object id is id.
func (d *Directory) ReasonCode(id int) (ReasonCode, bool) {
	c := d.c.Load()
	i, ok := c.rcByID[id]
	if !ok {
		return ReasonCode{}, false
	}
	return c.reasonCodes[i].clone(), true
}

// ReasonCodeByCode returns the reason code of category whose code is code.
func (d *Directory) ReasonCodeByCode(category Category, code int) (ReasonCode, bool) {
	for _, rc := range d.c.Load().reasonCodes {
		if rc.Category == category && rc.Code == code {
			return rc.clone(), true
		}
	}
	return ReasonCode{}, false
}

// ReasonCodes returns every reason code of category, system codes
// included, in directory order. An empty category returns all of them.
func (d *Directory) ReasonCodes(category Category) []ReasonCode {
	var out []ReasonCode
	for _, rc := range d.c.Load().reasonCodes {
		if category == "" || rc.Category == category {
			out = append(out, rc.clone())
		}
	}
	return out
}

// ReasonCodesFor returns the reason codes of category that user userID may
// choose: not system codes, and either for all teams or for the user's.
func (d *Directory) ReasonCodesFor(userID string, category Category) []ReasonCode {
	u, ok := d.User(userID)
	if !ok {
		return nil
	}
	var out []ReasonCode
	for _, rc := range d.c.Load().reasonCodes {
		if rc.Category == category && rc.OfferedTo(u.TeamID) {
			out = append(out, rc.clone())
		}
	}
	return out
}

// MediaRoutingDomain returns the MRD whose id is id.
func (d *Directory) MediaRoutingDomain(id int) (MediaRoutingDomain, bool) {
	c := d.c.Load()
	i, ok := c.mrdByID[id]
	if !ok {
		return MediaRoutingDomain{}, false
	}
	return c.mrds[i], true
}

// MediaRoutingDomainByName returns the MRD whose enterprise name is name.
func (d *Directory) MediaRoutingDomainByName(name string) (MediaRoutingDomain, bool) {
	for _, m := range d.c.Load().mrds {
		if m.Name == name {
			return m, true
		}
	}
	return MediaRoutingDomain{}, false
}

// MediaRoutingDomains returns every MRD in directory order.
func (d *Directory) MediaRoutingDomains() []MediaRoutingDomain { return slices.Clone(d.c.Load().mrds) }

// VoiceMRD returns the voice MRD, if the directory has one.
func (d *Directory) VoiceMRD() (MediaRoutingDomain, bool) {
	for _, m := range d.c.Load().mrds {
		if m.Voice {
			return m, true
		}
	}
	return MediaRoutingDomain{}, false
}

// Campaign returns the campaign whose public id is publicID, matched
// exactly: node names carry the id as written.
func (d *Directory) Campaign(publicID string) (Campaign, bool) {
	c := d.c.Load()
	i, ok := c.campByID[publicID]
	if !ok {
		return Campaign{}, false
	}
	return c.campaigns[i], true
}

// Campaigns returns every campaign in directory order.
func (d *Directory) Campaigns() []Campaign { return slices.Clone(d.c.Load().campaigns) }

// Feed returns the task feed whose id is id.
func (d *Directory) Feed(id int) (Feed, bool) {
	c := d.c.Load()
	i, ok := c.feedByID[id]
	if !ok {
		return Feed{}, false
	}
	f := c.feeds[i]
	f.Tags = slices.Clone(f.Tags)
	return f, true
}

// Feeds returns every task feed in directory order.
func (d *Directory) Feeds() []Feed {
	out := slices.Clone(d.c.Load().feeds)
	for i := range out {
		out[i].Tags = slices.Clone(out[i].Tags)
	}
	return out
}

// ScriptSelector returns the script selector named name (exact match).
func (d *Directory) ScriptSelector(name string) (ScriptSelector, bool) {
	c := d.c.Load()
	i, ok := c.selByName[name]
	if !ok {
		return ScriptSelector{}, false
	}
	return c.selectors[i], true
}

// ScriptSelectors returns every script selector in directory order.
func (d *Directory) ScriptSelectors() []ScriptSelector { return slices.Clone(d.c.Load().selectors) }
