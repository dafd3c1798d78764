package finesse

import (
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
)

// policy is Finesse's pubsub access control. Finesse documents REST
// security (agents act on their own objects, supervisors on their teams')
// but no pubsub ACL, so the rules follow the REST ones:
//   - an agent may subscribe to its own user nodes and to SystemInfo;
//   - a supervisor also to Team/<id>/Users of the teams it supervises and
//     to the user nodes of those teams' members;
//   - an administrator to everything, and only administrators to campaign
//     nodes;
//   - only administrators publish, create, delete and purge.
//
// A requester who is not in the directory (the JID's localpart is not a
// user id) gets nothing.
type policy struct {
	dir *directory.Directory
}

// NewPolicy returns the Finesse access policy over dir.
func NewPolicy(dir *directory.Directory) pubsub.Policy { return policy{dir: dir} }

var _ pubsub.Policy = policy{}

// requester finds the user behind a bare JID. The localpart is the
// lower-cased id; directory lookups ignore case.
func (p policy) requester(user server.JID) (directory.User, bool) {
	if user.Local == "" {
		return directory.User{}, false
	}
	return p.dir.User(user.Local)
}

func (p policy) isAdministrator(user server.JID) bool {
	u, ok := p.requester(user)
	return ok && u.Role == directory.RoleAdministrator
}

// MaySubscribe covers subscribe, items retrieval and node disco#info.
func (p policy) MaySubscribe(user server.JID, node string) bool {
	u, ok := p.requester(user)
	if !ok {
		return false
	}
	if u.Role == directory.RoleAdministrator {
		return true
	}
	n, ok := ParseNode(node)
	if !ok {
		// Not a Finesse node: an administrator's own creation.
		return false
	}
	switch {
	case n.Kind == KindSystemInfo:
		return true
	case n.Kind.IsUserNode():
		// u.ID is the directory's spelling; the node must use it too.
		if n.UserID == u.ID {
			return true
		}
		if !u.IsSupervisor() {
			return false
		}
		member, ok := p.dir.User(n.UserID)
		return ok && member.ID == n.UserID && u.Supervises(member.TeamID)
	case n.Kind == KindTeamUsers:
		return u.Supervises(n.TeamID)
	}
	// Campaign nodes: administrators only.
	return false
}

// MayPublish: administrators only.
func (p policy) MayPublish(user server.JID, _ string) bool { return p.isAdministrator(user) }

// MayCreate: administrators only.
func (p policy) MayCreate(user server.JID, _ string) bool { return p.isAdministrator(user) }

// MayAdminister (delete, purge): administrators only.
func (p policy) MayAdminister(user server.JID, _ string) bool { return p.isAdministrator(user) }
