package agent

import (
	"strconv"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Finesse writes object children in alphabetical order (FINESSE-REFERENCE
// §3.2); the renderers below follow §3.3 and §4 field by field. Roots are
// capitalised in REST answers (<User>, <Media>) and lower-case in the
// data of a User or Team notification (<user>), as real Finesse sends
// them; <Media> keeps its capital in notifications too, as in Cisco's
// example.

// stateChangeTimeLayout is ISO-8601 in UTC with milliseconds.
const stateChangeTimeLayout = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(stateChangeTimeLayout) }

const (
	apiPrefix        = "/finesse/api/"
	reasonCodePrefix = apiPrefix + "ReasonCode/"
)

func dialogsURI(userID string) string { return finesse.UserDialogsNode(userID) }

func mediaURI(userID string, mrdID int) string {
	return finesse.UserMediaNode(userID) + "/" + strconv.Itoa(mrdID)
}

func teamURI(teamID int) string { return apiPrefix + "Team/" + strconv.Itoa(teamID) }

// UserXML renders GET /finesse/api/User/<id>: <User>…</User>.
func (r *Registry) UserXML(id string) ([]byte, bool) {
	u := r.user(id)
	if u == nil {
		return nil, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return r.appendUser(nil, "User", u), true
}

// MediaXML renders GET /finesse/api/User/<id>/Media/<mrdId>: <Media>…</Media>.
// The voice MRD has no Media object.
func (r *Registry) MediaXML(id string, mrdID int) ([]byte, bool) {
	u := r.user(id)
	if u == nil {
		return nil, false
	}
	m := u.mediaOf(mrdID)
	if m == nil {
		return nil, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return appendMedia(nil, u.info().ID, m), true
}

// MediaListXML renders GET /finesse/api/User/<id>/Media: every non-voice
// MRD, <MediaList><Media>…</Media>…</MediaList>.
func (r *Registry) MediaListXML(id string) ([]byte, bool) {
	u := r.user(id)
	if u == nil {
		return nil, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	b := append([]byte(nil), "<MediaList>"...)
	for _, m := range u.media {
		b = appendMedia(b, u.info().ID, m)
	}
	return append(b, "</MediaList>"...), true
}

// TeamXML renders GET /finesse/api/Team/<id>: <Team> with the summary
// <User> of each member, in directory order. Each member is read under
// its own lock, so the list is consistent per user, not across users.
func (r *Registry) TeamXML(teamID int) ([]byte, bool) {
	team, ok := r.dir.Team(teamID)
	if !ok {
		return nil, false
	}
	b := append([]byte(nil), "<Team>"...)
	b = finesse.AppendElem(b, "uri", teamURI(team.ID))
	b = finesse.AppendElem(b, "id", strconv.Itoa(team.ID))
	b = finesse.AppendElem(b, "name", team.Name)
	b = append(b, "<users>"...)
	for _, info := range r.dir.TeamMembers(team.ID) {
		u := r.user(info.ID)
		u.mu.Lock()
		b = appendTeamUser(b, "User", u)
		u.mu.Unlock()
	}
	return append(b, "</users></Team>"...), true
}

// ReasonCodesXML renders GET /finesse/api/User/<id>/ReasonCodes?category=…:
// the codes of category the user may choose,
// <ReasonCodes category="…"><ReasonCode>…</ReasonCode>…</ReasonCodes>. It
// reports false for an unknown user and for a category other than
// NOT_READY and LOGOUT.
func (r *Registry) ReasonCodesXML(id string, category directory.Category) ([]byte, bool) {
	u := r.user(id)
	if u == nil || (category != directory.CategoryNotReady && category != directory.CategoryLogout) {
		return nil, false
	}
	b := append([]byte(nil), `<ReasonCodes category="`...)
	b = finesse.AppendAttr(b, string(category))
	b = append(b, `">`...)
	for _, rc := range r.dir.ReasonCodesFor(u.info().ID, category) {
		b = appendReasonCodeListed(b, rc)
	}
	return append(b, "</ReasonCodes>"...), true
}

// DialogsXML renders GET /finesse/api/User/<id>/Dialogs: no dialogs yet.
func (r *Registry) DialogsXML(id string) ([]byte, bool) {
	if r.user(id) == nil {
		return nil, false
	}
	return []byte("<Dialogs/>"), true
}

// appendUser appends the full User object under root ("User" for REST,
// "user" for notifications). u.mu is held.
func (r *Registry) appendUser(dst []byte, root string, u *user) []byte {
	id := u.info().ID
	dst = finesse.AppendOpen(dst, root)
	dst = finesse.AppendElem(dst, "dialogs", dialogsURI(id))
	dst = finesse.AppendElem(dst, "extension", u.extension)
	dst = finesse.AppendElem(dst, "firstName", u.info().FirstName)
	dst = finesse.AppendElem(dst, "lastName", u.info().LastName)
	dst = finesse.AppendElem(dst, "loginId", id)
	dst = finesse.AppendElem(dst, "loginName", u.info().LoginName)
	dst = finesse.AppendElem(dst, "pendingState", string(u.pending))
	if u.reason != nil {
		dst = appendReasonCode(dst, *u.reason)
		dst = finesse.AppendElem(dst, "reasonCodeId", strconv.Itoa(u.reason.ID))
	}
	dst = append(dst, "<roles>"...)
	for _, role := range roles(u.info().Role) {
		dst = finesse.AppendElem(dst, "role", string(role))
	}
	dst = append(dst, "</roles><settings><wrapUpOnIncoming>OPTIONAL</wrapUpOnIncoming></settings>"...)
	dst = finesse.AppendElem(dst, "state", string(u.state))
	dst = finesse.AppendElem(dst, "stateChangeTime", formatTime(u.changed))
	if team, ok := r.dir.Team(u.info().TeamID); ok {
		dst = finesse.AppendElem(dst, "teamId", strconv.Itoa(team.ID))
		dst = finesse.AppendElem(dst, "teamName", team.Name)
	} else {
		dst = append(dst, "<teamId></teamId><teamName></teamName>"...)
	}
	dst = finesse.AppendElem(dst, "uri", finesse.UserNode(id))
	return finesse.AppendClose(dst, root)
}

// roles lists a user's Finesse roles: a supervisor is an agent too.
func roles(r directory.Role) []directory.Role {
	if r == directory.RoleSupervisor {
		return []directory.Role{directory.RoleAgent, directory.RoleSupervisor}
	}
	return []directory.Role{r}
}

// appendTeamUser appends the summary of a team member, in the order of
// Cisco's Team documentation. u.mu is held.
func appendTeamUser(dst []byte, root string, u *user) []byte {
	id := u.info().ID
	dst = finesse.AppendOpen(dst, root)
	dst = finesse.AppendElem(dst, "uri", finesse.UserNode(id))
	dst = finesse.AppendElem(dst, "loginId", id)
	dst = finesse.AppendElem(dst, "firstName", u.info().FirstName)
	dst = finesse.AppendElem(dst, "lastName", u.info().LastName)
	dst = finesse.AppendElem(dst, "dialogs", dialogsURI(id))
	dst = finesse.AppendElem(dst, "extension", u.extension)
	dst = finesse.AppendElem(dst, "pendingState", string(u.pending))
	dst = finesse.AppendElem(dst, "state", string(u.state))
	dst = finesse.AppendElem(dst, "stateChangeTime", formatTime(u.changed))
	if u.reason != nil {
		dst = appendReasonCode(dst, *u.reason)
	}
	return finesse.AppendClose(dst, root)
}

// appendMedia appends the user's Media object of one MRD, in the order of
// Cisco's example, with interruptAction (the sign-in option a client
// compares after a failover) in its alphabetical place. The owner's lock
// is held.
func appendMedia(dst []byte, userID string, m *media) []byte {
	dst = append(dst, "<Media>"...)
	dst = finesse.AppendElem(dst, "uri", mediaURI(userID, m.mrd.ID))
	dst = finesse.AppendElem(dst, "description", m.mrd.Description)
	dst = finesse.AppendElem(dst, "dialogLogoutAction", m.dialogLogoutAction)
	dst = finesse.AppendElem(dst, "id", strconv.Itoa(m.mrd.ID))
	dst = finesse.AppendElem(dst, "interruptAction", m.interruptAction)
	dst = finesse.AppendElem(dst, "interruptible", strconv.FormatBool(m.mrd.Interruptible))
	dst = finesse.AppendElem(dst, "maxDialogLimit", strconv.Itoa(m.maxDialogLimit))
	dst = finesse.AppendElem(dst, "name", m.mrd.Name)
	if m.reason != nil && m.state == StateNotReady {
		dst = appendReasonCode(dst, *m.reason)
		dst = finesse.AppendElem(dst, "reasonCodeId", strconv.Itoa(m.reason.ID))
	}
	dst = finesse.AppendElem(dst, "routable", strconv.FormatBool(m.routable))
	dst = finesse.AppendElem(dst, "state", string(m.state))
	dst = finesse.AppendElem(dst, "stateChangeTime", formatTime(m.changed))
	return append(dst, "</Media>"...)
}

// appendReasonCode appends a ReasonCode inside a User or Media, children
// in alphabetical order as in Cisco's Media example.
func appendReasonCode(dst []byte, rc directory.ReasonCode) []byte {
	dst = append(dst, "<ReasonCode>"...)
	dst = finesse.AppendElem(dst, "category", string(rc.Category))
	dst = finesse.AppendElem(dst, "code", strconv.Itoa(rc.Code))
	dst = finesse.AppendElem(dst, "forAll", strconv.FormatBool(rc.ForAll))
	dst = finesse.AppendElem(dst, "id", strconv.Itoa(rc.ID))
	dst = finesse.AppendElem(dst, "label", rc.Label)
	dst = finesse.AppendElem(dst, "uri", reasonCodePrefix+strconv.Itoa(rc.ID))
	return append(dst, "</ReasonCode>"...)
}

// appendReasonCodeListed appends a ReasonCode of the ReasonCodes list, in
// the order of Cisco's ReasonCodes example.
func appendReasonCodeListed(dst []byte, rc directory.ReasonCode) []byte {
	dst = append(dst, "<ReasonCode>"...)
	dst = finesse.AppendElem(dst, "uri", reasonCodePrefix+strconv.Itoa(rc.ID))
	dst = finesse.AppendElem(dst, "category", string(rc.Category))
	dst = finesse.AppendElem(dst, "code", strconv.Itoa(rc.Code))
	dst = finesse.AppendElem(dst, "label", rc.Label)
	dst = finesse.AppendElem(dst, "forAll", strconv.FormatBool(rc.ForAll))
	dst = finesse.AppendElem(dst, "id", strconv.Itoa(rc.ID))
	return append(dst, "</ReasonCode>"...)
}

// Finesse's asynchronous error for a second sign-in to an MRD
// (FINESSE-REFERENCE §3.3, §4.3).
const (
	alreadyLoggedInData    = "1"
	alreadyLoggedInMessage = "E_ARM_STAT_AGENT_ALREADY_LOGGED_IN"
	alreadyLoggedInType    = "Agent already logged into MRD"
)

// alreadyLoggedInError is the <apiErrors> data of that error.
func alreadyLoggedInError(mrdID int) []byte {
	return finesse.MediaAPIError(mrdID, alreadyLoggedInData, alreadyLoggedInMessage, alreadyLoggedInType)
}
