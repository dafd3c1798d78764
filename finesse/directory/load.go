package directory

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/finesse-notify/finesse-notify/server"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the embedded default directory file, a starting point
// for one's own.
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

// Default returns the embedded default directory: agents 1001-1010 and 1080
// and supervisor 2001 in team 1 ("Team A"), administrator "admin", every
// password "password"; a few reason codes; the voice MRD and two non-voice
// MRDs; the campaign Cisco_Default_Task_Campaign with its task feed 100000;
// the script selectors CumulusTask (task MRD) and ChatTask (chat MRD).
func Default() *Directory {
	d, err := parse(defaultYAML, "default.yaml")
	if err != nil {
		// The file is compiled in and covered by the tests.
		panic("directory: the embedded default is invalid: " + err.Error())
	}
	return d
}

// Load reads and validates the YAML directory file at path.
func Load(path string) (*Directory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return parse(data, path)
}

// Parse reads and validates a YAML directory (the format of default.yaml).
func Parse(data []byte) (*Directory, error) { return parse(data, "") }

// The file's shape. Unknown keys are errors.
type file struct {
	Teams               []fileTeam       `yaml:"teams"`
	Users               []fileUser       `yaml:"users"`
	ReasonCodes         []fileReasonCode `yaml:"reasonCodes"`
	MediaRoutingDomains []fileMRD        `yaml:"mediaRoutingDomains"`
	// Campaigns is nil when the key is absent or null (the default
	// campaign is used) and empty for an explicit [] (no campaigns).
	Campaigns []fileCampaign `yaml:"campaigns"`
	// UserRanges generate numbered users, for load tests.
	UserRanges []fileUserRange `yaml:"userRanges"`
	// Feeds is nil when the key is absent (the default task feed, into
	// the first campaign, is used) and empty for an explicit [].
	Feeds           []fileFeed           `yaml:"feeds"`
	ScriptSelectors []fileScriptSelector `yaml:"scriptSelectors"`
}

// fileUserRange declares the users From..To (inclusive): ids are the
// numbers, extensions the same numbers (or from ExtensionFrom on), first name FirstName (default
// "Load") and last name the number.
type fileUserRange struct {
	From      int    `yaml:"from"`
	To        int    `yaml:"to"`
	Password  string `yaml:"password"`
	Role      string `yaml:"role"`
	Team      int    `yaml:"team"`
	FirstName string `yaml:"firstName"`
	// ExtensionFrom is the first user's extension (default From); the
	// others follow in order.
	ExtensionFrom int `yaml:"extensionFrom"`
}

type fileFeed struct {
	ID          int      `yaml:"id"`
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Campaign    string   `yaml:"campaign"`
	Tags        []string `yaml:"tags"`
}

type fileScriptSelector struct {
	Name         string `yaml:"name"`
	DialedNumber string `yaml:"dialedNumber"`
	SkillGroupID int    `yaml:"skillGroupId"`
	QueueNumber  string `yaml:"queueNumber"`
	QueueName    string `yaml:"queueName"`
	MRD          int    `yaml:"mrd"`
}

type fileTeam struct {
	ID   int    `yaml:"id"`
	Name string `yaml:"name"`
}

type fileUser struct {
	ID         string `yaml:"id"`
	Password   string `yaml:"password"`
	FirstName  string `yaml:"firstName"`
	LastName   string `yaml:"lastName"`
	LoginName  string `yaml:"loginName"`
	Role       string `yaml:"role"`
	Team       int    `yaml:"team"`
	Extension  string `yaml:"extension"`
	Supervises []int  `yaml:"supervises"`
}

type fileReasonCode struct {
	ID         int    `yaml:"id"`
	Category   string `yaml:"category"`
	Code       int    `yaml:"code"`
	Label      string `yaml:"label"`
	ForAll     bool   `yaml:"forAll"`
	Teams      []int  `yaml:"teams"`
	SystemCode bool   `yaml:"systemCode"`
}

type fileMRD struct {
	ID             int    `yaml:"id"`
	Name           string `yaml:"name"`
	Description    string `yaml:"description"`
	Voice          bool   `yaml:"voice"`
	Interruptible  bool   `yaml:"interruptible"`
	MaxDialogLimit int    `yaml:"maxDialogLimit"`
}

type fileCampaign struct {
	PublicID    string `yaml:"publicId"`
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// reservedUser is the Finesse service's own XMPP user.
const reservedUser = "finesse"

// maxReported bounds the problems listed in one error.
const maxReported = 20

func parse(data []byte, source string) (*Directory, error) {
	where := "directory"
	if source != "" {
		where = "directory " + source
	}
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty", where)
		}
		return nil, fmt.Errorf("%s: %s", where, flattenYAMLError(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: more than one YAML document", where)
	}
	// A second, untyped pass finds the line of each list item, so that a
	// validation error can say where the bad entry is.
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", where, flattenYAMLError(err))
	}
	v := &validator{lines: itemLines(&root)}
	d := v.build(&f)
	if len(v.problems) > 0 {
		list := v.problems
		if len(list) > maxReported {
			list = append(list[:maxReported:maxReported], fmt.Sprintf("and %d more", len(v.problems)-maxReported))
		}
		return nil, fmt.Errorf("%s is invalid: %s", where, strings.Join(list, "; "))
	}
	return newDirectory(d), nil
}

// unknownField matches yaml.v3's report of an unknown key, which names our
// private Go type instead of the key's place in the file.
var unknownField = regexp.MustCompile(`field (\S+) not found in type directory\.\w+`)

// flattenYAMLError puts yaml.v3's multi-line errors on one line and says
// "unknown key" in the file's terms.
func flattenYAMLError(err error) string {
	msg := strings.ReplaceAll(err.Error(), "\n  ", " ")
	return unknownField.ReplaceAllString(msg, `unknown key "$1"`)
}

// itemLines maps each top-level section to the line of each of its items.
func itemLines(root *yaml.Node) map[string][]int {
	out := make(map[string][]int)
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return out
	}
	m := root.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		seq := m.Content[i+1]
		if seq.Kind != yaml.SequenceNode {
			continue
		}
		lines := make([]int, len(seq.Content))
		for j, item := range seq.Content {
			lines[j] = item.Line
		}
		out[m.Content[i].Value] = lines
	}
	return out
}

type validator struct {
	lines    map[string][]int
	problems []string
}

// addf records a problem with the i-th item of section.
func (v *validator) addf(section string, i int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if lines := v.lines[section]; i < len(lines) {
		msg = fmt.Sprintf("line %d: %s", lines[i], msg)
	} else {
		msg = fmt.Sprintf("%s[%d]: %s", section, i, msg)
	}
	v.problems = append(v.problems, msg)
}

func (v *validator) build(f *file) *contents {
	d := &contents{
		passwords: make(map[string][sha256.Size]byte),
		byID:      make(map[string]int),
		teamByID:  make(map[int]int),
		rcByID:    make(map[int]int),
		mrdByID:   make(map[int]int),
		campByID:  make(map[string]int),
		feedByID:  make(map[int]int),
		selByName: make(map[string]int),
	}
	v.teams(d, f.Teams)
	v.users(d, f.Users, f.UserRanges)
	v.reasonCodes(d, f.ReasonCodes)
	v.mrds(d, f.MediaRoutingDomains)
	v.campaigns(d, f.Campaigns)
	v.feeds(d, f.Feeds)
	v.scriptSelectors(d, f.ScriptSelectors)
	return d
}

func (v *validator) teams(d *contents, teams []fileTeam) {
	names := make(map[string]bool)
	for i, t := range teams {
		name := strings.TrimSpace(t.Name)
		switch {
		case t.ID <= 0:
			v.addf("teams", i, "team %q: id must be a positive number, not %d", name, t.ID)
			continue
		case name == "":
			v.addf("teams", i, "team %d: no name", t.ID)
			continue
		}
		if _, dup := d.teamByID[t.ID]; dup {
			v.addf("teams", i, "team %d: duplicate id", t.ID)
			continue
		}
		if names[name] {
			v.addf("teams", i, "team %d: duplicate name %q", t.ID, name)
			continue
		}
		names[name] = true
		d.teamByID[t.ID] = len(d.teams)
		d.teams = append(d.teams, Team{ID: t.ID, Name: name})
	}
}

func parseRole(s string) (Role, bool) {
	for _, r := range []Role{RoleAgent, RoleSupervisor, RoleAdministrator} {
		if strings.EqualFold(s, string(r)) {
			return r, true
		}
	}
	return "", false
}

func (v *validator) users(d *contents, users []fileUser, ranges []fileUserRange) {
	if len(users) == 0 && len(ranges) == 0 {
		v.problems = append(v.problems, "no users: nobody could sign in")
		return
	}
	extensions := make(map[string]string)
	for i, fu := range users {
		v.user(d, fu, extensions, func(format string, args ...any) { v.addf("users", i, format, args...) })
	}
	total := len(d.users)
	for i, r := range ranges {
		fail := func(format string, args ...any) { v.addf("userRanges", i, format, args...) }
		switch {
		case r.From <= 0 || r.To < r.From:
			fail("user range %d-%d: from must be positive and not above to", r.From, r.To)
			continue
		case total+(r.To-r.From+1) > maxUsers:
			fail("user range %d-%d: the directory would hold more than %d users", r.From, r.To, maxUsers)
			continue
		}
		total += r.To - r.From + 1
		first := r.FirstName
		if first == "" {
			first = "Load"
		}
		extFrom := r.ExtensionFrom
		if extFrom <= 0 {
			extFrom = r.From
		}
		before := len(v.problems)
		for n := r.From; n <= r.To && len(v.problems) == before; n++ {
			id := strconv.Itoa(n)
			v.user(d, fileUser{ID: id, Password: r.Password, FirstName: first, LastName: id,
				Role: r.Role, Team: r.Team, Extension: strconv.Itoa(extFrom + n - r.From)}, extensions, fail)
		}
	}
}

// maxUsers bounds the users of one directory, ranges included.
const maxUsers = 200_000

// user validates and adds one user; fail reports a problem with it.
func (v *validator) user(d *contents, fu fileUser, extensions map[string]string, fail func(format string, args ...any)) {
	id := fu.ID
	if id == "" {
		fail("user without an id")
		return
	}
	label := fmt.Sprintf("user %q", id)
	local := strings.ToLower(id)
	if j, err := server.ParseJID(id + "@localhost"); err != nil || j.Local != local || j.Resource != "" {
		fail("%s: the id cannot be an XMPP localpart (no spaces, control characters or any of \"&'/:<>@)", label)
		return
	}
	if local == reservedUser {
		fail("%s: the id %q is reserved for the Finesse service", label, reservedUser)
		return
	}
	if prev, dup := d.byID[local]; dup {
		fail("%s: duplicate id (ids ignore case; %q came first)", label, d.users[prev].ID)
		return
	}
	ok := true
	if fu.Password == "" {
		fail("%s: empty password", label)
		ok = false
	}
	role, known := parseRole(fu.Role)
	if !known {
		fail("%s: role %q is not Agent, Supervisor or Administrator", label, fu.Role)
		ok = false
	}
	switch {
	case fu.Team == 0 && (role == RoleAgent || role == RoleSupervisor):
		fail("%s: role %s needs a team", label, role)
		ok = false
	case fu.Team != 0:
		if _, exists := d.teamByID[fu.Team]; !exists {
			fail("%s: unknown team %d", label, fu.Team)
			ok = false
		}
	}
	if fu.Extension != "" {
		if !validExtension(fu.Extension) {
			fail("%s: extension %q is not a number", label, fu.Extension)
			ok = false
		} else if other, dup := extensions[fu.Extension]; dup {
			fail("%s: extension %s is already user %q's", label, fu.Extension, other)
			ok = false
		}
	}
	supervises := slices.Clone(fu.Supervises)
	if len(supervises) > 0 && role != RoleSupervisor && known {
		fail("%s: only a supervisor supervises teams", label)
		ok = false
	}
	for _, t := range supervises {
		if _, exists := d.teamByID[t]; !exists {
			fail("%s: supervises unknown team %d", label, t)
			ok = false
		}
	}
	if !ok {
		return
	}
	if role == RoleSupervisor && len(supervises) == 0 {
		supervises = []int{fu.Team}
	}
	loginName := fu.LoginName
	if loginName == "" {
		loginName = id
	}
	if fu.Extension != "" {
		extensions[fu.Extension] = id
	}
	d.byID[local] = len(d.users)
	d.passwords[local] = sha256.Sum256([]byte(fu.Password))
	d.users = append(d.users, User{
		ID:              id,
		FirstName:       fu.FirstName,
		LastName:        fu.LastName,
		LoginName:       loginName,
		Role:            role,
		TeamID:          fu.Team,
		Extension:       fu.Extension,
		SupervisedTeams: supervises,
	})
}

// validExtension accepts a dialable number: digits, with a leading + allowed.
func validExtension(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func parseCategory(s string) (Category, bool) {
	for _, c := range []Category{CategoryNotReady, CategoryLogout} {
		if strings.EqualFold(s, string(c)) {
			return c, true
		}
	}
	return "", false
}

func (v *validator) reasonCodes(d *contents, codes []fileReasonCode) {
	type key struct {
		c    Category
		code int
	}
	seen := make(map[key]int)
	for i, fc := range codes {
		if fc.ID <= 0 {
			v.addf("reasonCodes", i, "reason code %q: id must be a positive number, not %d", fc.Label, fc.ID)
			continue
		}
		label := fmt.Sprintf("reason code %d", fc.ID)
		if _, dup := d.rcByID[fc.ID]; dup {
			v.addf("reasonCodes", i, "%s: duplicate id", label)
			continue
		}
		ok := true
		cat, known := parseCategory(fc.Category)
		if !known {
			v.addf("reasonCodes", i, "%s: category %q is not NOT_READY or LOGOUT", label, fc.Category)
			ok = false
		}
		if fc.Code < 1 || fc.Code > 65535 {
			v.addf("reasonCodes", i, "%s: code %d is not in 1..65535", label, fc.Code)
			ok = false
		} else if other, dup := seen[key{cat, fc.Code}]; dup && known {
			v.addf("reasonCodes", i, "%s: code %d is already reason code %d's in %s", label, fc.Code, other, cat)
			ok = false
		}
		if strings.TrimSpace(fc.Label) == "" {
			v.addf("reasonCodes", i, "%s: no label", label)
			ok = false
		}
		if fc.ForAll && len(fc.Teams) > 0 {
			v.addf("reasonCodes", i, "%s: teams are listed but forAll is true", label)
			ok = false
		}
		for _, t := range fc.Teams {
			if _, exists := d.teamByID[t]; !exists {
				v.addf("reasonCodes", i, "%s: unknown team %d", label, t)
				ok = false
			}
		}
		if !ok {
			continue
		}
		seen[key{cat, fc.Code}] = fc.ID
		d.rcByID[fc.ID] = len(d.reasonCodes)
		d.reasonCodes = append(d.reasonCodes, ReasonCode{
			ID:         fc.ID,
			Category:   cat,
			Code:       fc.Code,
			Label:      strings.TrimSpace(fc.Label),
			ForAll:     fc.ForAll,
			Teams:      slices.Clone(fc.Teams),
			SystemCode: fc.SystemCode,
		})
	}
}

// idAndName checks what every numbered, named entry of a section has: a
// positive id not taken yet (taken says whether it is), and a name,
// trimmed, that no earlier entry has (names maps names to ids). It reports
// each problem and returns the entry's label for further messages, its
// name, whether both were right (ok), and whether the id is, so that the
// entry's other fields are worth checking (usable).
func (v *validator) idAndName(section, kind string, i, id int, taken bool, rawName string, names map[string]int) (label, name string, ok, usable bool) {
	if id <= 0 {
		v.addf(section, i, "%s %q: id must be a positive number, not %d", kind, rawName, id)
		return "", "", false, false
	}
	label = fmt.Sprintf("%s %d", kind, id)
	if taken {
		v.addf(section, i, "%s: duplicate id", label)
		return label, "", false, false
	}
	name = strings.TrimSpace(rawName)
	switch other, dup := names[name]; {
	case name == "":
		v.addf(section, i, "%s: no name", label)
		return label, name, false, true
	case dup:
		v.addf(section, i, "%s: name %q is already %s %d's", label, name, kind, other)
		return label, name, false, true
	}
	return label, name, true, true
}

func (v *validator) mrds(d *contents, mrds []fileMRD) {
	names := make(map[string]int)
	voice := 0
	for i, fm := range mrds {
		_, taken := d.mrdByID[fm.ID]
		label, name, ok, usable := v.idAndName("mediaRoutingDomains", "media routing domain", i, fm.ID, taken, fm.Name, names)
		if !usable {
			continue
		}
		limit := fm.MaxDialogLimit
		if limit == 0 {
			limit = 1
		}
		if limit < 1 || limit > 10 {
			v.addf("mediaRoutingDomains", i, "%s: maxDialogLimit %d is not in 1..10", label, fm.MaxDialogLimit)
			ok = false
		}
		if fm.Voice {
			if voice != 0 {
				v.addf("mediaRoutingDomains", i, "%s: media routing domain %d is already the voice one", label, voice)
				ok = false
			}
		}
		if !ok {
			continue
		}
		if fm.Voice {
			voice = fm.ID
		}
		names[name] = fm.ID
		d.mrdByID[fm.ID] = len(d.mrds)
		d.mrds = append(d.mrds, MediaRoutingDomain{
			ID:             fm.ID,
			Name:           name,
			Description:    fm.Description,
			Voice:          fm.Voice,
			Interruptible:  fm.Interruptible,
			MaxDialogLimit: limit,
		})
	}
}

// campaignID is what a campaign public id may hold; it becomes the tail of
// a pubsub node name, ccp.campaign.updates.<publicId>.
var campaignID = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// maxCampaignID bounds a public id so that node names stay short.
const maxCampaignID = 255

func (v *validator) campaigns(d *contents, campaigns []fileCampaign) {
	if campaigns == nil {
		campaigns = []fileCampaign{{PublicID: DefaultCampaign}}
	}
	// Ids are matched exactly, but two that differ only in case would be
	// a trap for whoever types a node name, so they are refused.
	folded := make(map[string]string)
	for i, fc := range campaigns {
		id := fc.PublicID
		switch {
		case id == "":
			v.addf("campaigns", i, "campaign without a publicId")
			continue
		case len(id) > maxCampaignID || !campaignID.MatchString(id):
			v.addf("campaigns", i, "campaign %q: the publicId may hold only letters, digits, '_', '.' and '-' (at most %d)", id, maxCampaignID)
			continue
		}
		if other, dup := folded[strings.ToLower(id)]; dup {
			v.addf("campaigns", i, "campaign %q: duplicate publicId (ids ignore case here; %q came first)", id, other)
			continue
		}
		folded[strings.ToLower(id)] = id
		name := strings.TrimSpace(fc.Name)
		if name == "" {
			name = id
		}
		d.campByID[id] = len(d.campaigns)
		d.campaigns = append(d.campaigns, Campaign{PublicID: id, Name: name, Description: fc.Description})
	}
}

// The default task feed of CCP (seed 000: the Feed GET sample).
const (
	DefaultFeedID          = 100000
	defaultFeedName        = "Cisco_Default_Task_Feed"
	defaultFeedDescription = "Feed for Universal Queuing"
	defaultFeedTag         = "cisco_uq_tag"
)

func (v *validator) feeds(d *contents, feeds []fileFeed) {
	if feeds == nil {
		if len(d.campaigns) == 0 {
			return
		}
		feeds = []fileFeed{{ID: DefaultFeedID, Name: defaultFeedName, Description: defaultFeedDescription,
			Campaign: d.campaigns[0].PublicID, Tags: []string{defaultFeedTag}}}
	}
	names := make(map[string]int)
	for i, ff := range feeds {
		_, taken := d.feedByID[ff.ID]
		label, name, ok, usable := v.idAndName("feeds", "feed", i, ff.ID, taken, ff.Name, names)
		if !usable {
			continue
		}
		if _, exists := d.campByID[ff.Campaign]; !exists {
			v.addf("feeds", i, "%s: unknown campaign %q", label, ff.Campaign)
			ok = false
		}
		if !ok {
			continue
		}
		names[name] = ff.ID
		d.feedByID[ff.ID] = len(d.feeds)
		d.feeds = append(d.feeds, Feed{ID: ff.ID, Name: name, Description: ff.Description,
			Campaign: ff.Campaign, Tags: slices.Clone(ff.Tags)})
	}
}

// maxScriptSelector is the Task API's bound on a scriptSelector.
const maxScriptSelector = 32

func (v *validator) scriptSelectors(d *contents, selectors []fileScriptSelector) {
	for i, fs := range selectors {
		name := fs.Name
		if name == "" || len(name) > maxScriptSelector || strings.TrimSpace(name) != name {
			v.addf("scriptSelectors", i, "script selector %q: the name must be 1 to %d characters without surrounding spaces", name, maxScriptSelector)
			continue
		}
		label := fmt.Sprintf("script selector %q", name)
		if _, dup := d.selByName[name]; dup {
			v.addf("scriptSelectors", i, "%s: duplicate name", label)
			continue
		}
		ok := true
		if fs.SkillGroupID <= 0 {
			v.addf("scriptSelectors", i, "%s: skillGroupId must be a positive number, not %d", label, fs.SkillGroupID)
			ok = false
		}
		if strings.TrimSpace(fs.QueueNumber) == "" || strings.TrimSpace(fs.QueueName) == "" {
			v.addf("scriptSelectors", i, "%s: queueNumber and queueName are required", label)
			ok = false
		}
		if i, exists := d.mrdByID[fs.MRD]; !exists || d.mrds[i].Voice {
			v.addf("scriptSelectors", i, "%s: mrd %d is not a non-voice media routing domain", label, fs.MRD)
			ok = false
		}
		if !ok {
			continue
		}
		dialed := fs.DialedNumber
		if dialed == "" {
			dialed = name
		}
		d.selByName[name] = len(d.selectors)
		d.selectors = append(d.selectors, ScriptSelector{Name: name, DialedNumber: dialed,
			SkillGroupID: fs.SkillGroupID, QueueNumber: strings.TrimSpace(fs.QueueNumber),
			QueueName: strings.TrimSpace(fs.QueueName), MRDID: fs.MRD})
	}
}
