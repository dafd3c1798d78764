package rest

import (
	"encoding/xml"
	"net/http"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse"
)

type mediaDoc struct {
	XMLName            xml.Name `xml:"Media"`
	URI                string   `xml:"uri"`
	ID                 string   `xml:"id"`
	State              string   `xml:"state"`
	MaxDialogLimit     string   `xml:"maxDialogLimit"`
	InterruptAction    string   `xml:"interruptAction"`
	DialogLogoutAction string   `xml:"dialogLogoutAction"`
	ReasonCodeID       string   `xml:"reasonCodeId"`
}

// wantMediaUpdate checks that one Media Update of MRD 2 was published on
// the user's Media node with requestID and returns its data.
func wantMediaUpdate(t *testing.T, got []published, id, requestID string) []byte {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%d notifications, want 1", len(got))
	}
	p := got[0]
	source := finesse.UserMediaNode(id) + "/2"
	if p.node != finesse.UserMediaNode(id) || p.update.Event != "PUT" || p.update.RequestID != requestID || p.update.Source != source {
		t.Errorf("Media notification on %s, event %s, requestId %q, source %s; want %s, PUT, %q, %s",
			p.node, p.update.Event, p.update.RequestID, p.update.Source, finesse.UserMediaNode(id), requestID, source)
	}
	return p.update.Data
}

func TestMedia(t *testing.T) {
	h := newHarness(t, nil)
	put := func(body, requestID string) response {
		t.Helper()
		return h.do(req{method: http.MethodPut, path: "/finesse/api/User/1001/Media/2", user: "1001", body: body,
			header: map[string]string{"requestId": requestID}})
	}

	r := put(`<Media><maxDialogLimit>3</maxDialogLimit><state>LOGIN</state>
		<interruptAction>IGNORE</interruptAction><dialogLogoutAction>TRANSFER</dialogLogoutAction></Media>`, "m-1")
	if r.status != http.StatusAccepted || r.body != "" || r.header.Get("requestId") != "m-1" {
		t.Fatalf("media LOGIN: %d %q requestId %q", r.status, r.body, r.header.Get("requestId"))
	}
	var m mediaDoc
	if err := xml.Unmarshal(wantMediaUpdate(t, h.pub.take(), "1001", "m-1"), &m); err != nil {
		t.Fatal(err)
	}
	if m.State != "NOT_READY" || m.MaxDialogLimit != "3" || m.InterruptAction != "IGNORE" || m.DialogLogoutAction != "TRANSFER" {
		t.Errorf("after media LOGIN: %+v", m)
	}

	// Signing in twice: accepted, and the model publishes Finesse's
	// asynchronous error with the requestId.
	if r := put("<Media><state>LOGIN</state><maxDialogLimit>3</maxDialogLimit></Media>", "m-2"); r.status != http.StatusAccepted {
		t.Fatalf("second media LOGIN: %d %s", r.status, r.body)
	}
	var errs struct {
		XMLName xml.Name `xml:"apiErrors"`
		Message string   `xml:"apiError>errorMessage"`
	}
	if err := xml.Unmarshal(wantMediaUpdate(t, h.pub.take(), "1001", "m-2"), &errs); err != nil || errs.Message != "E_ARM_STAT_AGENT_ALREADY_LOGGED_IN" {
		t.Errorf("second sign-in notification: %+v %v", errs, err)
	}

	if r := put("<Media><state>NOT_READY</state><reasonCodeId>1</reasonCodeId></Media>", "m-3"); r.status != http.StatusAccepted {
		t.Fatalf("media NOT_READY: %d %s", r.status, r.body)
	}
	wantMediaUpdate(t, h.pub.take(), "1001", "m-3")

	// GET of one MRD and of the list.
	r = h.get("1001", "/finesse/api/User/1001/Media/2")
	m = mediaDoc{}
	if r.status != http.StatusOK || xml.Unmarshal([]byte(r.body), &m) != nil || m.State != "NOT_READY" || m.ReasonCodeID != "1" {
		t.Errorf("GET Media/2: %d %s", r.status, r.body)
	}
	r = h.get("1001", "/finesse/api/User/1001/Media")
	var list struct {
		XMLName xml.Name   `xml:"MediaList"`
		Media   []mediaDoc `xml:"Media"`
	}
	if r.status != http.StatusOK || xml.Unmarshal([]byte(r.body), &list) != nil || len(list.Media) != 1 || list.Media[0].ID != "2" {
		t.Errorf("GET Media: %d %s", r.status, r.body)
	}

	if r := put("<Media><state>LOGOUT</state></Media>", ""); r.status != http.StatusAccepted {
		t.Fatalf("media LOGOUT: %d %s", r.status, r.body)
	}
	wantMediaUpdate(t, h.pub.take(), "1001", "")
}

func TestMediaErrors(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name, path, body string
		status           int
		errType, data    string
	}{
		{"malformed XML", "/finesse/api/User/1001/Media/2", "<Media><state>LOGIN</Media>", 400, "Invalid Input", ""},
		{"a User body", "/finesse/api/User/1001/Media/2", "<User><state>LOGIN</state></User>", 400, "Invalid Input", ""},
		{"missing state", "/finesse/api/User/1001/Media/2", "<Media><maxDialogLimit>2</maxDialogLimit></Media>", 400, "Parameter Missing", "state"},
		{"maxDialogLimit no number", "/finesse/api/User/1001/Media/2", "<Media><state>LOGIN</state><maxDialogLimit>x</maxDialogLimit></Media>", 400, "Invalid Input", "x"},
		{"maxDialogLimit over the MRD's", "/finesse/api/User/1001/Media/2", "<Media><state>LOGIN</state><maxDialogLimit>6</maxDialogLimit></Media>", 400, "Invalid Input", "maxDialogLimit"},
		{"unknown interruptAction", "/finesse/api/User/1001/Media/2", "<Media><state>LOGIN</state><interruptAction>MAYBE</interruptAction></Media>", 400, "Invalid Input", "interruptAction"},
		{"unknown state", "/finesse/api/User/1001/Media/2", "<Media><state>NAPPING</state></Media>", 400, "Invalid Input", "state"},
		{"illegal transition", "/finesse/api/User/1001/Media/2", "<Media><state>READY</state></Media>", 400, "Invalid State", ""},
		{"LOGOUT reason code for NOT_READY", "/finesse/api/User/1001/Media/2", "<Media><state>NOT_READY</state><reasonCodeId>11</reasonCodeId></Media>", 400, "Invalid Input", ""},
		{"unknown MRD", "/finesse/api/User/1001/Media/9", "<Media><state>LOGIN</state></Media>", 404, "Not Found", "9"},
		{"MRD id no number", "/finesse/api/User/1001/Media/chat", "<Media><state>LOGIN</state></Media>", 404, "Not Found", "chat"},
		{"MRD id with a leading zero", "/finesse/api/User/1001/Media/02", "<Media><state>LOGIN</state></Media>", 404, "Not Found", "02"},
		{"the voice MRD", "/finesse/api/User/1001/Media/1", "<Media><state>LOGIN</state></Media>", 404, "Not Found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantAPIError(t, h.put("1001", c.path, c.body), c.status, c.errType, "", c.data)
		})
	}
	wantAPIError(t, h.get("1001", "/finesse/api/User/1001/Media/1"), 404, "Not Found", "", "")
	wantAPIError(t, h.get("1001", "/finesse/api/User/1001/Media/9"), 404, "Not Found", "", "9")
	if s, ok := h.agents.MediaState("1001", 2); !ok || s != "LOGOUT" {
		t.Errorf("media state %s %v, want LOGOUT", s, ok)
	}
	h.wantNothingPublished()
}
