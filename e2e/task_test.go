package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/app"
)

// TestTaskOfferedAcceptedActiveClosed: a task submitted to the Task API
// reaches agent 1080, READY in the task MRD, as an OFFERED Dialog POSTed
// on its Dialogs/Media node (Media RESERVED first); ACCEPT, START and
// CLOSE over REST give the ACCEPTED and ACTIVE PUTs and the CLOSED DELETE
// with its disposition, the Media going ACTIVE and READY again; the
// administrator follows the contact unread, queued, reserved, handled;
// the poll follows it too.
func TestTaskOfferedAcceptedActiveClosed(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		d := newTaskDesk(t, tr, a, 3)
		name := "web-" + tr.name

		contact := d.submit(t, taskBody(name))
		ns := d.notes(t, d.agent)
		if len(ns) != 2 {
			t.Fatalf("the offer: the agent received %d notifications, want Media RESERVED then the Dialog POST: %s", len(ns), describeNotes(ns))
		}
		d.checkMedia(t, "the offer's Media", ns[0], "RESERVED", "")
		dlg := d.checkDialogNote(t, "OFFERED", ns[1], "POST", "")
		id := checkDialog(t, "OFFERED", dlg, "OFFERED", offeredActions, taskVars(name))
		startTime, _ := xmlPath(dlg, "participants/Participant/startTime")

		admin := d.notes(t, d.admin)
		if len(admin) != 3 {
			t.Fatalf("the submission: the administrator received %d notifications, want unread, queued, reserved: %s", len(admin), describeNotes(admin))
		}
		unread := d.checkSocialContact(t, "unread", admin[0])
		wantContact(t, "unread", unread, contact, "unread", "unknown", "")
		if f := unread.fields; f["author"] != name || f["title"] != "Order help" || f["description"] != "Asked on the web" {
			t.Errorf("unread: author %q title %q description %q", f["author"], f["title"], f["description"])
		}
		if unread.ext["cv_1"] != cv1(name) || unread.ext["user_customerName"] != "Zoë & <Co>" {
			t.Errorf("unread: extension fields %v, want cv_1 and user_customerName as submitted", unread.ext)
		}
		wantContact(t, "queued", d.checkSocialContact(t, "queued", admin[1]), contact, "queued", "externally_routed", "system")
		reserved := d.checkSocialContact(t, "reserved", admin[2])
		wantContact(t, "reserved", reserved, contact, "reserved", "externally_routed", taskAgent)
		if reserved.ext["taskID"] != id || reserved.ext["mrdID"] != taskMRD {
			t.Errorf("reserved: taskID %q mrdID %q, want %q %q", reserved.ext["taskID"], reserved.ext["mrdID"], id, taskMRD)
		}
		d.wantPoll(t, contact, "RESERVED", "EXTERNALLY_ROUTED", id)

		// ACCEPT: the dialog alone changes; the MRD stays RESERVED.
		accept := "accept-" + tr.name
		d.actAccepted(t, id, "ACCEPT", accept)
		ns = d.notes(t, d.agent)
		if len(ns) != 1 {
			t.Fatalf("ACCEPT: the agent received %d notifications, want the Dialog PUT: %s", len(ns), describeNotes(ns))
		}
		dlg = d.checkDialogNote(t, "ACCEPTED", ns[0], "PUT", accept)
		if got := checkDialog(t, "ACCEPTED", dlg, "ACCEPTED", acceptedActions, taskVars(name)); got != id {
			t.Errorf("ACCEPTED: dialog %q, want %q", got, id)
		}
		if got, _ := xmlPath(dlg, "participants/Participant/startTime"); got != startTime {
			t.Errorf("ACCEPTED: startTime %q, want the offer's %q", got, startTime)
		}
		if got := d.getAs(t, taskAgent, "/finesse/api/Dialog/"+id); !strings.Contains(got, "<state>ACCEPTED</state>") {
			t.Errorf("GET the dialog after ACCEPT: %s", got)
		}

		// START: Media ACTIVE, then the dialog.
		start := "start-" + tr.name
		d.actAccepted(t, id, "START", start)
		ns = d.notes(t, d.agent)
		if len(ns) != 2 {
			t.Fatalf("START: the agent received %d notifications, want Media ACTIVE then the Dialog PUT: %s", len(ns), describeNotes(ns))
		}
		d.checkMedia(t, "START's Media", ns[0], "ACTIVE", start)
		dlg = d.checkDialogNote(t, "ACTIVE", ns[1], "PUT", start)
		if got := checkDialog(t, "ACTIVE", dlg, "ACTIVE", activeActions, taskVars(name)); got != id {
			t.Errorf("ACTIVE: dialog %q, want %q", got, id)
		}

		// CLOSE: Media READY, then the DELETE with the disposition.
		closeID := "close-" + tr.name
		d.actAccepted(t, id, "CLOSE", closeID)
		ns = d.notes(t, d.agent)
		if len(ns) != 2 {
			t.Fatalf("CLOSE: the agent received %d notifications, want Media READY then the Dialog DELETE: %s", len(ns), describeNotes(ns))
		}
		d.checkMedia(t, "CLOSE's Media", ns[0], "READY", closeID)
		dlg = d.checkDialogNote(t, "CLOSED", ns[1], "DELETE", closeID)
		if got := checkDialog(t, "CLOSED", dlg, "CLOSED", nil, taskVars(name)); got != id {
			t.Errorf("CLOSED: dialog %q, want %q", got, id)
		}
		if got, _ := xmlPath(dlg, "dispositionCode"); got != "CD_NORMAL_END_DIALOG" {
			t.Errorf("CLOSED: dispositionCode %q, want CD_NORMAL_END_DIALOG", got)
		}
		admin = d.notes(t, d.admin)
		if len(admin) != 1 {
			t.Fatalf("CLOSE: the administrator received %d notifications, want handled: %s", len(admin), describeNotes(admin))
		}
		handled := d.checkSocialContact(t, "handled", admin[0])
		wantContact(t, "handled", handled, contact, "handled", "externally_handled", taskAgent)
		if handled.ext["taskID"] != id {
			t.Errorf("handled: taskID %q, want %q", handled.ext["taskID"], id)
		}
		d.wantPoll(t, contact, "HANDLED", "EXTERNALLY_HANDLED", id)
		if ans := restCall(t, d.hc, a, http.MethodGet, taskAgent, "password", "/finesse/api/Dialog/"+id, "", ""); ans.status != http.StatusNotFound {
			t.Errorf("GET the closed dialog: %d %s, want 404", ans.status, ans.body)
		}
		if got := d.getAs(t, taskAgent, taskMediaDlgURI); got != "<Dialogs/>" {
			t.Errorf("GET %s after CLOSE: %s, want <Dialogs/>", taskMediaDlgURI, got)
		}
		// The administrator's Social Contact GET is the object it was sent.
		sc := d.getAs(t, "admin", "/ccp-webapp/ccp/socialcontact/"+contact)
		if sc != admin[0].text {
			t.Errorf("GET the social contact:\n%s\nwant what was published:\n%s", sc, admin[0].text)
		}
	})
}

// TestTaskLimitQueuesTheRest: with maxDialogLimit 3, five tasks give three
// offers and two queued tasks; closing one offers the oldest waiting.
func TestTaskLimitQueuesTheRest(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		d := newTaskDesk(t, tr, a, 3)
		var contacts, dialogs []string
		for i := 1; i <= 5; i++ {
			name := fmt.Sprintf("task-%d-%s", i, tr.name)
			contacts = append(contacts, d.submit(t, taskBody(name)))
			ns := d.notes(t, d.agent)
			want := 0
			switch i {
			case 1:
				want = 2 // Media RESERVED, the Dialog POST
				d.checkMedia(t, "the first offer's Media", ns[0], "RESERVED", "")
			case 2, 3:
				want = 1 // the MRD is RESERVED already
			}
			if len(ns) != want {
				t.Fatalf("task %d: the agent received %d notifications, want %d: %s", i, len(ns), want, describeNotes(ns))
			}
			if want > 0 {
				dlg := d.checkDialogNote(t, fmt.Sprintf("offer %d", i), ns[want-1], "POST", "")
				dialogs = append(dialogs, checkDialog(t, fmt.Sprintf("offer %d", i), dlg, "OFFERED", offeredActions, taskVars(name)))
			}
			statuses := []string{"unread", "queued", "reserved"}
			if i > 3 {
				statuses = statuses[:2]
			}
			admin := d.notes(t, d.admin)
			if len(admin) != len(statuses) {
				t.Fatalf("task %d: the administrator received %d notifications, want %v: %s", i, len(admin), statuses, describeNotes(admin))
			}
			for j, status := range statuses {
				if sc := d.checkSocialContact(t, status, admin[j]); sc.fields["id"] != contacts[i-1] || sc.fields["status"] != status {
					t.Errorf("task %d: SocialContact %d is %s %s, want %s %s", i, j, sc.fields["id"], sc.fields["status"], contacts[i-1], status)
				}
			}
		}
		for i, id := range dialogs {
			d.wantPoll(t, contacts[i], "RESERVED", "EXTERNALLY_ROUTED", id)
		}
		d.wantPoll(t, contacts[3], "QUEUED", "EXTERNALLY_ROUTED", "")
		d.wantPoll(t, contacts[4], "QUEUED", "EXTERNALLY_ROUTED", "")
		if list := d.getAs(t, taskAgent, taskMediaDlgURI); strings.Count(list, "<Dialog>") != 3 {
			t.Errorf("GET %s: %d dialogs, want 3: %s", taskMediaDlgURI, strings.Count(list, "<Dialog>"), list)
		}

		// The first task is accepted and closed: the fourth is offered.
		d.actAccepted(t, dialogs[0], "ACCEPT", "accept-1")
		ns := d.notes(t, d.agent)
		if len(ns) != 1 {
			t.Fatalf("ACCEPT: the agent received %d notifications, want the Dialog PUT: %s", len(ns), describeNotes(ns))
		}
		d.checkDialogNote(t, "ACCEPTED", ns[0], "PUT", "accept-1")
		d.actAccepted(t, dialogs[0], "CLOSE", "close-1")
		ns = d.notes(t, d.agent)
		if len(ns) != 2 {
			t.Fatalf("CLOSE with tasks waiting: the agent received %d notifications, want the DELETE then the next offer's POST: %s", len(ns), describeNotes(ns))
		}
		closed := d.checkDialogNote(t, "CLOSED", ns[0], "DELETE", "close-1")
		if got, _ := xmlPath(closed, "id"); got != dialogs[0] {
			t.Errorf("CLOSED: dialog %q, want %q", got, dialogs[0])
		}
		next := d.checkDialogNote(t, "the fourth offer", ns[1], "POST", "")
		fourth := checkDialog(t, "the fourth offer", next, "OFFERED", offeredActions, taskVars(fmt.Sprintf("task-4-%s", tr.name)))
		if fourth == dialogs[1] || fourth == dialogs[2] || fourth == dialogs[0] {
			t.Errorf("the fourth offer reuses dialog id %s", fourth)
		}
		admin := d.notes(t, d.admin)
		if len(admin) != 2 {
			t.Fatalf("CLOSE: the administrator received %d notifications, want handled then reserved: %s", len(admin), describeNotes(admin))
		}
		wantContact(t, "handled", d.checkSocialContact(t, "handled", admin[0]), contacts[0], "handled", "externally_handled", taskAgent)
		wantContact(t, "reserved", d.checkSocialContact(t, "reserved", admin[1]), contacts[3], "reserved", "externally_routed", taskAgent)
		d.wantPoll(t, contacts[0], "HANDLED", "EXTERNALLY_HANDLED", dialogs[0])
		d.wantPoll(t, contacts[3], "RESERVED", "EXTERNALLY_ROUTED", fourth)
		d.wantPoll(t, contacts[4], "QUEUED", "EXTERNALLY_ROUTED", "")
	})
}

// TestTaskRefusalsChangeNothing: each documented refusal of the Task API
// and of the Dialog API gets its error, and neither the agent's dialogs,
// its Media, the contacts' polls nor their Social Contacts change, and
// nothing is published; an action the participant does not hold is
// accepted and answered on the agent's Dialogs/Media node alone.
func TestTaskRefusalsChangeNothing(t *testing.T) {
	forEachTransport(t, nil, func(t *testing.T, tr transport, a *app.App) {
		d := newTaskDesk(t, tr, a, 1)
		other := online(t, tr, a, "1001", "desk", 0)
		reserved := d.submit(t, taskBody("first-"+tr.name))
		queued := d.submit(t, taskBody("second-"+tr.name))
		ns := d.notes(t, d.agent)
		if len(ns) != 2 {
			t.Fatalf("two tasks with limit 1: the agent received %d notifications, want Media RESERVED and one offer: %s", len(ns), describeNotes(ns))
		}
		id := checkDialog(t, "the offer", d.checkDialogNote(t, "the offer", ns[1], "POST", ""), "OFFERED", offeredActions, taskVars("first-"+tr.name))
		d.notes(t, d.admin)
		d.wantPoll(t, reserved, "RESERVED", "EXTERNALLY_ROUTED", id)
		d.wantPoll(t, queued, "QUEUED", "EXTERNALLY_ROUTED", "")

		snapshot := func() []string {
			return []string{
				d.getAs(t, taskAgent, "/finesse/api/Dialog/"+id),
				d.getAs(t, taskAgent, taskMediaDlgURI),
				d.getAs(t, taskAgent, taskMediaURI),
				d.poll(t, reserved).raw,
				d.poll(t, queued).raw,
				d.getAs(t, "admin", "/ccp-webapp/ccp/socialcontact/"+reserved),
				d.getAs(t, "admin", "/ccp-webapp/ccp/socialcontact/"+queued),
			}
		}
		before := snapshot()
		unchanged := func(what string) {
			t.Helper()
			after := snapshot()
			for i := range before {
				if after[i] != before[i] {
					t.Errorf("%s changed something:\n%s\nbecame\n%s", what, before[i], after[i])
				}
			}
			expectNoPubsubEvent(t, d.agent, what)
			expectNoPubsubEvent(t, d.admin, what)
			expectNoPubsubEvent(t, other, what)
		}

		var tags strings.Builder
		for i := 1; i <= 21; i++ {
			fmt.Fprintf(&tags, "<tag>tag%d</tag>", i)
		}
		submissions := []struct {
			what, path, body string
			errType, errData string
		}{
			{"a malformed Task body", taskFeedPath, "<Task><name>web</name><title>Order help</title>",
				"processing.xmlSyntaxError", "Task"},
			{"a name of 101 characters", taskFeedPath,
				strings.Replace(taskBody("x"), "<name>x</name>", "<name>"+strings.Repeat("n", 100)+"é</name>", 1),
				"invalidInput.invalidFieldLength", "name"},
			{"21 tags", taskFeedPath,
				strings.Replace(taskBody("x"), "<tags><tag>e2e</tag></tags>", "<tags>"+tags.String()+"</tags>", 1),
				"invalidInput.outOfRange", "tags"},
			{"an unknown feed", "/ccp/rest/task/feed/424242", taskBody("x"), "invalidInput.invalidFeed", "424242"},
		}
		for _, s := range submissions {
			ans := d.ccpCall(t, http.MethodPost, s.path, s.body)
			if ans.status != http.StatusBadRequest || ans.header.Get("Location") != "" {
				t.Errorf("%s: %d (Location %q), want 400 without a Location", s.what, ans.status, ans.header.Get("Location"))
			}
			if typ, data := ccpErrorType(t, s.what, ans); typ != s.errType || data != s.errData {
				t.Errorf("%s: ErrorType %q ErrorData %q, want %q %q", s.what, typ, data, s.errType, s.errData)
			}
			unchanged(s.what)
		}

		// The reserved task can no longer be cancelled.
		ans := d.ccpCall(t, http.MethodDelete, "/ccp/rest/task/contact/"+reserved, "")
		if ans.status != http.StatusBadRequest {
			t.Errorf("DELETE of the reserved task: %d %s, want 400", ans.status, ans.body)
		}
		if typ, data := ccpErrorType(t, "DELETE of the reserved task", ans); typ != "invalidState" || data != reserved {
			t.Errorf("DELETE of the reserved task: ErrorType %q ErrorData %q, want invalidState %q", typ, data, reserved)
		}
		unchanged("DELETE of the reserved task")

		// 1001 acting on 1080's dialog.
		ans = d.act(t, "1001", id, "ACCEPT", "intruder-"+tr.name)
		if ans.status != http.StatusUnauthorized {
			t.Errorf("1001's ACCEPT of 1080's dialog: %d %s, want 401", ans.status, ans.body)
		}
		if got := apiErrorType(t, "1001's ACCEPT of 1080's dialog", ans); got != "Invalid Authorization User Specified" {
			t.Errorf("1001's ACCEPT of 1080's dialog: ErrorType %q, want Invalid Authorization User Specified", got)
		}
		if got := echoedRequestID(ans); got != "intruder-"+tr.name {
			t.Errorf("1001's ACCEPT of 1080's dialog: requestId header %q", got)
		}
		unchanged("1001's ACCEPT of 1080's dialog")

		// START while OFFERED: accepted, answered asynchronously with
		// Finesse's Generic Error on the agent's node alone.
		notHeld := "not-held-" + tr.name
		d.actAccepted(t, id, "START", notHeld)
		ns = d.notes(t, d.agent)
		if len(ns) != 1 || ns[0].node != taskDialogsNode {
			t.Fatalf("START while OFFERED: the agent received %s, want one error notification on %s", describeNotes(ns), taskDialogsNode)
		}
		checkEnvelope(t, ns[0].msg, taskDialogsNode, bareJID(d.agent.JID))
		u := parseUpdate(t, ns[0].msg)
		if u.event != "PUT" || u.requestID != notHeld || u.source != "/finesse/api/Dialog/"+id {
			t.Errorf("START while OFFERED: event %q requestId %q source %q, want PUT %q /finesse/api/Dialog/%s", u.event, u.requestID, u.source, notHeld, id)
		}
		if u.data == nil || u.data.Tag != "apiErrors" || len(u.data.SelectElements("apiError")) != 1 {
			t.Fatalf("START while OFFERED: data is not <apiErrors><apiError/></apiErrors>: %s", ns[0].text)
		}
		e := u.data.SelectElement("apiError")
		for path, want := range map[string]string{"errorType": "Generic Error", "errorMedia": taskMRD} {
			if got, _ := xmlPath(e, path); got != want {
				t.Errorf("START while OFFERED: <%s> %q, want %q", path, got, want)
			}
		}
		for _, path := range []string{"errorData", "errorMessage"} {
			if got, _ := xmlPath(e, path); got == "" {
				t.Errorf("START while OFFERED: no <%s>: %s", path, ns[0].text)
			}
		}
		unchanged("START while OFFERED")

		// After all that the offer still works.
		d.actAccepted(t, id, "ACCEPT", "accept-"+tr.name)
		ns = d.notes(t, d.agent)
		if len(ns) != 1 {
			t.Fatalf("ACCEPT after the refusals: the agent received %s, want the Dialog PUT", describeNotes(ns))
		}
		checkDialog(t, "ACCEPTED after the refusals", d.checkDialogNote(t, "ACCEPTED", ns[0], "PUT", "accept-"+tr.name),
			"ACCEPTED", acceptedActions, taskVars("first-"+tr.name))
	})
}
