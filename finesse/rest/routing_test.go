package rest

import (
	"net/http"
	"strings"
	"testing"
)

func TestMethodNotAllowed(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct{ method, path, allow string }{
		{http.MethodDelete, "/finesse/api/User/1001", "GET, HEAD, PUT"},
		{http.MethodPost, "/finesse/api/User/1001", "GET, HEAD, PUT"},
		{http.MethodPut, "/finesse/api/SystemInfo", "GET, HEAD"},
		{http.MethodPut, "/finesse/api/User/1001/Media", "GET, HEAD"},
		{http.MethodPut, "/finesse/api/Dialog/1", "GET, HEAD"},
		{"BREW", "/finesse/api/Team/1", "GET, HEAD"},
	}
	for _, c := range cases {
		r := h.do(req{method: c.method, path: c.path, user: "Admin", body: "<User><state>READY</state></User>"})
		wantAPIError(t, r, http.StatusMethodNotAllowed, "Method Not Allowed", "", c.method)
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}
	h.wantNothingPublished()

	// HEAD is served as GET without a body.
	r := h.do(req{method: http.MethodHead, path: "/finesse/api/SystemInfo", user: "1001"})
	if r.status != http.StatusOK || r.body != "" {
		t.Errorf("HEAD: %d %q", r.status, r.body)
	}
}

func TestUnknownPaths(t *testing.T) {
	h := newHarness(t, nil)
	for _, path := range []string{
		"/finesse/api/Nothing",
		"/finesse/api/User/1001/Nothing",
		"/finesse/api/User/1001/Media/2/Dialogs",
		"/finesse/api/user/1001",
		"/finesse/api/User/1001/",
	} {
		r := h.get("1001", path)
		wantAPIError(t, r, http.StatusNotFound, "Not Found", "", path)
	}
}

// TestRequestIDEcho: every answer to a request carrying requestId carries
// it back, whatever the outcome; answers to requests without one do not.
func TestRequestIDEcho(t *testing.T) {
	h := newHarness(t, nil)
	const id = "7c1e1f6a-2d4b-4f43-9d6a-6b3f1e2a9c10"
	cases := []req{
		{method: http.MethodGet, path: "/finesse/api/SystemInfo", user: "1001"},                                                                      // 200
		{method: http.MethodPut, path: "/finesse/api/User/1001", user: "1001", body: "<User><state>LOGIN</state><extension>3001</extension></User>"}, // 202
		{method: http.MethodPut, path: "/finesse/api/User/1001", user: "1001", body: "<User>"},                                                       // 400
		{method: http.MethodGet, path: "/finesse/api/User/1001", user: "1001", pass: "wrong"},                                                        // 401
		{method: http.MethodGet, path: "/finesse/api/User/1002", user: "1001"},                                                                       // 401
		{method: http.MethodGet, path: "/finesse/api/Dialog/1", user: "1001"},                                                                        // 404
		{method: http.MethodDelete, path: "/finesse/api/User/1001", user: "1001"},                                                                    // 405
		{method: http.MethodPost, path: "/finesse-notify/control/system?status=IN_SERVICE", user: "Admin"},                                           // 200
	}
	for _, c := range cases {
		c.header = map[string]string{"requestId": id}
		r := h.do(c)
		if got := r.header.Values("requestId"); len(got) != 1 || got[0] != id {
			t.Errorf("%s %s (%d): requestId %q, want %q", c.method, c.path, r.status, got, id)
		}
		c.header = nil
		if r := h.do(c); r.header.Get("requestId") != "" {
			t.Errorf("%s %s without requestId: one came back", c.method, c.path)
		}
	}

	// Out of service too.
	h.do(req{method: http.MethodPost, path: "/finesse-notify/control/system?status=OUT_OF_SERVICE", user: "Admin"})
	r := h.do(req{method: http.MethodGet, path: "/finesse/api/User/1001", user: "1001", header: map[string]string{"requestId": id}})
	if r.status != http.StatusServiceUnavailable || r.header.Get("requestId") != id {
		t.Errorf("503: %d requestId %q", r.status, r.header.Get("requestId"))
	}
}

// TestErrorBodiesWellFormed: what a client put in the URL comes back in
// ErrorData as well-formed XML, whatever it holds.
func TestErrorBodiesWellFormed(t *testing.T) {
	h := newHarness(t, nil)
	r := h.get("Admin", "/finesse/api/Dialog/%3Ca%20b='%26'%3E%01%FF")
	wantAPIError(t, r, http.StatusNotFound, "Not Found", "Dialog not found", "<a b='&'>\uFFFD\uFFFD")
}

// TestMetrics: requests are counted by route pattern and status; the raw
// path, with its user ids, never becomes a label.
func TestMetrics(t *testing.T) {
	h := newHarness(t, nil)
	h.login("1001", "3001")
	h.put("1001", "/finesse/api/User/1001", "<User><state>READY</state></User>")
	h.put("1001", "/finesse/api/User/1001", "<User><state>SLEEPING</state></User>")
	h.get("1002", "/finesse/api/User/1002")
	h.do(req{method: "BREW", path: "/finesse/api/User/1002", user: "1002"})
	h.do(req{method: "BREW", path: "/finesse/api/User/1002", user: "1002"})
	h.get("1002", "/finesse/api/Nothing/1002")

	const family = "finesse_notify_rest_requests_total"
	for _, c := range []struct {
		route, code string
		want        float64
	}{
		{"PUT /finesse/api/User/{id}", "202", 2},
		{"PUT /finesse/api/User/{id}", "400", 1},
		{"GET /finesse/api/User/{id}", "200", 1},
		{"/finesse/api/User/{id}", "405", 2},
		{"/finesse/api/", "404", 1},
	} {
		if got := h.counter(family, map[string]string{"route": c.route, "code": c.code}); got != c.want {
			t.Errorf("%s{route=%q,code=%q} = %v, want %v", family, c.route, c.code, got, c.want)
		}
	}
	for _, m := range h.metricFamily(family) {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "1001") || strings.Contains(l.GetValue(), "1002") || strings.Contains(l.GetValue(), "BREW") {
				t.Errorf("label %s=%q holds a raw path or method", l.GetName(), l.GetValue())
			}
		}
	}
}
