package rest

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse"
)

// userDoc is the part of <User>/<user> the tests read.
type userDoc struct {
	XMLName      xml.Name
	LoginID      string `xml:"loginId"`
	Extension    string `xml:"extension"`
	State        string `xml:"state"`
	ReasonCodeID string `xml:"reasonCodeId"`
	ReasonCode   struct {
		Code string `xml:"code"`
	} `xml:"ReasonCode"`
}

func parseUser(t *testing.T, b []byte) userDoc {
	t.Helper()
	var u userDoc
	if err := xml.Unmarshal(b, &u); err != nil {
		t.Fatalf("user document %q: %v", b, err)
	}
	return u
}

// wantUserUpdates checks that a state change of id published exactly one
// User Update on the user's node and one on its team's, with requestID,
// and returns the user's.
func wantUserUpdates(t *testing.T, got []published, id string, teamID int, requestID string) userDoc {
	t.Helper()
	if len(got) != 2 {
		t.Fatalf("%d notifications, want 2 (user and team)", len(got))
	}
	wantNodes := []string{finesse.UserNode(id), finesse.TeamUsersNode(teamID)}
	for i, p := range got {
		u := p.update
		if p.node != wantNodes[i] || u.Event != "PUT" || u.RequestID != requestID || u.Source != finesse.UserNode(id) {
			t.Errorf("notification %d: node %s event %s requestId %q source %s; want node %s, PUT, %q, source %s",
				i, p.node, u.Event, u.RequestID, u.Source, wantNodes[i], requestID, finesse.UserNode(id))
		}
	}
	return parseUser(t, got[0].update.Data)
}

// TestUserStateChanges: the agent's day over REST: 202 with no body, the
// model's call with the requestId, and the notifications it publishes.
func TestUserStateChanges(t *testing.T) {
	h := newHarness(t, nil)
	put := func(body, requestID string) response {
		t.Helper()
		r := h.do(req{method: http.MethodPut, path: "/finesse/api/User/1001", user: "1001", body: body,
			header: map[string]string{"requestId": requestID}})
		if r.status != http.StatusAccepted || r.body != "" {
			t.Fatalf("PUT %s: %d %q, want 202 and no body", body, r.status, r.body)
		}
		if got := r.header.Get("requestId"); got != requestID {
			t.Errorf("requestId header %q, want %q", got, requestID)
		}
		return r
	}

	put("<User><state>LOGIN</state><extension>3001</extension></User>", "r-1")
	u := wantUserUpdates(t, h.pub.take(), "1001", 1, "r-1")
	if u.XMLName.Local != "user" || u.State != "NOT_READY" || u.Extension != "3001" {
		t.Errorf("after LOGIN: %+v, want <user> NOT_READY with extension 3001", u)
	}

	put(`<?xml version="1.0" encoding="UTF-8"?>
<!-- a desktop's request -->
<User>
  <state> READY </state>
</User>
`, "r-2")
	if u := wantUserUpdates(t, h.pub.take(), "1001", 1, "r-2"); u.State != "READY" {
		t.Errorf("after READY: state %s", u.State)
	}

	put("<User><state>NOT_READY</state><reasonCodeId>1</reasonCodeId></User>", "r-3")
	u = wantUserUpdates(t, h.pub.take(), "1001", 1, "r-3")
	if u.State != "NOT_READY" || u.ReasonCodeID != "1" || u.ReasonCode.Code != "10" {
		t.Errorf("after NOT_READY with reason 1: %+v", u)
	}

	// GET shows the state, under <User>.
	r := h.get("1001", "/finesse/api/User/1001")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/xml" {
		t.Fatalf("GET: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if u := parseUser(t, []byte(r.body)); u.XMLName.Local != "User" || u.State != "NOT_READY" || u.LoginID != "1001" {
		t.Errorf("GET User: %+v", u)
	}

	// Without a requestId, the notifications carry none and the answer
	// has no requestId header.
	r = h.put("1001", "/finesse/api/User/1001", "<User><state>LOGOUT</state><reasonCodeId>11</reasonCodeId></User>")
	if r.status != http.StatusAccepted {
		t.Fatalf("LOGOUT: %d %s", r.status, r.body)
	}
	if _, ok := r.header["Requestid"]; ok {
		t.Error("requestId header on the answer to a request without one")
	}
	if u := wantUserUpdates(t, h.pub.take(), "1001", 1, ""); u.State != "LOGOUT" || u.ReasonCodeID != "11" {
		t.Errorf("after LOGOUT: %+v", u)
	}
}

// TestSupervisorSetsMember: a supervisor's (or an administrator's) change
// reaches the model as theirs, not the agent's: Finesse records the system
// code 999.
func TestSupervisorSetsMember(t *testing.T) {
	h := newHarness(t, nil)
	h.login("1002", "3002")
	r := h.do(req{method: http.MethodPut, path: "/finesse/api/User/1002", user: "2001",
		body: "<User><state>READY</state></User>", header: map[string]string{"requestId": "sup-1"}})
	if r.status != http.StatusAccepted {
		t.Fatalf("supervisor READY: %d %s", r.status, r.body)
	}
	wantUserUpdates(t, h.pub.take(), "1002", 1, "sup-1")

	r = h.put("2001", "/finesse/api/User/1002", "<User><state>NOT_READY</state></User>")
	if r.status != http.StatusAccepted {
		t.Fatalf("supervisor NOT_READY: %d %s", r.status, r.body)
	}
	if u := wantUserUpdates(t, h.pub.take(), "1002", 1, ""); u.State != "NOT_READY" || u.ReasonCode.Code != "999" {
		t.Errorf("supervisor's NOT_READY: %+v, want NOT_READY with code 999", u)
	}

	// A supervisor may not give a reason code.
	r = h.put("2001", "/finesse/api/User/1002", "<User><state>LOGOUT</state><reasonCodeId>11</reasonCodeId></User>")
	wantAPIError(t, r, http.StatusBadRequest, "Invalid Input", "", "")
	h.wantState("1002", "NOT_READY")
	h.wantNothingPublished()

	// An administrator acts on any team's member, as a supervisor does.
	h.login("1003", "3003")
	r = h.put("Admin", "/finesse/api/User/1003", "<User><state>LOGOUT</state></User>")
	if r.status != http.StatusAccepted {
		t.Fatalf("administrator LOGOUT: %d %s", r.status, r.body)
	}
	if u := wantUserUpdates(t, h.pub.take(), "1003", 2, ""); u.State != "LOGOUT" || u.ReasonCode.Code != "999" {
		t.Errorf("administrator's LOGOUT: %+v, want LOGOUT with code 999", u)
	}
}

// TestUserStateErrors: every documented refusal of a state change
// answers its ApiErrors, changes nothing and publishes nothing.
func TestUserStateErrors(t *testing.T) {
	h := newHarness(t, nil)
	h.login("1001", "3001")
	cases := []struct {
		name, body string
		status     int
		errType    string
		message    string
		data       string
	}{
		{"malformed XML", "<User><state>READY</User>", 400, "Invalid Input", "", ""},
		{"not XML", "state=READY", 400, "Invalid Input", "", ""},
		{"empty body", "", 400, "Invalid Input", "", ""},
		{"another root", "<Media><state>READY</state></Media>", 400, "Invalid Input", "", ""},
		{"two roots", "<User><state>READY</state></User><User/>", 400, "Invalid Input", "", ""},
		{"a DTD", `<!DOCTYPE User [<!ENTITY s "READY">]><User><state>&s;</state></User>`, 400, "Invalid Input", "", ""},
		{"an undeclared entity", "<User><state>&ready;</state></User>", 400, "Invalid Input", "", ""},
		{"missing state", "<User><extension>3001</extension></User>", 400, "Parameter Missing", "State Parameter missing", "state"},
		{"empty state", "<User><state> </state></User>", 400, "Parameter Missing", "State Parameter missing", "state"},
		{"unknown state", "<User><state>SLEEPING</state></User>", 400, "Invalid Input", "", "state"},
		{"system-only state", "<User><state>WORK</state></User>", 400, "Invalid Input", "", "state"},
		{"reason code of the wrong category", "<User><state>NOT_READY</state><reasonCodeId>11</reasonCodeId></User>", 400, "Invalid Input", "", "reasonCodeId"},
		{"reason code not offered to the team", "<User><state>NOT_READY</state><reasonCodeId>2</reasonCodeId></User>", 400, "Invalid Input", "", "reasonCodeId"},
		{"system reason code", "<User><state>NOT_READY</state><reasonCodeId>103</reasonCodeId></User>", 400, "Invalid Input", "", "reasonCodeId"},
		{"unknown reason code", "<User><state>NOT_READY</state><reasonCodeId>77</reasonCodeId></User>", 400, "Invalid Input", "", "reasonCodeId"},
		{"reason code that is no number", "<User><state>NOT_READY</state><reasonCodeId>lunch</reasonCodeId></User>", 400, "Invalid Input", "reasonCodeId is not a number", "lunch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := h.do(req{method: http.MethodPut, path: "/finesse/api/User/1001", user: "1001", body: c.body,
				header: map[string]string{"Content-Type": "application/xml"}})
			wantAPIError(t, r, c.status, c.errType, c.message, c.data)
		})
	}
	h.wantState("1001", "NOT_READY")
	h.wantNothingPublished()

	t.Run("illegal transition", func(t *testing.T) {
		if r := h.put("1001", "/finesse/api/User/1001", "<User><state>READY</state></User>"); r.status != http.StatusAccepted {
			t.Fatalf("READY: %d", r.status)
		}
		h.pub.take()
		// UCCE: LOGOUT only from NOT_READY.
		r := h.put("1001", "/finesse/api/User/1001", "<User><state>LOGOUT</state></User>")
		wantAPIError(t, r, http.StatusBadRequest, "Invalid State", "", "")
		h.wantState("1001", "READY")
		h.wantNothingPublished()
	})

	t.Run("LOGIN without extension", func(t *testing.T) {
		r := h.put("1002", "/finesse/api/User/1002", "<User><state>LOGIN</state></User>")
		wantAPIError(t, r, http.StatusBadRequest, "Parameter Missing", "", "extension")
		h.wantState("1002", "LOGOUT")
		h.wantNothingPublished()
	})
}

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	big := "<User><state>LOGIN</state><extension>3001</extension>" + strings.Repeat("<!-- padding -->", 100) + "</User>"
	r := h.put("1001", "/finesse/api/User/1001", big)
	wantAPIError(t, r, http.StatusRequestEntityTooLarge, "Invalid Input", "", "1024")

	// Without a Content-Length, the limit holds while reading.
	hr, err := http.NewRequest(http.MethodPut, h.url+"/finesse/api/User/1001", struct{ *strings.Reader }{strings.NewReader(big)})
	if err != nil {
		t.Fatal(err)
	}
	hr.SetBasicAuth("1001", testPassword)
	hr.ContentLength = -1
	resp, err := h.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: %d, want 413", resp.StatusCode)
	}
	h.wantState("1001", "LOGOUT")
	h.wantNothingPublished()

	// Just under the limit is read.
	small := "<User><state>LOGIN</state><extension>3001</extension></User>"
	small = strings.Replace(small, "</User>", strings.Repeat(" ", 1024-len(small))+"</User>", 1)
	if r := h.put("1001", "/finesse/api/User/1001", small); r.status != http.StatusAccepted {
		t.Errorf("body of exactly the limit: %d %s", r.status, r.body)
	}
}

func TestReasonCodes(t *testing.T) {
	h := newHarness(t, nil)
	type codesDoc struct {
		Category string `xml:"category,attr"`
		Codes    []struct {
			URI  string `xml:"uri"`
			Code string `xml:"code"`
		} `xml:"ReasonCode"`
	}
	r := h.get("1001", "/finesse/api/User/1001/ReasonCodes?category=NOT_READY")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var doc codesDoc
	if err := xml.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	// Team 1 is offered code 10 only: 11 is team 2's, 999 a system code.
	if doc.Category != "NOT_READY" || len(doc.Codes) != 1 || doc.Codes[0].Code != "10" {
		t.Errorf("NOT_READY codes of 1001: %+v", doc)
	}
	if r := h.get("1003", "/finesse/api/User/1003/ReasonCodes?category=logout"); r.status != http.StatusOK ||
		!strings.Contains(r.body, `category="LOGOUT"`) {
		t.Errorf("lower-case category: %d %s", r.status, r.body)
	}
	wantAPIError(t, h.get("1001", "/finesse/api/User/1001/ReasonCodes"), 400, "Parameter Missing", "Category Parameter missing", "category")
	wantAPIError(t, h.get("1001", "/finesse/api/User/1001/ReasonCodes?category=READY"), 400, "Invalid Input", "", "READY")
}

func TestDialogs(t *testing.T) {
	h := newHarness(t, nil)
	r := h.get("1001", "/finesse/api/User/1001/Dialogs")
	if r.status != http.StatusOK || r.body != "<Dialogs/>" {
		t.Errorf("Dialogs: %d %q", r.status, r.body)
	}
	wantAPIError(t, h.get("1001", "/finesse/api/Dialog/53149720"), 404, "Not Found", "Dialog not found", "53149720")
}

func TestTeam(t *testing.T) {
	h := newHarness(t, nil)
	h.login("1001", "3001")
	r := h.get("2001", "/finesse/api/Team/1")
	if r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var team struct {
		XMLName xml.Name `xml:"Team"`
		ID      string   `xml:"id"`
		Users   []struct {
			LoginID string `xml:"loginId"`
			State   string `xml:"state"`
		} `xml:"users>User"`
	}
	if err := xml.Unmarshal([]byte(r.body), &team); err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, u := range team.Users {
		states[u.LoginID] = u.State
	}
	if team.ID != "1" || states["1001"] != "NOT_READY" || states["1002"] != "LOGOUT" || len(states) != 3 {
		t.Errorf("Team 1: %+v", team)
	}
}
