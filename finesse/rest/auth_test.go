package rest

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestAuthenticationFailures(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name string
		r    req
	}{
		{"no credentials", req{method: http.MethodGet, path: "/finesse/api/User/1001"}},
		{"wrong password", req{method: http.MethodGet, path: "/finesse/api/User/1001", user: "1001", pass: "wrong"}},
		{"unknown user", req{method: http.MethodGet, path: "/finesse/api/User/1001", user: "9999"}},
		{"not Basic", req{method: http.MethodGet, path: "/finesse/api/User/1001",
			header: map[string]string{"Authorization": "Bearer abc"}}},
		{"bad base64", req{method: http.MethodGet, path: "/finesse/api/User/1001",
			header: map[string]string{"Authorization": "Basic !!!"}}},
		{"SystemInfo too", req{method: http.MethodGet, path: "/finesse/api/SystemInfo", user: "1001", pass: "wrong"}},
		{"PUT changes nothing", req{method: http.MethodPut, path: "/finesse/api/User/1001", user: "1001", pass: "wrong",
			body: "<User><state>LOGIN</state><extension>3001</extension></User>"}},
		{"unknown path", req{method: http.MethodGet, path: "/finesse/api/Nothing"}},
		{"control", req{method: http.MethodPost, path: "/finesse-notify/control/system?status=OUT_OF_SERVICE"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(c.r)
			wantAPIError(t, r, http.StatusUnauthorized, "Authorization Failure", "", "")
			if got := r.header.Get("WWW-Authenticate"); got != authRealm {
				t.Errorf("WWW-Authenticate %q, want %q", got, authRealm)
			}
		})
	}
	h.wantState("1001", "LOGOUT")
	h.wantNothingPublished()
	if h.api.outOfService() {
		t.Error("an unauthenticated control call changed the status")
	}
	// The user id is matched whatever its case, as the directory does.
	if r := h.get("admin", "/finesse/api/SystemInfo"); r.status != http.StatusOK {
		t.Errorf("admin in lower case: %d %s", r.status, r.body)
	}
}

// TestLockout: the fifth wrong password in a row locks the id out for five
// minutes (the defaults), even with the right password; a success before
// that resets the count; the lock ends on time; other users are not
// affected.
func TestLockout(t *testing.T) {
	h := newHarness(t, nil)
	wrong := req{method: http.MethodGet, path: "/finesse/api/User/1001", user: "1001", pass: "wrong"}
	right := req{method: http.MethodGet, path: "/finesse/api/User/1001", user: "1001"}

	for range DefaultMaxFailures - 1 {
		wantAPIError(t, h.do(wrong), http.StatusUnauthorized, "Authorization Failure", "", "")
	}
	if r := h.do(right); r.status != http.StatusOK {
		t.Fatalf("right password after %d failures: %d %s", DefaultMaxFailures-1, r.status, r.body)
	}
	// The success reset the count: four more failures do not lock.
	for range DefaultMaxFailures - 1 {
		h.do(wrong)
	}
	if r := h.do(right); r.status != http.StatusOK {
		t.Fatalf("count not reset by a success: %d", r.status)
	}

	for range DefaultMaxFailures {
		h.do(wrong)
	}
	r := h.do(right)
	wantAPIError(t, r, http.StatusUnauthorized, "Authorization Failure", "", "")
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("locked-out 401 without a challenge")
	}
	// Other ids are judged apart.
	if r := h.get("1002", "/finesse/api/User/1002"); r.status != http.StatusOK {
		t.Errorf("1002 affected by 1001's lockout: %d", r.status)
	}
	h.clock.Advance(DefaultLockout - time.Millisecond)
	if r := h.do(right); r.status != http.StatusUnauthorized {
		t.Errorf("1 ms before the lock ends: %d, want 401", r.status)
	}
	h.clock.Advance(time.Millisecond)
	if r := h.do(right); r.status != http.StatusOK {
		t.Errorf("when the lock ends: %d %s, want 200", r.status, r.body)
	}
	if n := h.counter("finesse_notify_rest_lockouts_total", nil); n != 1 {
		t.Errorf("lockouts metric %v, want 1", n)
	}
}

// TestLockoutConfigured: MaxFailures and Lockout are configuration;
// attempts while locked neither count nor extend the lock; after it ends
// the count starts again from zero.
func TestLockoutConfigured(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.MaxFailures = 2
		c.Lockout = time.Minute
	})
	wrong := req{method: http.MethodGet, path: "/finesse/api/SystemInfo", user: "Admin", pass: "nope"}
	right := req{method: http.MethodGet, path: "/finesse/api/SystemInfo", user: "ADMIN"}
	h.do(wrong)
	if r := h.do(right); r.status != http.StatusOK {
		t.Fatalf("after one failure of two: %d", r.status)
	}
	h.do(wrong)
	h.do(wrong)
	h.clock.Advance(30 * time.Second)
	h.do(wrong) // while locked: does not extend the lock
	if r := h.do(right); r.status != http.StatusUnauthorized {
		t.Fatalf("locked: %d, want 401", r.status)
	}
	h.clock.Advance(30 * time.Second)
	if r := h.do(right); r.status != http.StatusOK {
		t.Fatalf("a minute after the lock: %d, want 200", r.status)
	}
	// The count restarted: one failure does not lock.
	h.do(wrong)
	if r := h.do(right); r.status != http.StatusOK {
		t.Fatalf("one failure after the lock: %d, want 200", r.status)
	}
}

// TestLockoutTableBounded: ids the directory does not know are never
// stored, however many are tried.
func TestLockoutTableBounded(t *testing.T) {
	h := newHarness(t, nil)
	for i := range 50 {
		h.do(req{method: http.MethodGet, path: "/finesse/api/SystemInfo", user: "nobody" + strconv.Itoa(i), pass: "x"})
	}
	h.do(req{method: http.MethodGet, path: "/finesse/api/SystemInfo", user: "1002", pass: "x"})
	h.api.auth.mu.Lock()
	n := len(h.api.auth.failures)
	h.api.auth.mu.Unlock()
	if n != 1 {
		t.Errorf("%d ids tracked, want 1 (1002 only)", n)
	}
}

func TestAccessToOtherUsers(t *testing.T) {
	h := newHarness(t, nil)
	h.login("1001", "3001")
	h.login("1003", "3003")
	cases := []struct {
		name       string
		caller     string
		method     string
		path, body string
		want       int
	}{
		{"agent reads another agent", "1001", "GET", "/finesse/api/User/1002", "", 401},
		{"agent sets another agent", "1001", "PUT", "/finesse/api/User/1002", "<User><state>LOGIN</state><extension>3002</extension></User>", 401},
		{"agent reads an unknown user", "1001", "GET", "/finesse/api/User/9999", "", 401},
		{"agent reads another's reason codes", "1001", "GET", "/finesse/api/User/1002/ReasonCodes?category=NOT_READY", "", 401},
		{"agent reads another's media", "1001", "GET", "/finesse/api/User/1002/Media", "", 401},
		{"agent reads another's dialogs", "1001", "GET", "/finesse/api/User/1002/Dialogs", "", 401},
		{"supervisor of another team reads", "2002", "GET", "/finesse/api/User/1001", "", 401},
		{"supervisor of another team sets", "2002", "PUT", "/finesse/api/User/1001", "<User><state>READY</state></User>", 401},
		{"supervisor reads a member's reason codes", "2001", "GET", "/finesse/api/User/1001/ReasonCodes?category=NOT_READY", "", 401},
		{"supervisor sets a member's media", "2001", "PUT", "/finesse/api/User/1001/Media/2", "<Media><state>LOGIN</state></Media>", 401},
		{"administrator sets a user's media", "Admin", "PUT", "/finesse/api/User/1001/Media/2", "<Media><state>LOGIN</state></Media>", 401},
		{"agent reads a team", "1001", "GET", "/finesse/api/Team/1", "", 401},
		{"supervisor reads another team", "2001", "GET", "/finesse/api/Team/2", "", 401},
		{"supervisor reads a team that does not exist", "2001", "GET", "/finesse/api/Team/99", "", 401},
		{"supervisor reads a member", "2001", "GET", "/finesse/api/User/1001", "", 200},
		{"supervisor reads a member's media", "2001", "GET", "/finesse/api/User/1001/Media", "", 200},
		{"supervisor reads a member's dialogs", "2001", "GET", "/finesse/api/User/1001/Dialogs", "", 200},
		{"supervisor reads its team", "2001", "GET", "/finesse/api/Team/1", "", 200},
		{"administrator reads a user", "Admin", "GET", "/finesse/api/User/1003", "", 200},
		{"administrator reads a user's reason codes", "Admin", "GET", "/finesse/api/User/1003/ReasonCodes?category=LOGOUT", "", 200},
		{"administrator reads a team", "Admin", "GET", "/finesse/api/Team/2", "", 200},
		{"administrator reads an unknown user", "Admin", "GET", "/finesse/api/User/9999", "", 404},
		{"administrator reads an unknown team", "Admin", "GET", "/finesse/api/Team/99", "", 404},
		{"administrator reads a team id that is no number", "Admin", "GET", "/finesse/api/Team/x1", "", 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(req{method: c.method, path: c.path, user: c.caller, body: c.body})
			switch c.want {
			case 401:
				wantAPIError(t, r, 401, "Invalid Authorization User Specified", "", "")
				if r.header.Get("WWW-Authenticate") != "" {
					t.Error("challenge on a 401 for the wrong user: the credentials were right")
				}
			case 404:
				wantAPIError(t, r, 404, "Not Found", "", "")
			default:
				if r.status != c.want {
					t.Errorf("status %d, want %d: %s", r.status, c.want, r.body)
				}
			}
		})
	}
	h.wantState("1002", "LOGOUT")
	h.wantState("1001", "NOT_READY")
	h.wantNothingPublished()
}
