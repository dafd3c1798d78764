package ccp

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/task"
)

const fullTask = `<Task>
  <name>user@email</name>
  <title>Report Lost Credit Card</title>
  <description>Card lost abroad</description>
  <scriptSelector>CumulusTask</scriptSelector>
  <tags><tag>card</tag></tags>
  <variables>
    <variable><name>cv_1</name><value>Scott McTominay</value></variable>
    <variable><name>cv_2</name><value>Report Lost Credit Card</value></variable>
    <variable><name>user_acct</name><value>123456789</value></variable>
    <variable><name>mediaType</name><value>chat</value></variable>
  </variables>
</Task>`

var contactIDPattern = regexp.MustCompile(`^[0-9A-F]{32}$`)

// TestSubmitAnswersLocationAndHandsTheTaskToTheRouter: 201, an empty body
// and a Location in the family the request used, with a 32-hex contact
// id; the router gets the selector and the variables in order.
func TestSubmitAnswersLocationAndHandsTheTaskToTheRouter(t *testing.T) {
	h := newHarness(t, nil)
	h.router.hold = true
	for _, family := range []string{"/ccp/task", "/ccp/rest/task"} {
		resp := h.do(req{method: http.MethodPost, path: family + "/feed/100000", body: fullTask})
		expectStatus(t, resp, http.StatusCreated)
		loc := resp.header.Get("Location")
		prefix := "https://" + h.host + family + "/contact/"
		id := strings.TrimPrefix(loc, prefix)
		if !strings.HasPrefix(loc, prefix) || !contactIDPattern.MatchString(id) {
			t.Fatalf("Location %q: want %s<32 upper-case hex digits>", loc, prefix)
		}
		if resp.body != "" {
			t.Errorf("body %q", resp.body)
		}
		tasks := h.router.tasks()
		got := tasks[len(tasks)-1]
		want := task.Task{ContactID: id, ScriptSelector: "CumulusTask", Variables: []task.Variable{
			variable("cv_1", "Scott McTominay"), variable("cv_2", "Report Lost Credit Card"), variable("user_acct", "123456789"), variable("mediaType", "chat")}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("router got %+v\nwant %+v", got, want)
		}
	}
	a, b := h.router.tasks()[0].ContactID, h.router.tasks()[1].ContactID
	if a == b {
		t.Fatal("two tasks share a contact id")
	}
}

// TestSocialContactsFollowTheTask: unread on submit, queued, reserved
// (statusUserId the agent, with taskID and mrdID), handled: each once, in
// order, on the campaign's node, with the seed's fields.
func TestSocialContactsFollowTheTask(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(fullTask)
	submitted := h.clock.Now()
	h.clock.Advance(2 * time.Second)
	h.router.reserve(id, "154526_37051928_1", "1080", 5001)
	reservedAt := h.clock.Now()
	h.clock.Advance(time.Minute)
	h.router.handle(id)
	handledAt := h.clock.Now()

	pubs := h.pub.take()
	if len(pubs) != 4 {
		t.Fatalf("%d notifications, want 4: %v", len(pubs), pubs)
	}
	wantStatus := [][3]string{
		{"unread", "unknown", ""},
		{"queued", "externally_routed", "system"},
		{"reserved", "externally_routed", "1080"},
		{"handled", "externally_handled", "1080"},
	}
	wantAt := []time.Time{submitted, submitted, reservedAt, handledAt}
	order := "author campaignPublicId chatIsInvited description extensionFields id publishedDate refURL sourceType status statusReason statusTimestamp statusUserId tags title"
	for i, p := range pubs {
		if p.node != "ccp.campaign.updates.Cisco_Default_Task_Campaign" {
			t.Errorf("published on %q", p.node)
		}
		sc := parseSocialContact(t, p.doc)
		if got := strings.Join(sc.order, " "); got != order {
			t.Errorf("%d: children %s\nwant %s", i, got, order)
		}
		f := sc.fields
		checks := map[string]string{
			"author": "user@email", "campaignPublicId": "Cisco_Default_Task_Campaign", "chatIsInvited": "false",
			"description": "Card lost abroad", "id": id, "publishedDate": fmt.Sprint(submitted.UnixMilli()),
			"refURL": "https://" + h.host + "/ccp-webapp/ccp/socialcontact/" + id, "sourceType": "task",
			"status": wantStatus[i][0], "statusReason": wantStatus[i][1], "statusUserId": wantStatus[i][2],
			"statusTimestamp": fmt.Sprint(wantAt[i].UnixMilli()), "title": "Report Lost Credit Card",
		}
		for k, v := range checks {
			if f[k] != v {
				t.Errorf("%d (%s): %s = %q, want %q", i, wantStatus[i][0], k, f[k], v)
			}
		}
		if got := strings.Join(sc.tags, ","); got != "card,cisco_uq_tag,discard_on_recovery" {
			t.Errorf("%d: tags %s", i, got)
		}
		ext := "[[scriptSelector CumulusTask] [cv_1 Scott McTominay] [cv_2 Report Lost Credit Card] [user_acct 123456789] [mediaType chat]"
		if i >= 2 {
			ext += " [taskID 154526_37051928_1] [mrdID 5001] [mrdIsInterruptible true]"
		}
		if got := fmt.Sprint(sc.ext); got != ext+"]" {
			t.Errorf("%d: extension fields\n got %s\nwant %s]", i, got, ext)
		}
	}
	// The exact document of the reservation, as a subscriber reads it.
	want := `<SocialContact><author>user@email</author><campaignPublicId>Cisco_Default_Task_Campaign</campaignPublicId>` +
		`<chatIsInvited>false</chatIsInvited><description>Card lost abroad</description><extensionFields>` +
		`<extensionField><name>scriptSelector</name><value>CumulusTask</value></extensionField>` +
		`<extensionField><name>cv_1</name><value>Scott McTominay</value></extensionField>` +
		`<extensionField><name>cv_2</name><value>Report Lost Credit Card</value></extensionField>` +
		`<extensionField><name>user_acct</name><value>123456789</value></extensionField>` +
		`<extensionField><name>mediaType</name><value>chat</value></extensionField>` +
		`<extensionField><name>taskID</name><value>154526_37051928_1</value></extensionField>` +
		`<extensionField><name>mrdID</name><value>5001</value></extensionField>` +
		`<extensionField><name>mrdIsInterruptible</name><value>true</value></extensionField></extensionFields>` +
		`<id>` + id + `</id><publishedDate>1706622949233</publishedDate>` +
		`<refURL>https://` + h.host + `/ccp-webapp/ccp/socialcontact/` + id + `</refURL><sourceType>task</sourceType>` +
		`<status>reserved</status><statusReason>externally_routed</statusReason><statusTimestamp>1706622951233</statusTimestamp>` +
		`<statusUserId>1080</statusUserId><tags><tag>card</tag><tag>cisco_uq_tag</tag><tag>discard_on_recovery</tag></tags>` +
		`<title>Report Lost Credit Card</title></SocialContact>`
	if pubs[2].doc != want {
		t.Fatalf("reserved SocialContact\n got %s\nwant %s", pubs[2].doc, want)
	}
	// The unread one has an empty statusUserId element, as CCP's sample.
	if !strings.Contains(pubs[0].doc, "<statusUserId/>") {
		t.Errorf("unread: %s", pubs[0].doc)
	}
	// The administrator's GET returns the same object.
	resp := h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/socialcontact/" + id, user: "admin"})
	expectBody(t, resp, pubs[3].doc)
}

// TestPollFollowsTheTask polls a task through unread, queued, reserved
// and handled: upper-case status and reason, the estimate only while
// queued, taskID and agentID once an agent has it.
func TestPollFollowsTheTask(t *testing.T) {
	h := newHarness(t, nil)
	h.router.hold = true
	id := h.submit(fullTask)
	expectBody(t, h.poll(id), `<Task><status>UNREAD</status><statusReason>UNKNOWN</statusReason></Task>`)

	h.router.queue(id, 61*time.Second)
	want := `<Task><estimatedWaitTime>61</estimatedWaitTime><status>QUEUED</status><statusReason>EXTERNALLY_ROUTED</statusReason></Task>`
	expectBody(t, h.poll(id), want)
	// Both families and any case of the id reach the same contact.
	expectBody(t, h.do(req{method: http.MethodGet, path: "/ccp/task/contact/" + strings.ToLower(id)}), want)

	h.router.reserve(id, "154526_37051928_1", "1080", 5001)
	expectBody(t, h.poll(id), `<Task><status>RESERVED</status><statusReason>EXTERNALLY_ROUTED</statusReason>`+
		`<taskID>154526_37051928_1</taskID><agentID>1080</agentID></Task>`)

	// A requeue (the agent did not answer) shows the first estimate
	// again: CCE computes it once.
	h.router.queue(id, 5*time.Second)
	expectBody(t, h.poll(id), want)
	h.router.reserve(id, "154526_37051928_2", "1080", 5001)

	h.router.handle(id)
	expectBody(t, h.poll(id), `<Task><status>HANDLED</status><statusReason>EXTERNALLY_HANDLED</statusReason>`+
		`<taskID>154526_37051928_2</taskID><agentID>1080</agentID></Task>`)
	// HEAD polls too, without a body.
	resp := h.do(req{method: http.MethodHead, path: "/ccp/rest/task/contact/" + id})
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("HEAD: %d %q", resp.status, resp.body)
	}
	expectError(t, h.poll("00000000000000000000000000000000"), http.StatusNotFound, errNotFound, "00000000000000000000000000000000")
}

// TestPollEstimateUnknown shows -1 when the router cannot estimate.
func TestPollEstimateUnknown(t *testing.T) {
	h := newHarness(t, nil)
	h.router.estimate = -1
	id := h.submit(fullTask)
	expectBody(t, h.poll(id), `<Task><estimatedWaitTime>-1</estimatedWaitTime><status>QUEUED</status><statusReason>EXTERNALLY_ROUTED</statusReason></Task>`)
}

// TestPollURLExpires: five minutes without polling and the poll URL (and
// DELETE) answer 404 for good, while the Social Contact GET still works.
func TestPollURLExpires(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(fullTask)
	h.clock.Advance(4*time.Minute + 59*time.Second)
	expectStatus(t, h.poll(id), http.StatusOK) // polling restarts the five minutes
	h.clock.Advance(4 * time.Minute)
	expectStatus(t, h.poll(id), http.StatusOK)
	h.clock.Advance(5 * time.Minute)
	expectError(t, h.poll(id), http.StatusNotFound, errNotFound, id)
	h.clock.Advance(-time.Minute) // even were it polled "in time" now
	expectError(t, h.poll(id), http.StatusNotFound, errNotFound, id)
	expectError(t, h.do(req{method: http.MethodDelete, path: "/ccp/rest/task/contact/" + id}), http.StatusNotFound, errNotFound, id)
	resp := h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/socialcontact/" + id, user: "admin"})
	if resp.status != http.StatusOK || parseSocialContact(t, resp.body).fields["status"] != "queued" {
		t.Fatalf("Social Contact GET after expiry: %d %s", resp.status, resp.body)
	}
}

// TestPollExpiryIsConfigurable uses a short expiry.
func TestPollExpiryIsConfigurable(t *testing.T) {
	h := newHarness(t, func(c *ContactsConfig, _ *Config) { c.PollExpiry = 10 * time.Second })
	id := h.submit(fullTask)
	h.clock.Advance(10 * time.Second)
	expectStatus(t, h.poll(id), http.StatusNotFound)
}

// TestCancelQueuedTask: DELETE while queued answers 200, takes the task
// out of the router's queue, publishes it discarded once, and the poll URL
// stops working.
func TestCancelQueuedTask(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(fullTask)
	h.pub.take()
	resp := h.do(req{method: http.MethodDelete, path: "/ccp/task/contact/" + id})
	expectStatus(t, resp, http.StatusOK)
	if h.router.stateOf(id) != "over" {
		t.Fatalf("router state %q: the router was not asked to cancel", h.router.stateOf(id))
	}
	pubs := h.pub.take()
	if len(pubs) != 1 {
		t.Fatalf("%d notifications, want 1", len(pubs))
	}
	sc := parseSocialContact(t, pubs[0].doc)
	if sc.fields["status"] != "discarded" || sc.fields["statusReason"] != "cancelled" || sc.fields["statusUserId"] != "system" {
		t.Fatalf("cancelled contact: %v", sc.fields)
	}
	expectError(t, h.poll(id), http.StatusNotFound, errNotFound, id)
	expectError(t, h.do(req{method: http.MethodDelete, path: "/ccp/task/contact/" + id}), http.StatusNotFound, errNotFound, id)
	// The router's later word on it changes nothing.
	h.router.discard(id, "NOTIFICATION_NO_SCRIPT")
	if p := h.pub.take(); len(p) != 0 {
		t.Fatalf("an event after the cancel published %v", p)
	}
}

// TestCancelUnreadTask cancels a task the router has not queued yet.
func TestCancelUnreadTask(t *testing.T) {
	h := newHarness(t, nil)
	h.router.hold = true
	id := h.submit(fullTask)
	expectStatus(t, h.do(req{method: http.MethodDelete, path: "/ccp/rest/task/contact/" + id}), http.StatusOK)
	if st, _ := h.contacts.status(id); st != statusDiscarded {
		t.Fatalf("status %v", st)
	}
}

// TestCancelReservedTaskChangesNothing: once an agent has the task, DELETE
// answers 400 and nothing changes: no notification, the same poll answer,
// the router still has it.
func TestCancelReservedTaskChangesNothing(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(fullTask)
	h.router.reserve(id, "154526_37051928_1", "1080", 5001)
	before := h.poll(id)
	h.pub.take()

	resp := h.do(req{method: http.MethodDelete, path: "/ccp/rest/task/contact/" + id})
	doc := expectError(t, resp, http.StatusBadRequest, errInvalidState, id)
	if !strings.Contains(doc.Errors[0].Message, "reserved") {
		t.Errorf("message %q", doc.Errors[0].Message)
	}
	if p := h.pub.take(); len(p) != 0 {
		t.Fatalf("a refused cancel published %v", p)
	}
	expectBody(t, h.poll(id), before.body)
	if h.router.stateOf(id) != "reserved" {
		t.Fatalf("router state %q", h.router.stateOf(id))
	}
	// Handled and discarded tasks cannot be cancelled either.
	h.router.handle(id)
	expectError(t, h.do(req{method: http.MethodDelete, path: "/ccp/rest/task/contact/" + id}), http.StatusBadRequest, errInvalidState, id)
}

// TestCancelRacingAReservation: the contact still says queued, but the
// router has just given the task to an agent; the router's refusal wins
// and nothing changes.
func TestCancelRacingAReservation(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(fullTask)
	h.router.reserveQuietly(id)
	h.pub.take()
	resp := h.do(req{method: http.MethodDelete, path: "/ccp/rest/task/contact/" + id})
	expectError(t, resp, http.StatusBadRequest, errInvalidState, id)
	if st, _ := h.contacts.status(id); st != statusQueued {
		t.Fatalf("status %v", st)
	}
	if p := h.pub.take(); len(p) != 0 {
		t.Fatalf("published %v", p)
	}
	expectStatus(t, h.poll(id), http.StatusOK)
}

// TestDiscardedByTheRouter: an unknown script selector discards the task
// with the router's reason, lower case in the SocialContact, upper case in
// the poll; a discarded task cannot be cancelled.
func TestDiscardedByTheRouter(t *testing.T) {
	h := newHarness(t, nil)
	h.router.hold = true
	id := h.submit(taskXML(okName, okTitle, "<scriptSelector>NoSuchSelector</scriptSelector>"))
	h.router.discard(id, "NOTIFICATION_INVALID_SCRIPT_SELECTOR")
	pubs := h.pub.take()
	if len(pubs) != 2 {
		t.Fatalf("%d notifications", len(pubs))
	}
	sc := parseSocialContact(t, pubs[1].doc)
	if sc.fields["status"] != "discarded" || sc.fields["statusReason"] != "notification_invalid_script_selector" {
		t.Fatalf("%v", sc.fields)
	}
	expectBody(t, h.poll(id), `<Task><status>DISCARDED</status><statusReason>NOTIFICATION_INVALID_SCRIPT_SELECTOR</statusReason></Task>`)
	expectError(t, h.do(req{method: http.MethodDelete, path: "/ccp/rest/task/contact/" + id}), http.StatusBadRequest, errInvalidState, id)
}

// TestRouterRefusal: a router that refuses a task makes the submission a
// 503; the contact, already published unread, is published discarded.
func TestRouterRefusal(t *testing.T) {
	h := newHarness(t, nil)
	h.router.submitErr = errors.New("queue full")
	resp := h.do(req{method: http.MethodPost, path: "/ccp/rest/task/feed/100000", body: fullTask})
	doc := expectError(t, resp, http.StatusServiceUnavailable, errUnavailable, anyData)
	id := doc.Errors[0].Data
	if !contactIDPattern.MatchString(id) {
		t.Fatalf("ErrorData %q is not the contact id", id)
	}
	pubs := h.pub.take()
	if len(pubs) != 2 {
		t.Fatalf("%d notifications", len(pubs))
	}
	sc := parseSocialContact(t, pubs[1].doc)
	if sc.fields["status"] != "discarded" || sc.fields["statusReason"] != "notification_media_routing_disabled" {
		t.Fatalf("%v", sc.fields)
	}
}

// TestObserverIgnoresWhatIsNotAChange: a repeated queued or reservation
// publishes nothing, events for unknown contacts are ignored, and nothing
// follows the end of a contact.
func TestObserverIgnoresWhatIsNotAChange(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(fullTask)
	h.pub.take()
	h.contacts.ContactQueued(id, time.Second)
	h.contacts.ContactReserved("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "1_2_3", "1080", 5001)
	h.contacts.ContactHandled("nope")
	if p := h.pub.take(); len(p) != 0 {
		t.Fatalf("published %v", p)
	}
	h.contacts.ContactReserved(id, "1_2_3", "1080", 5001)
	h.contacts.ContactReserved(id, "1_2_3", "1080", 5001)
	if p := h.pub.take(); len(p) != 1 {
		t.Fatalf("%d notifications for one reservation", len(p))
	}
	// A transfer straight to another agent is a change.
	h.contacts.ContactReserved(id, "1_2_4", "1081", 5000)
	p := h.pub.take()
	if len(p) != 1 {
		t.Fatalf("%d notifications for a transfer", len(p))
	}
	if got := fmt.Sprint(parseSocialContact(t, p[0].doc).ext[5:]); got != "[[taskID 1_2_4] [mrdID 5000] [mrdIsInterruptible false]]" {
		t.Errorf("after the transfer: %s", got)
	}
	h.contacts.ContactHandled(id)
	h.contacts.ContactQueued(id, time.Second)
	h.contacts.ContactReserved(id, "1_2_5", "1080", 5001)
	h.contacts.ContactDiscarded(id, "X")
	h.contacts.ContactHandled(id)
	if p := h.pub.take(); len(p) != 1 {
		t.Fatalf("%d notifications after handled, want only the handled one", len(p))
	}
}

// TestStoreIsBounded: with MaxContacts open contacts, a submission is
// refused (503, nothing published); a finished contact makes room, the
// oldest first; retention forgets finished contacts.
func TestStoreIsBounded(t *testing.T) {
	h := newHarness(t, func(c *ContactsConfig, _ *Config) {
		c.MaxContacts = 2
		c.Retention = time.Minute
	})
	a := h.submit(fullTask)
	b := h.submit(fullTask)
	h.pub.take()
	resp := h.do(req{method: http.MethodPost, path: "/ccp/rest/task/feed/100000", body: fullTask})
	expectError(t, resp, http.StatusServiceUnavailable, errUnavailable, "")
	if p := h.pub.take(); len(p) != 0 || len(h.router.tasks()) != 2 {
		t.Fatal("a refused submission published or reached the router")
	}
	h.router.discard(a, "NOTIFICATION_NO_SCRIPT")
	c := h.submit(fullTask) // a makes room
	if _, ok := h.contacts.status(a); ok {
		t.Fatal("the finished contact was kept")
	}
	h.router.reserve(b, "1_1_1", "1080", 5001)
	h.router.handle(b)
	admin := func(id string) response {
		return h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/socialcontact/" + id, user: "admin"})
	}
	expectStatus(t, admin(b), http.StatusOK)
	h.clock.Advance(time.Minute)
	expectError(t, admin(b), http.StatusNotFound, errNotFound, b)
	expectStatus(t, admin(c), http.StatusOK) // open contacts stay
}

// TestConcurrentTasks submits, polls, reserves and cancels tasks from
// several goroutines at once (for the race detector): every contact ends
// handled or discarded, and each published its changes in order.
func TestConcurrentTasks(t *testing.T) {
	h := newHarness(t, nil)
	const workers, perWorker = 4, 5
	var wg sync.WaitGroup
	errs := make(chan string, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				resp := h.do(req{method: http.MethodPost, path: "/ccp/task/feed/100000", body: fullTask})
				id := resp.header.Get("Location")[strings.LastIndexByte(resp.header.Get("Location"), '/')+1:]
				h.poll(id)
				if i%2 == 0 {
					if r := h.do(req{method: http.MethodDelete, path: "/ccp/task/contact/" + id}); r.status != http.StatusOK {
						errs <- fmt.Sprintf("cancel %s: %d", id, r.status)
					}
					continue
				}
				h.router.reserve(id, "1_1_"+id, "1080", 5001)
				h.router.handle(id)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	seen := make(map[string][]string)
	for _, p := range h.pub.take() {
		sc := parseSocialContact(t, p.doc)
		seen[sc.fields["id"]] = append(seen[sc.fields["id"]], sc.fields["status"])
	}
	if len(seen) != workers*perWorker {
		t.Fatalf("%d contacts published", len(seen))
	}
	for id, s := range seen {
		got := strings.Join(s, " ")
		if got != "unread queued discarded" && got != "unread queued reserved handled" {
			t.Errorf("%s: %s", id, got)
		}
	}
}
