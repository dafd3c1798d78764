package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

// The Finesse REST API as a desktop uses it, over the REST listener.

// teamUsersNode is the node of team 1's member summaries.
const teamUsersNode = "/finesse/api/Team/1/Users"

// restAnswer is what a REST call answered.
type restAnswer struct {
	status int
	body   string
	header http.Header
}

// restCall sends method path with body (none when "") as user/password
// and, unless requestID is "", the requestId header.
func restCall(t *testing.T, hc *http.Client, a *app.App, method, user, password, path, body, requestID string) restAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://"+a.Addr(app.ListenerREST)+path, rd)
	must(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	req.SetBasicAuth(user, password)
	if requestID != "" {
		req.Header["requestId"] = []string{requestID}
	}
	resp, err := hc.Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	must(t, err)
	return restAnswer{status: resp.StatusCode, body: string(data), header: resp.Header}
}

// putUserState PUTs <User>inner</User> on user id's URI as caller and
// checks the 202 with the requestId echoed.
func putUserState(t *testing.T, hc *http.Client, a *app.App, caller, id, inner, requestID string) {
	t.Helper()
	ans := restCall(t, hc, a, http.MethodPut, caller, "password", userNode(id, ""), "<User>"+inner+"</User>", requestID)
	if ans.status != http.StatusAccepted {
		t.Fatalf("PUT %s as %s with %s: %d %s, want 202", userNode(id, ""), caller, inner, ans.status, ans.body)
	}
	if got := echoedRequestID(ans); got != requestID {
		t.Errorf("PUT %s: requestId header %q, want %q", userNode(id, ""), got, requestID)
	}
}

// echoedRequestID is the answer's requestId header, under any spelling.
func echoedRequestID(ans restAnswer) string {
	for name, values := range ans.header {
		if strings.EqualFold(name, "requestId") && len(values) > 0 {
			return values[0]
		}
	}
	return ""
}

// getUser GETs /finesse/api/User/<id> as the user and returns the body
// after checking the 200.
func getUser(t *testing.T, hc *http.Client, a *app.App, id string) string {
	t.Helper()
	ans := restCall(t, hc, a, http.MethodGet, id, "password", userNode(id, ""), "", "")
	if ans.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", userNode(id, ""), ans.status, ans.body)
	}
	return ans.body
}

// parseXML parses a document the server sent, failing the test if it
// is not one.
func parseXML(t *testing.T, what, doc string) *etree.Element {
	t.Helper()
	el, err := server.ParseDocument([]byte(doc), server.Limits{MaxBytes: 1 << 20, MaxDepth: 100})
	if err != nil {
		t.Fatalf("%s is not an XML document (%v): %q", what, err, doc)
	}
	return el
}

// xmlPath returns the text of the element at the slash-separated path of
// children under el, and whether it is there.
func xmlPath(el *etree.Element, p string) (string, bool) {
	for _, name := range strings.Split(p, "/") {
		if el = el.SelectElement(name); el == nil {
			return "", false
		}
	}
	return textOf(el), true
}

// userState is the state and reason code of a <User>/<user> element.
func userState(el *etree.Element) (state, reasonCode string) {
	state, _ = xmlPath(el, "state")
	reasonCode, _ = xmlPath(el, "ReasonCode/code")
	return state, reasonCode
}

// apiErrorType checks the ApiErrors shape of a synchronous error and
// returns its ErrorType.
func apiErrorType(t *testing.T, what string, ans restAnswer) string {
	t.Helper()
	root := parseXML(t, what+" answer", ans.body)
	if root.Tag != "ApiErrors" || len(root.ChildElements()) != 1 || root.ChildElements()[0].Tag != "ApiError" {
		t.Fatalf("%s: answer %q, want <ApiErrors><ApiError>…", what, ans.body)
	}
	e := root.ChildElements()[0]
	for _, name := range []string{"ErrorType", "ErrorMessage", "ErrorData"} {
		if e.SelectElement(name) == nil {
			t.Errorf("%s: <ApiError> without <%s>: %q", what, name, ans.body)
		}
	}
	typ, _ := xmlPath(e, "ErrorType")
	return typ
}

// finesseUpdate is a parsed <Update/> of a notification.
type finesseUpdate struct {
	data                     *etree.Element // the single child of <data>, nil if none
	event, requestID, source string
}

// parseUpdate unescapes the notification's single item and parses its
// Update.
func parseUpdate(t *testing.T, msg *etree.Element) finesseUpdate {
	t.Helper()
	text := notificationText(t, eventItem(t, msg))
	root := parseXML(t, "the notification's Update", text)
	if root.Tag != "Update" {
		t.Fatalf("notification carries <%s>, want <Update>: %q", root.Tag, text)
	}
	u := finesseUpdate{}
	u.event, _ = xmlPath(root, "event")
	u.requestID, _ = xmlPath(root, "requestId")
	u.source, _ = xmlPath(root, "source")
	if data := root.SelectElement("data"); data != nil && len(data.ChildElements()) == 1 {
		u.data = data.ChildElements()[0]
	} else {
		t.Errorf("Update without one element in <data>: %q", text)
	}
	return u
}

// awaitUpdate waits for a notification on node whose Update carries
// requestID, skipping earlier ones on that node, and returns it parsed.
func awaitUpdate(t *testing.T, c *client.Client, node, requestID string) finesseUpdate {
	t.Helper()
	for {
		u := parseUpdate(t, awaitItem(t, c, node))
		if u.requestID == requestID {
			return u
		}
	}
}

// updatesSoFar returns, after a ping round trip as the barrier, the
// Updates on node ("" for any node) that c has received and not
// consumed, and consumes every pubsub notification of the backlog.
func updatesSoFar(t *testing.T, c *client.Client, node string) []finesseUpdate {
	t.Helper()
	match := isItemsEvent(node)
	if node == "" {
		match = func(el *etree.Element) bool {
			return child(child(el, "event", nsPubsubEvent), "items", nsPubsubEvent) != nil
		}
	}
	var out []finesseUpdate
	for _, msg := range pubsubEventsSoFar(t, c) {
		if match(msg) {
			out = append(out, parseUpdate(t, msg))
		}
		if _, err := c.Await("the backlog's notification", func(el *etree.Element) bool { return el == msg }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkUserUpdate checks an Update of user id's node (or, summary, of
// its team's) against the state and requestId it must carry.
func checkUserUpdate(t *testing.T, what string, u finesseUpdate, id, state, requestID string) {
	t.Helper()
	if u.event != "PUT" || u.requestID != requestID || u.source != userNode(id, "") {
		t.Errorf("%s: event %q requestId %q source %q, want PUT %q %q", what, u.event, u.requestID, u.source, requestID, userNode(id, ""))
	}
	if u.data == nil || u.data.Tag != "user" {
		t.Fatalf("%s: data is not a <user>", what)
	}
	if got, _ := xmlPath(u.data, "loginId"); got != id {
		t.Errorf("%s: loginId %q, want %q", what, got, id)
	}
	if got, _ := userState(u.data); got != state {
		t.Errorf("%s: state %q, want %q", what, got, state)
	}
}
