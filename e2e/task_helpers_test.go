package e2e

import (
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
)

// Task routing as its three parties see it: a multichannel application
// submitting tasks to the CCP Task API (no credentials), agent 1080's
// desktop acting on them over the Finesse REST API and hearing of them
// over XMPP, and the administrator following the contacts on the
// campaign's pubsub node. Everything is read off the wire.

// The default directory's task set-up (finesse/directory/default.yaml).
const (
	taskAgent    = "1080"
	taskMRD      = "5001"
	taskMRDName  = "Cisco_Task_MRD"
	taskFeedPath = "/ccp/rest/task/feed/100000"
	campaignNode = "ccp.campaign.updates.Cisco_Default_Task_Campaign"
	// The CumulusTask script selector's queue.
	taskSelector    = "CumulusTask"
	taskQueueNumber = "12282837"
)

// The task agent's nodes and URIs.
var (
	taskMediaNode   = userNode(taskAgent, "/Media")
	taskDialogsNode = userNode(taskAgent, "/Dialogs/Media")
	taskMediaURI    = userNode(taskAgent, "/Media/"+taskMRD)
	taskMediaDlgURI = userNode(taskAgent, "/Media/"+taskMRD+"/Dialogs")
)

// taskDesk is one test's parties: the app, an HTTPS client, agent 1080's
// session and the administrator's, subscribed to the campaign's node.
type taskDesk struct {
	a            *app.App
	hc           *http.Client
	agent, admin *client.Client
}

// newTaskDesk brings agent 1080 online over tr, signs it in to the task
// MRD with maxDialogLimit limit and makes it READY there over REST, and
// brings the administrator online, subscribed with its bare JID to the
// default campaign's node. It checks the two Media Updates the agent's
// session receives, and that nothing else arrived.
func newTaskDesk(t *testing.T, tr transport, a *app.App, limit int) *taskDesk {
	t.Helper()
	d := &taskDesk{a: a, hc: restClient(t, a)}
	d.agent = online(t, tr, a, taskAgent, "desk", 0)
	d.admin = online(t, tr, a, "admin", "ccp-monitor", 0)
	subscribe(t, d.admin, campaignNode, bareJID(d.admin.JID))
	d.notes(t, d.agent)
	d.notes(t, d.admin)

	login := "media-login-" + tr.name
	d.putMedia(t, "<Media><state>LOGIN</state><maxDialogLimit>"+strconv.Itoa(limit)+
		"</maxDialogLimit><dialogLogoutAction>CLOSE</dialogLogoutAction></Media>", login)
	ready := "media-ready-" + tr.name
	d.putMedia(t, "<Media><state>READY</state></Media>", ready)
	ns := d.notes(t, d.agent)
	if len(ns) != 2 {
		t.Fatalf("sign-in and READY in MRD %s: the agent received %d notifications, want 2 Media Updates: %s", taskMRD, len(ns), describeNotes(ns))
	}
	m := d.checkMedia(t, "Media LOGIN", ns[0], "NOT_READY", login)
	if got, _ := xmlPath(m, "maxDialogLimit"); got != strconv.Itoa(limit) {
		t.Errorf("Media LOGIN: maxDialogLimit %q, want %d", got, limit)
	}
	d.checkMedia(t, "Media READY", ns[1], "READY", ready)
	if ns := d.notes(t, d.admin); len(ns) != 0 {
		t.Errorf("the agent's sign-in reached the administrator: %s", describeNotes(ns))
	}
	return d
}

// putMedia PUTs body on the agent's task MRD and checks the 202.
func (d *taskDesk) putMedia(t *testing.T, body, requestID string) {
	t.Helper()
	ans := restCall(t, d.hc, d.a, http.MethodPut, taskAgent, "password", taskMediaURI, body, requestID)
	if ans.status != http.StatusAccepted || echoedRequestID(ans) != requestID {
		t.Fatalf("PUT %s %s: %d %q (requestId %q), want 202 echoing %q", taskMediaURI, body, ans.status, ans.body, echoedRequestID(ans), requestID)
	}
}

// act PUTs requestedAction on dialog id as caller and returns the answer.
func (d *taskDesk) act(t *testing.T, caller, id, action, requestID string) restAnswer {
	t.Helper()
	body := "<Dialog><requestedAction>" + action + "</requestedAction><targetMediaAddress>" + taskAgent + "</targetMediaAddress></Dialog>"
	return restCall(t, d.hc, d.a, http.MethodPut, caller, "password", "/finesse/api/Dialog/"+id, body, requestID)
}

// actAccepted acts as the agent and checks the 202 with the requestId echoed.
func (d *taskDesk) actAccepted(t *testing.T, id, action, requestID string) {
	t.Helper()
	ans := d.act(t, taskAgent, id, action, requestID)
	if ans.status != http.StatusAccepted || ans.body != "" || echoedRequestID(ans) != requestID {
		t.Fatalf("PUT %s %s: %d %q (requestId %q), want 202 with no body echoing %q", action, id, ans.status, ans.body, echoedRequestID(ans), requestID)
	}
}

// ccpCall sends method path to the Task API as a multichannel
// application does: over the REST listener, without credentials.
func (d *taskDesk) ccpCall(t *testing.T, method, path, body string) restAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "https://"+d.a.Addr(app.ListenerREST)+path, rd)
	must(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
	}
	resp, err := d.hc.Do(req)
	must(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	must(t, err)
	return restAnswer{status: resp.StatusCode, body: string(data), header: resp.Header}
}

var contactIDPattern = regexp.MustCompile(`^[0-9A-F]{32}$`)

// submit POSTs body to the default feed, checks the 201 and its Location
// (…/ccp/rest/task/contact/<32 hex digits> on the listener the request
// reached) and returns the contact id.
func (d *taskDesk) submit(t *testing.T, body string) string {
	t.Helper()
	ans := d.ccpCall(t, http.MethodPost, taskFeedPath, body)
	if ans.status != http.StatusCreated {
		t.Fatalf("POST %s: %d %s, want 201", taskFeedPath, ans.status, ans.body)
	}
	loc := ans.header.Get("Location")
	prefix := "https://" + d.a.Addr(app.ListenerREST) + "/ccp/rest/task/contact/"
	id, ok := strings.CutPrefix(loc, prefix)
	if !ok || !contactIDPattern.MatchString(id) {
		t.Fatalf("POST %s: Location %q, want %s<32 upper-case hex digits>", taskFeedPath, loc, prefix)
	}
	return id
}

// taskPoll is the Task API's poll answer.
type taskPoll struct {
	raw                                            string
	status, reason, taskID, agentID, estimatedWait string
}

// poll GETs the contact's poll URL and checks the 200.
func (d *taskDesk) poll(t *testing.T, id string) taskPoll {
	t.Helper()
	path := "/ccp/rest/task/contact/" + id
	ans := d.ccpCall(t, http.MethodGet, path, "")
	if ans.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, ans.status, ans.body)
	}
	root := parseXML(t, "the Task poll", ans.body)
	if root.Tag != "Task" {
		t.Fatalf("GET %s: <%s>, want <Task>: %s", path, root.Tag, ans.body)
	}
	p := taskPoll{raw: ans.body}
	p.status, _ = xmlPath(root, "status")
	p.reason, _ = xmlPath(root, "statusReason")
	p.taskID, _ = xmlPath(root, "taskID")
	p.agentID, _ = xmlPath(root, "agentID")
	p.estimatedWait, _ = xmlPath(root, "estimatedWaitTime")
	return p
}

// wantPoll checks a contact's status, reason and (for a reserved or
// handled one) its task id and agent.
func (d *taskDesk) wantPoll(t *testing.T, id, status, reason, taskID string) taskPoll {
	t.Helper()
	p := d.poll(t, id)
	agent := ""
	if taskID != "" {
		agent = taskAgent
	}
	if p.status != status || p.reason != reason || p.taskID != taskID || p.agentID != agent {
		t.Errorf("poll of %s: status %q reason %q taskID %q agentID %q, want %q %q %q %q (%s)",
			id, p.status, p.reason, p.taskID, p.agentID, status, reason, taskID, agent, p.raw)
	}
	if status == "QUEUED" && p.estimatedWait != "-1" {
		// No agent is eligible: the router cannot estimate.
		t.Errorf("poll of queued %s: estimatedWaitTime %q, want -1 (%s)", id, p.estimatedWait, p.raw)
	}
	if status != "QUEUED" && strings.Contains(p.raw, "estimatedWaitTime") {
		t.Errorf("poll of %s %s carries an estimatedWaitTime: %s", status, id, p.raw)
	}
	return p
}

// taskNote is one pubsub items notification a session received.
type taskNote struct {
	node string
	msg  *etree.Element
	text string // the unescaped text of its <notification>
}

// notes returns, after a ping round trip as the barrier, every pubsub
// notification c has received and not consumed, in order, and consumes
// them. Everything a REST call publishes is published before its answer,
// so after the answer and the ping it has all arrived.
func (d *taskDesk) notes(t *testing.T, c *client.Client) []taskNote {
	t.Helper()
	var out []taskNote
	for _, msg := range pubsubEventsSoFar(t, c) {
		items := child(child(msg, "event", nsPubsubEvent), "items", nsPubsubEvent)
		if items == nil {
			t.Errorf("%s received a pubsub notification without items: %s", c.JID, short(msg))
		} else {
			out = append(out, taskNote{node: items.SelectAttrValue("node", ""), msg: msg, text: notificationText(t, eventItem(t, msg))})
		}
		if _, err := c.Await("the backlog's notification", func(el *etree.Element) bool { return el == msg }); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// describeNotes lists notifications for a failure message.
func describeNotes(ns []taskNote) string {
	var parts []string
	for _, n := range ns {
		text := n.text
		if len(text) > 300 {
			text = text[:300] + "…"
		}
		parts = append(parts, n.node+": "+text)
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// checkMedia checks a Media Update of the task MRD as the agent's session
// received it, and returns the <Media>.
func (d *taskDesk) checkMedia(t *testing.T, what string, n taskNote, state, requestID string) *etree.Element {
	t.Helper()
	if n.node != taskMediaNode {
		t.Fatalf("%s: a notification on %s, want %s: %s", what, n.node, taskMediaNode, n.text)
	}
	checkEnvelope(t, n.msg, taskMediaNode, bareJID(d.agent.JID))
	u := parseUpdate(t, n.msg)
	if u.event != "PUT" || u.requestID != requestID || u.source != taskMediaURI {
		t.Errorf("%s: event %q requestId %q source %q, want PUT %q %q", what, u.event, u.requestID, u.source, requestID, taskMediaURI)
	}
	if u.data == nil || u.data.Tag != "Media" {
		t.Fatalf("%s: data is not a <Media>: %s", what, n.text)
	}
	for path, want := range map[string]string{"id": taskMRD, "name": taskMRDName, "state": state, "uri": taskMediaURI} {
		if got, _ := xmlPath(u.data, path); got != want {
			t.Errorf("%s: <Media><%s> %q, want %q", what, path, got, want)
		}
	}
	return u.data
}

// checkDialogNote checks a notification of the agent's Dialogs/Media node:
// a POST or DELETE of <dialogs><Dialog/></dialogs> on the MRD's dialog
// list, or a PUT of <dialog/> on the dialog's URI. It returns the dialog.
func (d *taskDesk) checkDialogNote(t *testing.T, what string, n taskNote, event, requestID string) *etree.Element {
	t.Helper()
	if n.node != taskDialogsNode {
		t.Fatalf("%s: a notification on %s, want %s: %s", what, n.node, taskDialogsNode, n.text)
	}
	checkEnvelope(t, n.msg, taskDialogsNode, bareJID(d.agent.JID))
	u := parseUpdate(t, n.msg)
	if u.event != event || u.requestID != requestID {
		t.Errorf("%s: event %q requestId %q, want %q %q", what, u.event, u.requestID, event, requestID)
	}
	if u.data == nil {
		t.Fatalf("%s: no data: %s", what, n.text)
	}
	var dlg *etree.Element
	wantSource := taskMediaDlgURI
	switch event {
	case "POST", "DELETE":
		list := u.data.ChildElements()
		if u.data.Tag != "dialogs" || len(list) != 1 || list[0].Tag != "Dialog" {
			t.Fatalf("%s: data is not <dialogs><Dialog/></dialogs>: %s", what, n.text)
		}
		dlg = list[0]
	default:
		if u.data.Tag != "dialog" {
			t.Fatalf("%s: data is not a <dialog>: %s", what, n.text)
		}
		dlg = u.data
		id, _ := xmlPath(dlg, "id")
		wantSource = "/finesse/api/Dialog/" + id
	}
	if u.source != wantSource {
		t.Errorf("%s: source %q, want %q", what, u.source, wantSource)
	}
	return dlg
}

// dialogActions is the participant's actions in order.
func dialogActions(dlg *etree.Element) []string {
	var out []string
	if p := dlg.FindElement("participants/Participant/actions"); p != nil {
		for _, a := range p.SelectElements("action") {
			out = append(out, textOf(a))
		}
	}
	return out
}

// callVariables is the dialog's <callvariables> as name=value pairs, in order.
func callVariables(dlg *etree.Element) []string {
	var out []string
	if cv := dlg.FindElement("mediaProperties/callvariables"); cv != nil {
		for _, v := range cv.SelectElements("CallVariable") {
			name, _ := xmlPath(v, "name")
			value, _ := xmlPath(v, "value")
			out = append(out, name+"="+value)
		}
	}
	return out
}

var finesseTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// checkDialog checks a task dialog of agent 1080 in the CumulusTask
// queue in state (its participant's too), holding the actions of that
// state, with the call variables vars, and returns its id.
func checkDialog(t *testing.T, what string, dlg *etree.Element, state string, actions, vars []string) string {
	t.Helper()
	id, _ := xmlPath(dlg, "id")
	day, _ := xmlPath(dlg, "taskId/routerCallKeyDay")
	callID, _ := xmlPath(dlg, "taskId/routerCallKeyCallID")
	seq, _ := xmlPath(dlg, "taskId/routerCallKeySequenceNum")
	if id == "" || id != day+"_"+callID+"_"+seq {
		t.Errorf("%s: id %q, want routerCallKeyDay_routerCallKeyCallID_routerCallKeySequenceNum (%s_%s_%s)", what, id, day, callID, seq)
	}
	if _, err := strconv.Atoi(callID); err != nil {
		t.Errorf("%s: routerCallKeyCallID %q is not a number", what, callID)
	}
	// The day counts from 1 January 1601 (UTC), as the router's call keys do.
	epoch := time.Date(1601, 1, 1, 0, 0, 0, 0, time.UTC)
	// (Not time.Sub: a Duration does not reach back 400 years.)
	today := int((time.Now().Unix() - epoch.Unix()) / (24 * 60 * 60))
	if n, err := strconv.Atoi(day); err != nil || (n != today && n != today-1) {
		t.Errorf("%s: routerCallKeyDay %q, want today's %d", what, day, today)
	}
	if seq != "1" {
		t.Errorf("%s: routerCallKeySequenceNum %q, want 1 for a task routed once", what, seq)
	}
	want := map[string]string{
		"mediaProperties/mediaId":               taskMRD,
		"mediaProperties/dialedNumber":          taskSelector,
		"mediaProperties/queueNumber":           taskQueueNumber,
		"mediaProperties/queueName":             taskSelector,
		"mediaProperties/callKeyCallId":         callID,
		"mediaProperties/callKeyPrefix":         day,
		"mediaProperties/callKeySequenceNum":    seq,
		"mediaType":                             taskMRDName,
		"participants/Participant/mediaAddress": taskAgent,
		"participants/Participant/state":        state,
		"state":                                 state,
		"uri":                                   "/finesse/api/Dialog/" + id,
	}
	for path, w := range want {
		if got, ok := xmlPath(dlg, path); !ok || got != w {
			t.Errorf("%s: <%s> %q, want %q", what, path, got, w)
		}
	}
	for _, path := range []string{"participants/Participant/startTime", "participants/Participant/stateChangeTime"} {
		if got, _ := xmlPath(dlg, path); !finesseTime.MatchString(got) {
			t.Errorf("%s: <%s> %q is not Finesse's UTC time", what, path, got)
		}
	}
	if got := dialogActions(dlg); !slices.Equal(got, actions) {
		t.Errorf("%s: actions %q, want %q", what, got, actions)
	}
	if got := callVariables(dlg); !slices.Equal(got, vars) {
		t.Errorf("%s: call variables %q, want %q", what, got, vars)
	}
	return id
}

// socialContact is a SocialContact as the administrator's session
// received it.
type socialContact struct {
	fields map[string]string // the text children: id, status, statusReason…
	ext    map[string]string // extensionFields by name
}

// checkSocialContact checks a notification of the campaign's node and
// reads its SocialContact.
func (d *taskDesk) checkSocialContact(t *testing.T, what string, n taskNote) socialContact {
	t.Helper()
	if n.node != campaignNode {
		t.Fatalf("%s: a notification on %s, want %s: %s", what, n.node, campaignNode, n.text)
	}
	checkEnvelope(t, n.msg, campaignNode, bareJID(d.admin.JID))
	root := parseXML(t, what+": the SocialContact", n.text)
	if root.Tag != "SocialContact" {
		t.Fatalf("%s: <%s>, want <SocialContact>: %s", what, root.Tag, n.text)
	}
	sc := socialContact{fields: map[string]string{}, ext: map[string]string{}}
	for _, el := range root.ChildElements() {
		if len(el.ChildElements()) == 0 {
			sc.fields[el.Tag] = textOf(el)
		}
	}
	for _, f := range root.FindElements("extensionFields/extensionField") {
		name, _ := xmlPath(f, "name")
		sc.ext[name], _ = xmlPath(f, "value")
	}
	return sc
}

// wantContact checks that a SocialContact is contact id in status, with
// reason and statusUserId.
func wantContact(t *testing.T, what string, sc socialContact, id, status, reason, user string) {
	t.Helper()
	f := sc.fields
	if f["id"] != id || f["status"] != status || f["statusReason"] != reason || f["statusUserId"] != user {
		t.Errorf("%s: id %q status %q statusReason %q statusUserId %q, want %q %q %q %q",
			what, f["id"], f["status"], f["statusReason"], f["statusUserId"], id, status, reason, user)
	}
	if f["campaignPublicId"] != "Cisco_Default_Task_Campaign" || f["sourceType"] != "task" {
		t.Errorf("%s: campaignPublicId %q sourceType %q", what, f["campaignPublicId"], f["sourceType"])
	}
	if sc.ext["scriptSelector"] != taskSelector {
		t.Errorf("%s: extension field scriptSelector %q, want %q", what, sc.ext["scriptSelector"], taskSelector)
	}
}

// taskBody is a <Task> for the CumulusTask queue with call variable 1 and
// the ECC variable customerName, whose values need escaping.
func taskBody(name string) string {
	return "<Task><name>" + name + "</name><title>Order help</title><description>Asked on the web</description>" +
		"<scriptSelector>" + taskSelector + "</scriptSelector><tags><tag>e2e</tag></tags><variables>" +
		"<variable><name>cv_1</name><value>" + cv1(name) + "</value></variable>" +
		"<variable><name>user_customerName</name><value>Zoë &amp; &lt;Co&gt;</value></variable>" +
		"</variables></Task>"
}

// cv1 is the value of cv_1 that taskBody gives the task name.
func cv1(name string) string { return "order-" + name }

// taskVars are the call variables of taskBody(name) as the dialog shows them.
func taskVars(name string) []string {
	return []string{"callVariable1=" + cv1(name), "user.customerName=Zoë & <Co>"}
}

// The actions per dialog state (FINESSE-REFERENCE §4.3).
var (
	offeredActions  = []string{"ACCEPT"}
	acceptedActions = []string{"UPDATE_CALL_DATA", "TRANSFER", "START", "CLOSE"}
	activeActions   = []string{"PAUSE", "UPDATE_CALL_DATA", "WRAP_UP", "TRANSFER", "CLOSE"}
)

// getAs GETs path as user and returns the 200's body.
func (d *taskDesk) getAs(t *testing.T, user, path string) string {
	t.Helper()
	ans := restCall(t, d.hc, d.a, http.MethodGet, user, "password", path, "", "")
	if ans.status != http.StatusOK {
		t.Fatalf("GET %s as %s: %d %s", path, user, ans.status, ans.body)
	}
	return ans.body
}

// ccpErrorType checks CCP's <APIErrors><APIError> document and returns
// its ErrorType and ErrorData.
func ccpErrorType(t *testing.T, what string, ans restAnswer) (typ, data string) {
	t.Helper()
	root := parseXML(t, what+" answer", ans.body)
	if root.Tag != "APIErrors" || len(root.ChildElements()) != 1 || root.ChildElements()[0].Tag != "APIError" {
		t.Fatalf("%s: answer %q, want <APIErrors><APIError>…", what, ans.body)
	}
	e := root.ChildElements()[0]
	if msg, _ := xmlPath(e, "ErrorMessage"); msg == "" {
		t.Errorf("%s: <APIError> without an ErrorMessage: %q", what, ans.body)
	}
	typ, _ = xmlPath(e, "ErrorType")
	data, _ = xmlPath(e, "ErrorData")
	return typ, data
}
