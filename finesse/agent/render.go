package agent

import (
	"strconv"
	"time"
	"unicode/utf8"

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
	b = appendElem(b, "uri", teamURI(team.ID))
	b = appendElem(b, "id", strconv.Itoa(team.ID))
	b = appendElem(b, "name", team.Name)
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
	b = appendAttr(b, string(category))
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
	dst = appendOpen(dst, root)
	dst = appendElem(dst, "dialogs", dialogsURI(id))
	dst = appendElem(dst, "extension", u.extension)
	dst = appendElem(dst, "firstName", u.info().FirstName)
	dst = appendElem(dst, "lastName", u.info().LastName)
	dst = appendElem(dst, "loginId", id)
	dst = appendElem(dst, "loginName", u.info().LoginName)
	dst = appendElem(dst, "pendingState", string(u.pending))
	if u.reason != nil {
		dst = appendReasonCode(dst, *u.reason)
		dst = appendElem(dst, "reasonCodeId", strconv.Itoa(u.reason.ID))
	}
	dst = append(dst, "<roles>"...)
	for _, role := range roles(u.info().Role) {
		dst = appendElem(dst, "role", string(role))
	}
	dst = append(dst, "</roles><settings><wrapUpOnIncoming>OPTIONAL</wrapUpOnIncoming></settings>"...)
	dst = appendElem(dst, "state", string(u.state))
	dst = appendElem(dst, "stateChangeTime", formatTime(u.changed))
	if team, ok := r.dir.Team(u.info().TeamID); ok {
		dst = appendElem(dst, "teamId", strconv.Itoa(team.ID))
		dst = appendElem(dst, "teamName", team.Name)
	} else {
		dst = append(dst, "<teamId></teamId><teamName></teamName>"...)
	}
	dst = appendElem(dst, "uri", finesse.UserNode(id))
	return appendClose(dst, root)
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
	dst = appendOpen(dst, root)
	dst = appendElem(dst, "uri", finesse.UserNode(id))
	dst = appendElem(dst, "loginId", id)
	dst = appendElem(dst, "firstName", u.info().FirstName)
	dst = appendElem(dst, "lastName", u.info().LastName)
	dst = appendElem(dst, "dialogs", dialogsURI(id))
	dst = appendElem(dst, "extension", u.extension)
	dst = appendElem(dst, "pendingState", string(u.pending))
	dst = appendElem(dst, "state", string(u.state))
	dst = appendElem(dst, "stateChangeTime", formatTime(u.changed))
	if u.reason != nil {
		dst = appendReasonCode(dst, *u.reason)
	}
	return appendClose(dst, root)
}

// appendMedia appends the user's Media object of one MRD, in the order of
// Cisco's example, with interruptAction (the sign-in option a client
// compares after a failover) in its alphabetical place. The owner's lock
// is held.
func appendMedia(dst []byte, userID string, m *media) []byte {
	dst = append(dst, "<Media>"...)
	dst = appendElem(dst, "uri", mediaURI(userID, m.mrd.ID))
	dst = appendElem(dst, "description", m.mrd.Description)
	dst = appendElem(dst, "dialogLogoutAction", m.dialogLogoutAction)
	dst = appendElem(dst, "id", strconv.Itoa(m.mrd.ID))
	dst = appendElem(dst, "interruptAction", m.interruptAction)
	dst = appendElem(dst, "interruptible", strconv.FormatBool(m.mrd.Interruptible))
	dst = appendElem(dst, "maxDialogLimit", strconv.Itoa(m.maxDialogLimit))
	dst = appendElem(dst, "name", m.mrd.Name)
	if m.reason != nil && m.state == StateNotReady {
		dst = appendReasonCode(dst, *m.reason)
		dst = appendElem(dst, "reasonCodeId", strconv.Itoa(m.reason.ID))
	}
	dst = appendElem(dst, "routable", strconv.FormatBool(m.routable))
	dst = appendElem(dst, "state", string(m.state))
	dst = appendElem(dst, "stateChangeTime", formatTime(m.changed))
	return append(dst, "</Media>"...)
}

// appendReasonCode appends a ReasonCode inside a User or Media, children
// in alphabetical order as in Cisco's Media example.
func appendReasonCode(dst []byte, rc directory.ReasonCode) []byte {
	dst = append(dst, "<ReasonCode>"...)
	dst = appendElem(dst, "category", string(rc.Category))
	dst = appendElem(dst, "code", strconv.Itoa(rc.Code))
	dst = appendElem(dst, "forAll", strconv.FormatBool(rc.ForAll))
	dst = appendElem(dst, "id", strconv.Itoa(rc.ID))
	dst = appendElem(dst, "label", rc.Label)
	dst = appendElem(dst, "uri", reasonCodePrefix+strconv.Itoa(rc.ID))
	return append(dst, "</ReasonCode>"...)
}

// appendReasonCodeListed appends a ReasonCode of the ReasonCodes list, in
// the order of Cisco's ReasonCodes example.
func appendReasonCodeListed(dst []byte, rc directory.ReasonCode) []byte {
	dst = append(dst, "<ReasonCode>"...)
	dst = appendElem(dst, "uri", reasonCodePrefix+strconv.Itoa(rc.ID))
	dst = appendElem(dst, "category", string(rc.Category))
	dst = appendElem(dst, "code", strconv.Itoa(rc.Code))
	dst = appendElem(dst, "label", rc.Label)
	dst = appendElem(dst, "forAll", strconv.FormatBool(rc.ForAll))
	dst = appendElem(dst, "id", strconv.Itoa(rc.ID))
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
	b := append([]byte(nil), "<apiErrors><apiError>"...)
	b = appendElem(b, "errorData", alreadyLoggedInData)
	b = appendElem(b, "errorMedia", strconv.Itoa(mrdID))
	b = appendElem(b, "errorMessage", alreadyLoggedInMessage)
	b = appendElem(b, "errorType", alreadyLoggedInType)
	return append(b, "</apiError></apiErrors>"...)
}

func appendOpen(dst []byte, name string) []byte {
	dst = append(dst, '<')
	dst = append(dst, name...)
	return append(dst, '>')
}

func appendClose(dst []byte, name string) []byte {
	dst = append(dst, "</"...)
	dst = append(dst, name...)
	return append(dst, '>')
}

// appendElem appends <name>text</name>, text escaped.
func appendElem(dst []byte, name, text string) []byte {
	dst = appendOpen(dst, name)
	dst = appendText(dst, text)
	return appendClose(dst, name)
}

// appendText appends s as XML character data: &, < and > escaped, CR as
// &#xD; (so a parser's line-end normalisation keeps it), and U+FFFD for
// what XML 1.0 cannot carry (control characters, invalid UTF-8), so that
// the document is always well-formed.
func appendText(dst []byte, s string) []byte { return appendEscaped(dst, s, false) }

// appendAttr appends s as the value of a double-quoted attribute.
func appendAttr(dst []byte, s string) []byte { return appendEscaped(dst, s, true) }

func appendEscaped(dst []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '&':
				dst = append(dst, "&amp;"...)
			case c == '<':
				dst = append(dst, "&lt;"...)
			case c == '>':
				dst = append(dst, "&gt;"...)
			case c == '"' && attr:
				dst = append(dst, "&quot;"...)
			case c == '\r':
				dst = append(dst, "&#xD;"...)
			case c == '\t' && attr:
				dst = append(dst, "&#x9;"...)
			case c == '\n' && attr:
				dst = append(dst, "&#xA;"...)
			case c < 0x20 && c != '\t' && c != '\n':
				dst = utf8.AppendRune(dst, utf8.RuneError)
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || (r >= 0xFFFE && r <= 0xFFFF) {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}
