package rest

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse"
)

// systemInfoDoc is <SystemInfo> with its children in document order.
type systemInfoDoc struct {
	XMLName  xml.Name
	Children []struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
		Host    string `xml:"host"`
	} `xml:",any"`
}

// parseSystemInfo returns the children of <SystemInfo> by name, and their
// names in order.
func parseSystemInfo(t *testing.T, b []byte) (map[string]string, []string) {
	t.Helper()
	var doc systemInfoDoc
	if err := xml.Unmarshal(b, &doc); err != nil || doc.XMLName.Local != "SystemInfo" {
		t.Fatalf("SystemInfo %q: %v", b, err)
	}
	fields := map[string]string{}
	var order []string
	for _, c := range doc.Children {
		order = append(order, c.XMLName.Local)
		fields[c.XMLName.Local] = c.Text
		if c.XMLName.Local == "primaryNode" {
			fields["primaryNode/host"] = c.Host
		}
	}
	return fields, order
}

func TestSystemInfo(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Host = "fin-a.example.com" })
	r := h.get("1001", "/finesse/api/SystemInfo")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/xml" {
		t.Fatalf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	fields, order := parseSystemInfo(t, []byte(r.body))
	want := map[string]string{
		"currentTimestamp": "2024-05-01T10:00:00.123Z",
		"deploymentType":   "UCCE",
		"primaryNode/host": "fin-a.example.com",
		"status":           "IN_SERVICE",
		"systemAuthMode":   "NON_SSO",
		"uri":              "/finesse/api/SystemInfo",
		"xmppDomain":       testDomain,
		"xmppPubSubDomain": "pubsub." + testDomain,
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s = %q, want %q", k, fields[k], v)
		}
	}
	if _, err := strconv.Atoi(fields["timezoneOffset"]); err != nil {
		t.Errorf("timezoneOffset %q is not a number of minutes", fields["timezoneOffset"])
	}
	if _, ok := fields["statusReason"]; ok {
		t.Error("statusReason while in service")
	}
	if _, ok := fields["secondaryNode"]; ok {
		t.Error("secondaryNode in a single-node deployment")
	}
	wantOrder := "currentTimestamp deploymentType primaryNode status systemAuthMode timezoneOffset uri xmppDomain xmppPubSubDomain"
	if got := strings.Join(order, " "); got != wantOrder {
		t.Errorf("children %s, want %s", got, wantOrder)
	}
}

// TestOutOfService: the control endpoint takes the system out of service
// and back, each change publishing a SystemInfo Update; meanwhile every
// Finesse call but SystemInfo's GET answers 503 SERVER_OUT_OF_SERVICE and
// changes nothing.
func TestOutOfService(t *testing.T) {
	h := newHarness(t, nil)
	h.login("1001", "3001")
	post := func(query, requestID string) response {
		t.Helper()
		return h.do(req{method: http.MethodPost, path: "/finesse-notify/control/system?" + query, user: "Admin",
			header: map[string]string{"requestId": requestID}})
	}
	wantSystemInfoUpdate := func(status, reason, requestID string) {
		t.Helper()
		got := h.pub.take()
		if len(got) != 1 {
			t.Fatalf("%d notifications, want 1 SystemInfo", len(got))
		}
		u := got[0].update
		if got[0].node != finesse.SystemInfoNode || u.Event != "PUT" || u.Source != finesse.SystemInfoNode || u.RequestID != requestID {
			t.Errorf("notification on %s, event %s, source %s, requestId %q", got[0].node, u.Event, u.Source, u.RequestID)
		}
		fields, _ := parseSystemInfo(t, u.Data)
		if fields["status"] != status || fields["statusReason"] != reason {
			t.Errorf("notified status %q reason %q, want %q %q", fields["status"], fields["statusReason"], status, reason)
		}
	}

	r := post("status=OUT_OF_SERVICE&reason=CTI+link+down", "c-1")
	if r.status != http.StatusOK {
		t.Fatalf("OUT_OF_SERVICE: %d %s", r.status, r.body)
	}
	if fields, _ := parseSystemInfo(t, []byte(r.body)); fields["status"] != "OUT_OF_SERVICE" {
		t.Errorf("answer: %s", r.body)
	}
	wantSystemInfoUpdate("OUT_OF_SERVICE", "CTI link down", "c-1")

	for _, c := range []req{
		{method: http.MethodGet, path: "/finesse/api/User/1001", user: "1001"},
		{method: http.MethodPut, path: "/finesse/api/User/1001", user: "1001", body: "<User><state>READY</state></User>"},
		{method: http.MethodPut, path: "/finesse/api/User/1001/Media/2", user: "1001", body: "<Media><state>LOGIN</state></Media>"},
		{method: http.MethodGet, path: "/finesse/api/Team/1", user: "2001"},
		{method: http.MethodGet, path: "/finesse/api/Nothing", user: "1001"},
		{method: http.MethodDelete, path: "/finesse/api/SystemInfo", user: "1001"},
	} {
		r := h.do(c)
		wantAPIError(t, r, http.StatusServiceUnavailable, "Service Unavailable", "SERVER_OUT_OF_SERVICE", "")
	}
	h.wantState("1001", "NOT_READY")
	h.wantNothingPublished()

	r = h.get("1001", "/finesse/api/SystemInfo")
	fields, _ := parseSystemInfo(t, []byte(r.body))
	if r.status != http.StatusOK || fields["status"] != "OUT_OF_SERVICE" || fields["statusReason"] != "CTI link down" {
		t.Errorf("SystemInfo while out of service: %d %s", r.status, r.body)
	}

	// The same status again publishes nothing.
	if r := post("status=OUT_OF_SERVICE&reason=CTI+link+down", ""); r.status != http.StatusOK {
		t.Fatalf("again: %d", r.status)
	}
	h.wantNothingPublished()

	if r := post("status=IN_SERVICE", ""); r.status != http.StatusOK {
		t.Fatalf("IN_SERVICE: %d %s", r.status, r.body)
	}
	wantSystemInfoUpdate("IN_SERVICE", "", "")
	if r := h.put("1001", "/finesse/api/User/1001", "<User><state>READY</state></User>"); r.status != http.StatusAccepted {
		t.Errorf("back in service: %d %s", r.status, r.body)
	}
}

func TestControlSystemErrors(t *testing.T) {
	h := newHarness(t, nil)
	post := func(user, query string) response {
		t.Helper()
		return h.do(req{method: http.MethodPost, path: "/finesse-notify/control/system" + query, user: user})
	}
	wantAPIError(t, post("2001", "?status=OUT_OF_SERVICE"), 403, "Forbidden", "", "2001")
	wantAPIError(t, post("Admin", ""), 400, "Parameter Missing", "", "status")
	wantAPIError(t, post("Admin", "?status=DOWN"), 400, "Invalid Input", "", "DOWN")
	wantAPIError(t, post("Admin", "?status=OUT_OF_SERVICE&reason="+strings.Repeat("x", maxStatusReason+1)), 400, "Invalid Input", "", "")
	r := h.do(req{method: http.MethodGet, path: "/finesse-notify/control/system?status=OUT_OF_SERVICE", user: "Admin"})
	wantAPIError(t, r, 405, "Method Not Allowed", "", "GET")
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	if h.api.outOfService() {
		t.Error("a refused control call changed the status")
	}
	h.wantNothingPublished()

	// A failed notification is reported; the status did change.
	h.pub.setFail(errors.New("pubsub down"))
	wantAPIError(t, post("Admin", "?status=OUT_OF_SERVICE"), 500, "Generic Error", "", "")
	if !h.api.outOfService() {
		t.Error("status not changed")
	}
}

func TestControlPresenceAndSessions(t *testing.T) {
	h := newHarness(t, nil)
	post := func(user, path string) response {
		t.Helper()
		return h.do(req{method: http.MethodPost, path: "/finesse-notify/control/" + path, user: user})
	}
	r := post("Admin", "finesse-presence?available=false")
	if r.status != http.StatusOK || r.body != "<finessePresence available='false'/>" {
		t.Errorf("presence false: %d %s", r.status, r.body)
	}
	post("Admin", "finesse-presence?available=true")
	wantAPIError(t, post("Admin", "finesse-presence"), 400, "Parameter Missing", "", "available")
	wantAPIError(t, post("Admin", "finesse-presence?available=yes"), 400, "Invalid Input", "", "yes")
	wantAPIError(t, post("1001", "finesse-presence?available=false"), 403, "Forbidden", "", "")

	r = post("Admin", "users/1001/end-sessions")
	if r.status != http.StatusOK || r.body != "<sessionsEnded user='1001' count='2'/>" {
		t.Errorf("end-sessions: %d %s", r.status, r.body)
	}
	r = post("admin", "users/ADMIN/end-sessions")
	if r.status != http.StatusOK || r.body != "<sessionsEnded user='Admin' count='2'/>" {
		t.Errorf("end-sessions by another case: %d %s", r.status, r.body)
	}
	wantAPIError(t, post("Admin", "users/9999/end-sessions"), 404, "Not Found", "", "9999")
	wantAPIError(t, post("2001", "users/1001/end-sessions"), 403, "Forbidden", "", "")
	wantAPIError(t, post("Admin", "users/1001/nothing"), 404, "Not Found", "", "")
	wantAPIError(t, post("Admin", "nothing"), 404, "Not Found", "", "")

	h.control.mu.Lock()
	available, ended := h.control.available, h.control.ended
	h.control.mu.Unlock()
	if len(available) != 2 || available[0] || !available[1] {
		t.Errorf("SetServiceAvailable calls %v, want [false true]", available)
	}
	if strings.Join(ended, ",") != "1001,Admin" {
		t.Errorf("EndSessions calls %v, want [1001 Admin]", ended)
	}
}

func TestControlWithoutXMPP(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Control = nil })
	for _, path := range []string{"finesse-presence?available=false", "users/1001/end-sessions"} {
		r := h.do(req{method: http.MethodPost, path: "/finesse-notify/control/" + path, user: "Admin"})
		wantAPIError(t, r, 501, "Not Implemented", "", "")
	}
}
