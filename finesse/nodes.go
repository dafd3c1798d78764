package finesse

import (
	"strconv"
	"strings"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
)

// Node names are the REST URLs of the resources they notify about
// (FINESSE-REFERENCE §2), plus CCP's campaign feeds.
const (
	userPrefix = "/finesse/api/User/"
	teamPrefix = "/finesse/api/Team/"
	// SystemInfoNode carries SystemInfo (IN_SERVICE / OUT_OF_SERVICE).
	SystemInfoNode = "/finesse/api/SystemInfo"
	// CampaignNodePrefix starts a Customer Collaboration Platform
	// campaign's task status feed.
	CampaignNodePrefix = "ccp.campaign.updates."
)

// UserNode is the node of the User object id: /finesse/api/User/<id>.
func UserNode(id string) string { return userPrefix + id }

// UserDialogsNode carries the user's voice dialogs.
func UserDialogsNode(id string) string { return userPrefix + id + "/Dialogs" }

// UserDialogsMediaNode carries the user's non-voice (task) dialogs.
func UserDialogsMediaNode(id string) string { return userPrefix + id + "/Dialogs/Media" }

// UserMediaNode carries the user's per-MRD state.
func UserMediaNode(id string) string { return userPrefix + id + "/Media" }

// UserQueuesNode carries the queues added to and removed from the user.
func UserQueuesNode(id string) string { return userPrefix + id + "/Queues" }

// TeamUsersNode carries the team's users, for its supervisors.
func TeamUsersNode(teamID int) string { return teamPrefix + strconv.Itoa(teamID) + "/Users" }

// CampaignNode is the CCP task status feed of campaign publicID.
func CampaignNode(publicID string) string { return CampaignNodePrefix + publicID }

// NodeKind says which of Finesse's nodes a name is.
type NodeKind int

// The kinds of Finesse node.
const (
	KindUser NodeKind = iota + 1
	KindUserDialogs
	KindUserDialogsMedia
	KindUserMedia
	KindUserQueues
	KindTeamUsers
	KindSystemInfo
	KindCampaign
)

var kindNames = [...]string{
	KindUser:             "User",
	KindUserDialogs:      "User/Dialogs",
	KindUserDialogsMedia: "User/Dialogs/Media",
	KindUserMedia:        "User/Media",
	KindUserQueues:       "User/Queues",
	KindTeamUsers:        "Team/Users",
	KindSystemInfo:       "SystemInfo",
	KindCampaign:         "Campaign",
}

func (k NodeKind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "NodeKind(" + strconv.Itoa(int(k)) + ")"
}

// IsUserNode reports whether k is one of a user's own nodes.
func (k NodeKind) IsUserNode() bool { return k >= KindUser && k <= KindUserQueues }

// Node is a parsed node name.
type Node struct {
	Kind NodeKind
	// UserID is the user id as written in the name, for the user kinds.
	UserID string
	// TeamID is the team, for KindTeamUsers.
	TeamID int
	// Campaign is the campaign public id, for KindCampaign.
	Campaign string
}

// Name renders n back into its node name.
func (n Node) Name() string {
	switch n.Kind {
	case KindUser:
		return UserNode(n.UserID)
	case KindUserDialogs:
		return UserDialogsNode(n.UserID)
	case KindUserDialogsMedia:
		return UserDialogsMediaNode(n.UserID)
	case KindUserMedia:
		return UserMediaNode(n.UserID)
	case KindUserQueues:
		return UserQueuesNode(n.UserID)
	case KindTeamUsers:
		return TeamUsersNode(n.TeamID)
	case KindSystemInfo:
		return SystemInfoNode
	case KindCampaign:
		return CampaignNode(n.Campaign)
	}
	return ""
}

// userSuffixes maps what follows /finesse/api/User/<id> to the node kind.
var userSuffixes = map[string]NodeKind{
	"":               KindUser,
	"/Dialogs":       KindUserDialogs,
	"/Dialogs/Media": KindUserDialogsMedia,
	"/Media":         KindUserMedia,
	"/Queues":        KindUserQueues,
}

// ParseNode recognises one of Finesse's node names. It checks the shape
// only (a user id that could be a directory id, a canonical team number, a
// campaign id in [A-Za-z0-9_.-]+); whether the user, team or campaign
// exists is the Resolver's business. Names are case-sensitive, as URL
// paths are: /finesse/api/user/1001 is not a Finesse node.
func ParseNode(name string) (Node, bool) {
	switch {
	case name == SystemInfoNode:
		return Node{Kind: KindSystemInfo}, true
	case strings.HasPrefix(name, userPrefix):
		rest := name[len(userPrefix):]
		id, suffix := rest, ""
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			id, suffix = rest[:i], rest[i:]
		}
		kind, ok := userSuffixes[suffix]
		if !ok || !plausibleUserID(id) {
			return Node{}, false
		}
		return Node{Kind: kind, UserID: id}, true
	case strings.HasPrefix(name, teamPrefix):
		num, ok := strings.CutSuffix(name[len(teamPrefix):], "/Users")
		if !ok {
			return Node{}, false
		}
		id, ok := parseTeamID(num)
		if !ok {
			return Node{}, false
		}
		return Node{Kind: KindTeamUsers, TeamID: id}, true
	case strings.HasPrefix(name, CampaignNodePrefix):
		id := name[len(CampaignNodePrefix):]
		if !validCampaignID(id) {
			return Node{}, false
		}
		return Node{Kind: KindCampaign, Campaign: id}, true
	}
	return Node{}, false
}

// plausibleUserID accepts what a directory id may be: a non-empty XMPP
// localpart, so no space, control character or any of "&'/:<>@.
func plausibleUserID(id string) bool {
	if id == "" || len(id) > 1023 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || strings.ContainsRune("\"&'/:<>@", r) {
			return false
		}
	}
	return true
}

// parseTeamID accepts a team id written canonically: a positive decimal
// number without sign or leading zeros, so that each team has one node.
func parseTeamID(s string) (int, bool) {
	if s == "" || s[0] == '0' || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func validCampaignID(id string) bool {
	if id == "" || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Resolver returns the pubsub.Resolver of Finesse's implicit nodes: a node
// exists without a create when its name parses and names a user, team or
// campaign of dir. SystemInfo always exists.
//
// Case rule: the user id in a node must be written exactly as in the
// directory (the id in REST URLs), so /finesse/api/User/JSmith exists and
// /finesse/api/User/jsmith does not when the directory says "JSmith". XMPP
// lower-cases the JID localpart, but a node name is a URL path, and one
// spelling per user keeps every publisher and subscriber on the same
// node. Campaign ids match exactly too; team ids are canonical numbers.
func Resolver(dir *directory.Directory) pubsub.Resolver {
	return func(name string) bool {
		n, ok := ParseNode(name)
		if !ok {
			return false
		}
		return nodeInDirectory(dir, n)
	}
}

func nodeInDirectory(dir *directory.Directory, n Node) bool {
	switch {
	case n.Kind.IsUserNode():
		u, ok := dir.User(n.UserID)
		return ok && u.ID == n.UserID
	case n.Kind == KindTeamUsers:
		_, ok := dir.Team(n.TeamID)
		return ok
	case n.Kind == KindSystemInfo:
		return true
	case n.Kind == KindCampaign:
		_, ok := dir.Campaign(n.Campaign)
		return ok
	}
	return false
}
