package rest

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// authRealm is the realm of the Basic challenge.
const authRealm = `Basic realm="finesse-notify", charset="UTF-8"`

// authenticator checks HTTP Basic credentials against the directory and
// locks a user id out after maxFailures consecutive wrong passwords, for
// lockFor, as Finesse does (five failures, five minutes: DG125#333).
//
// Only directory users are tracked, so the table is bounded by the
// directory however many names an attacker tries.
type authenticator struct {
	dir         *directory.Directory
	maxFailures int
	lockFor     time.Duration
	now         func() time.Time
	log         *zap.Logger
	metrics     *metrics

	mu sync.Mutex
	// failures is keyed by the lower-case user id.
	failures map[string]*failures
}

// failures is one user's run of wrong passwords.
type failures struct {
	count int
	// lockedUntil is set once count reaches maxFailures.
	lockedUntil time.Time
}

func newAuthenticator(cfg Config, m *metrics) *authenticator {
	return &authenticator{
		dir:         cfg.Directory,
		maxFailures: cfg.MaxFailures,
		lockFor:     cfg.Lockout,
		now:         cfg.Now,
		log:         cfg.Logger,
		metrics:     m,
		failures:    make(map[string]*failures),
	}
}

// authenticate returns the user whose Basic credentials r carries. It
// answers the 401 itself (with the challenge) and reports false when
// there are none, they are wrong, or the user is locked out; a locked
// user is refused even with the right password, and the answer does not
// say which of these it was.
func (a *authenticator) authenticate(w http.ResponseWriter, r *http.Request) (directory.User, bool) {
	name, password, present := r.BasicAuth()
	if !present {
		challenge(w, "Missing or unreadable Basic credentials")
		return directory.User{}, false
	}
	user, ok := a.check(name, password)
	if !ok {
		challenge(w, "Invalid user id or password")
		return directory.User{}, false
	}
	return user, true
}

// check verifies one id and password, keeping the failure count.
func (a *authenticator) check(name, password string) (directory.User, bool) {
	// The password is always compared, locked or not, so that the time
	// taken does not tell a locked account from a wrong password.
	_, match := a.dir.Authenticate(name, password)
	user, known := a.dir.User(name)
	if !known {
		return directory.User{}, false
	}
	key := strings.ToLower(user.ID)
	now := a.now()

	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failures[key]
	if f != nil && !f.lockedUntil.IsZero() {
		if now.Before(f.lockedUntil) {
			// Attempts while locked neither count nor extend the lock.
			a.log.Debug("REST sign-in refused: locked out", zap.String("user", user.ID),
				zap.Time("until", f.lockedUntil))
			return directory.User{}, false
		}
		delete(a.failures, key)
		f = nil
	}
	if match {
		delete(a.failures, key)
		return user, true
	}
	if f == nil {
		f = &failures{}
		a.failures[key] = f
	}
	f.count++
	if f.count >= a.maxFailures {
		f.lockedUntil = now.Add(a.lockFor)
		a.metrics.lockouts.Inc()
		a.log.Info("REST user locked out after repeated wrong passwords", zap.String("user", user.ID),
			zap.Int("failures", f.count), zap.Duration("for", a.lockFor))
	}
	return directory.User{}, false
}

// challenge answers 401 Authorization Failure with a Basic challenge.
func challenge(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", authRealm)
	writeAPIError(w, apiError{status: http.StatusUnauthorized, errType: errAuthorizationFailure, message: message})
}

// isAdministrator reports whether u administers the system.
func isAdministrator(u directory.User) bool { return u.Role == directory.RoleAdministrator }

// access is what a caller is to the user named in a URI.
type access int

const (
	accessNone access = iota
	accessSelf
	accessSupervisor
	accessAdministrator
)

// accessTo says how caller relates to target: the user itself, the
// supervisor of its team, an administrator, or none of these. A caller
// acting on its own URI is always "self", whatever its role.
func accessTo(caller, target directory.User) access {
	switch {
	case strings.EqualFold(caller.ID, target.ID):
		return accessSelf
	case target.TeamID != 0 && caller.Supervises(target.TeamID):
		return accessSupervisor
	case isAdministrator(caller):
		return accessAdministrator
	}
	return accessNone
}

// invalidUser is the 401 for a URI of a user the caller may not act on
// (DG125#7). It carries no challenge: the credentials are right, and a
// challenge would only make a browser prompt for other ones.
func invalidUser(id string) apiError {
	return apiError{status: http.StatusUnauthorized, errType: errInvalidUser,
		message: "The authenticated user may not act on this user", data: id}
}
