package iproc

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

func TestDescriptorAtStartAndOnRequest(t *testing.T) {
	f := newFixture(t)
	c := f.dialRaw(t)
	const data = `{"vendor":"finesse-notify","version":"1.0.0","cti-vendor":"Cisco","cti-version":"12.6","instance-domain":"test.example"}`
	if got, want := c.readRaw(), `{"name":"service.descriptor","data":`+data+`}`; got != want {
		t.Errorf("first message\n got %s\nwant %s", got, want)
	}
	// Before any session: the descriptor is the service's identity.
	c.sendRaw(`{"command":"getServiceDescriptor","data":{}}`)
	if got, want := c.readRaw(), `{"command":"getServiceDescriptor","result":"success","data":`+data+`}`; got != want {
		t.Errorf("getServiceDescriptor\n got %s\nwant %s", got, want)
	}
}

func TestCommandsNeedASession(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	for _, req := range []string{
		`{"command":"getCapabilities","data":{}}`,
		`{"command":"report.calljourney","data":{"CallId":"1"}}`,
		`{"command":"report.teamstatus.begin","data":{"agentId":"1001"}}`,
		`{"command":"report.teamstatus.end","data":{"agentId":"1001"}}`,
	} {
		r := c.call(req)
		command := req[len(`{"command":"`):strings.Index(req, `","data"`)]
		checkFailure(t, r, command, codeNoSession, req)
	}
	c.login("1001")
	if r := c.call(`{"command":"getCapabilities","data":{}}`); r["result"] != resultSuccess {
		t.Errorf("getCapabilities after prepareSession: %v", r)
	}
}

func TestMalformedRequests(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	cases := []struct {
		name, frame, command, code string
		original                   bool // the frame comes back as original
	}{
		{"not JSON", `{"command": "getCapabilities",`, "", codeInvalidJSON, false},
		{"garbage", `hello`, "", codeInvalidJSON, false},
		{"not UTF-8", "{\"command\":\"\xff\xfe\"}", "", codeInvalidJSON, false},
		{"not an object", `["getCapabilities"]`, "", codeInvalidJSON, true},
		{"no command", `{"data":{}}`, "", codeMissingField, true},
		{"null command", `{"command":null}`, "", codeMissingField, true},
		{"command not a string", `{"command":42,"data":{}}`, "", codeInvalidField, true},
		{"unknown command", `{"command":"makeCall","data":{"to":"5551234"}}`, "makeCall", codeUnknownCommand, true},
		{"prepareSession without data", `{"command":"prepareSession"}`, cmdPrepareSession, codeMissingField, true},
		{"prepareSession data not an object", `{"command":"prepareSession","data":"1001"}`, cmdPrepareSession, codeInvalidField, true},
		{"prepareSession without agent", `{"command":"prepareSession","data":{"model":"uccx","override":false}}`, cmdPrepareSession, codeMissingField, true},
		{"prepareSession without agent id", `{"command":"prepareSession","data":{"agent":{"password":"pw1001"}}}`, cmdPrepareSession, codeMissingField, true},
		{"prepareSession without password", `{"command":"prepareSession","data":{"agent":{"id":"1001"}}}`, cmdPrepareSession, codeMissingField, true},
		{"prepareSession agent id a number", `{"command":"prepareSession","data":{"agent":{"id":1001,"password":"pw1001"}}}`, cmdPrepareSession, codeInvalidField, true},
		{"prepareSession override a string", `{"command":"prepareSession","data":{"override":"yes","agent":{"id":"1001","password":"pw1001"}}}`, cmdPrepareSession, codeInvalidField, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			r := c.call(tc.frame)
			original := ""
			if tc.original {
				original = tc.frame
			}
			checkFailure(t, r, tc.command, tc.code, original)
		})
	}
	c.t = t
	// The context names the field.
	r := c.call(`{"command":"prepareSession","data":{"override":"yes","agent":{"id":"1001","password":"pw1001"}}}`)
	if got := path(r, "failure.context"); got != "data.override" {
		t.Errorf("invalid override: context %v, want data.override", got)
	}
	r = c.call(`{"command":"prepareSession","data":{"agent":{"id":"1001"}}}`)
	if got := path(r, "failure.context"); got != "data.agent.password" {
		t.Errorf("missing password: context %v, want data.agent.password", got)
	}

	// The same after prepareSession, for the reports' fields.
	c.login("1001")
	for _, tc := range []struct{ frame, command, code, context string }{
		{`{"command":"report.calljourney","data":{}}`, cmdCallJourney, codeMissingField, "data.CallId"},
		{`{"command":"report.calljourney","data":{"CallId":17}}`, cmdCallJourney, codeInvalidField, "data.CallId"},
		{`{"command":"report.calljourney"}`, cmdCallJourney, codeMissingField, "data"},
		{`{"command":"report.teamstatus.begin","data":{}}`, cmdTeamStatusBegin, codeMissingField, "data.agentId"},
		{`{"command":"report.teamstatus.begin","data":{"agentId":""}}`, cmdTeamStatusBegin, codeMissingField, "data.agentId"},
		{`{"command":"report.teamstatus.end","data":{"agentId":[1]}}`, cmdTeamStatusEnd, codeInvalidField, "data.agentId"},
	} {
		r := c.call(tc.frame)
		checkFailure(t, r, tc.command, tc.code, tc.frame)
		if got := path(r, "failure.context"); got != tc.context {
			t.Errorf("%s: context %v, want %s", tc.frame, got, tc.context)
		}
	}

	// A binary frame is answered too, and the connection stays.
	if err := c.c.WriteMessage(websocket.BinaryMessage, []byte(`{"command":"getCapabilities"}`)); err != nil {
		t.Fatal(err)
	}
	checkFailure(t, c.read(), "", codeBinaryFrame, "")
	c.sync()
}

func TestOversizeFrames(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFrameBytes = 1024 })
	c := f.dial(t)
	big := `{"command":"getServiceDescriptor","data":{"pad":"` + strings.Repeat("x", 2000) + `"}}`
	r := c.call(big)
	checkFailure(t, r, "", codeFrameTooLarge, "")
	if got := path(r, "failure.context"); got != "1024" {
		t.Errorf("context %v, want the limit 1024", got)
	}
	// The connection is kept, and a frame at the limit is read.
	c.sync()
	exact := `{"command":"getServiceDescriptor","data":{"pad":"` + strings.Repeat("x", 1024-len(`{"command":"getServiceDescriptor","data":{"pad":""}}`)) + `"}}`
	if len(exact) != 1024 {
		t.Fatalf("frame of %d bytes", len(exact))
	}
	if r := c.call(exact); r["result"] != resultSuccess {
		t.Errorf("a frame of exactly the limit: %v", r)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_requests_total", "command", "other", "result", codeFrameTooLarge); got != 1 {
		t.Errorf("frame_too_large requests = %v, want 1", got)
	}

	// Far over the limit (four times) the frame is not read: the
	// connection is closed with 1009.
	c.sendRaw(strings.Repeat(" ", 5000))
	if ce := c.expectClose(); ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("close code %d, want 1009", ce.Code)
	}
}

func TestPrepareSession(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	wrong := `{"command":"prepareSession","data":{"model":"uccx","override":false,"agent":{"id":"1001","password":"nope"}}}`
	checkFailure(t, c.call(wrong), cmdPrepareSession, codeInvalidCredentials, wrong)
	unknown := `{"command":"prepareSession","data":{"model":"uccx","override":true,"agent":{"id":"9999","password":"pw9999"}}}`
	checkFailure(t, c.call(unknown), cmdPrepareSession, codeInvalidCredentials, unknown)

	// The id matches whatever its case; the resource's data is the
	// request's data.
	c.sendRaw(`{"command":"prepareSession","data":{"model":"uccx","override":false,"agent":{"id":"ADMIN","password":"pwadmin"}}}`)
	raw := c.readRaw()
	r := c.parse(raw)
	id, _ := path(r, "resource.id").(string)
	if r["result"] != resultSuccess || !strings.HasPrefix(id, "session-") {
		t.Fatalf("prepareSession: %s", raw)
	}
	if want := `{"command":"prepareSession","result":"success","resource":{"id":"` + id +
		`","data":{"model":"uccx","override":false,"agent":{"id":"ADMIN","password":"pwadmin"}}}}`; raw != want {
		t.Errorf("prepareSession\n got %s\nwant %s", raw, want)
	}

	again := `{"command":"prepareSession","data":{"agent":{"id":"1002","password":"pw1002"}}}`
	r = c.call(again)
	checkFailure(t, r, cmdPrepareSession, codeSessionExists, again)
	if path(r, "failure.context") != id {
		t.Errorf("session_exists context %v, want the session's id %s", path(r, "failure.context"), id)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_requests_total", "command", cmdPrepareSession, "result", codeInvalidCredentials); got != 2 {
		t.Errorf("invalid_credentials = %v, want 2", got)
	}
}

func TestGetCapabilities(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxFrameBytes = 4096; c.MaxStreams = 3 })
	c := f.dial(t)
	c.login("1001")
	c.sendRaw(`{"command":"getCapabilities","data":{}}`)
	want := `{"command":"getCapabilities","result":"success","data":{"resource-types":["com.openmethods.iserver.processor.reporting.uccx"],` +
		`"reports":["report.calljourney","report.teamstatus"],"session-override":true,"call-control":false,"multimedia":false,` +
		`"max-frame-bytes":4096,"max-team-status-streams":3}}`
	if got := c.readRaw(); got != want {
		t.Errorf("getCapabilities\n got %s\nwant %s", got, want)
	}
}

func TestCallJourney(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Journeys = fakeJourneys{
			"16777217": {
				{CallID: "16777217", Device: "CSQ_Sales", DeviceType: "Queue", Description: "queued", Duration: 12*time.Second + 400*time.Millisecond},
				{CallID: "16777217", Device: "1001", DeviceType: "Agent", Description: "answered", Duration: 3*time.Minute + 5*time.Second},
				{CallID: "16777218", Device: "1002", DeviceType: "Agent", Description: "transferred", Duration: 25*time.Hour + time.Second},
			},
			"empty": {},
		}
	})
	c := f.dial(t)
	c.login("1001")
	c.sendRaw(`{"command":"report.calljourney","data":{"CallId":"16777217"}}`)
	want := `{"command":"report.calljourney","result":"success","data":{"CallJourney":[` +
		`{"CallId":"16777217","Device":"CSQ_Sales","DeviceType":"Queue","Description":"queued","Duration":"00:00:12"},` +
		`{"CallId":"16777217","Device":"1001","DeviceType":"Agent","Description":"answered","Duration":"00:03:05"},` +
		`{"CallId":"16777218","Device":"1002","DeviceType":"Agent","Description":"transferred","Duration":"25:00:01"}]}}`
	if got := c.readRaw(); got != want {
		t.Errorf("report.calljourney\n got %s\nwant %s", got, want)
	}
	c.sendRaw(`{"command":"report.calljourney","data":{"CallId":"empty"}}`)
	if got, want := c.readRaw(), `{"command":"report.calljourney","result":"success","data":{"CallJourney":[]}}`; got != want {
		t.Errorf("empty journey\n got %s\nwant %s", got, want)
	}
	unknown := `{"command":"report.calljourney","data":{"CallId":"404"}}`
	checkFailure(t, c.call(unknown), cmdCallJourney, codeUnknownCall, unknown)
}

func TestCallJourneyWithoutRouter(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Journeys = nil })
	c := f.dial(t)
	c.login("1001")
	req := `{"command":"report.calljourney","data":{"CallId":"1"}}`
	checkFailure(t, c.call(req), cmdCallJourney, codeUnknownCall, req)
}

func TestNotAWebSocket(t *testing.T) {
	f := newFixture(t)
	resp, err := http.Get(f.srv.URL + "/interaction-processor")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || !strings.Contains(string(body), "WebSocket") {
		t.Errorf("GET: %d %q, want 426 with a reason", resp.StatusCode, body)
	}
	resp, err = http.Post(f.srv.URL+"/interaction-processor", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet {
		t.Errorf("POST: %d, Allow %q; want 405, GET", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

func TestMaxConnections(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxConnections = 1 })
	f.dial(t)
	d := websocket.Dialer{HandshakeTimeout: wait}
	_, resp, err := d.Dial(f.url(), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection: %v, %v; want 503", err, resp)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_connections_refused_total"); got != 1 {
		t.Errorf("refused = %v, want 1", got)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_connections"); got != 1 {
		t.Errorf("connections = %v, want 1", got)
	}
}

func TestCloseEndsConnections(t *testing.T) {
	f := newFixture(t)
	c := f.dial(t)
	c.login("1001")
	done := make(chan struct{})
	go func() {
		f.svc.Close()
		close(done)
	}()
	ce := c.expectClose()
	if ce.Code != websocket.CloseGoingAway || ce.Text != "service shutting down" {
		t.Errorf("close %d %q, want 1001 service shutting down", ce.Code, ce.Text)
	}
	<-done
	d := websocket.Dialer{HandshakeTimeout: wait}
	if _, resp, err := d.Dial(f.url(), nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("dial after Close: %v, %v; want 503", err, resp)
	}
}

func TestStatusMapping(t *testing.T) {
	cases := map[agent.State]string{
		agent.StateReady:                   "ready",
		agent.StateNotReady:                "not_ready",
		agent.StateLogout:                  "not_ready",
		agent.StateUnknown:                 "not_ready",
		"":                                 "not_ready",
		agent.StateWork:                    "ACW",
		agent.StateWorkReady:               "ACW",
		agent.StateTalking:                 "talking",
		agent.StateHold:                    "talking",
		agent.StateReserved:                "reserved",
		agent.StateReservedOutbound:        "reserved",
		agent.StateReservedOutboundPreview: "reserved",
	}
	for state, want := range cases {
		if got := reportStatus(state); got != want {
			t.Errorf("reportStatus(%q) = %q, want %q", state, got, want)
		}
	}
	if got := reportReason(&directory.ReasonCode{ID: 3, Code: 42, Label: "Break"}); got != "42" {
		t.Errorf("reason = %q, want the code 42", got)
	}
	if got := reportReason(nil); got != "" {
		t.Errorf("no reason = %q", got)
	}
}

func TestMemberName(t *testing.T) {
	cases := []struct {
		u    directory.User
		want string
	}{
		{directory.User{ID: "1", FirstName: "Ann", LastName: "Archer", LoginName: "aa"}, "Ann Archer"},
		{directory.User{ID: "1", FirstName: "Ann", LoginName: "aa"}, "Ann"},
		{directory.User{ID: "1", LastName: "Archer"}, "Archer"},
		{directory.User{ID: "1", LoginName: "aa"}, "aa"},
		{directory.User{ID: "1"}, "1"},
	}
	for _, c := range cases {
		if got := memberName(c.u); got != c.want {
			t.Errorf("memberName(%+v) = %q, want %q", c.u, got, c.want)
		}
	}
}

// The service pings; a client that answers nothing (no message, no
// pong) for two intervals is disconnected.
func TestPingsAndSilence(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PingInterval = 20 * time.Millisecond })
	c := f.dial(t)
	pinged := make(chan struct{}, 1)
	c.c.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil // no pong
	})
	conn := f.onlyConn(t)
	ended := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.c.ReadMessage(); err != nil {
				ended <- err
				return
			}
		}
	}()
	waitFor(t, pinged)
	waitFor(t, conn.writerDone)
	var ce *websocket.CloseError
	if err := <-ended; !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || !strings.Contains(ce.Text, "idle") {
		t.Errorf("client read %v, want a close frame 1001 saying why", err)
	}
	if got := metricValue(t, f.reg, "finesse_notify_iproc_connections"); got != 0 {
		t.Errorf("connections = %v, want 0", got)
	}
}
