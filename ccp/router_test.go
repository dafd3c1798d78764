package ccp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/pubsub"
)

// dropUpdates is an agent.Publisher that keeps nothing.
type dropUpdates struct{}

func (dropUpdates) Publish(node string, _ finesse.Update) (pubsub.Published, error) {
	return pubsub.Published{Node: node}, nil
}

// TestWithTheRealRouter wires Contacts and the API to finesse/task's
// router, as the app does: a task whose script selector no queue has is
// discarded with the router's reason; one that waits (no agent is signed
// in) is queued with an unknown estimate and can be cancelled.
func TestWithTheRealRouter(t *testing.T) {
	dir := testDirectory(t)
	pub := &recorder{}
	contacts := NewContacts(ContactsConfig{Directory: dir, Publisher: pub})
	agents := agent.New(agent.Config{Directory: dir, Publisher: dropUpdates{}})
	t.Cleanup(agents.Close)
	router := task.New(task.Config{Directory: dir, Agents: agents, Publisher: dropUpdates{}, Observer: contacts})
	mux := http.NewServeMux()
	New(Config{Directory: dir, Contacts: contacts, Router: router}).Register(mux.Handle)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	post := func(selector string) string {
		resp, err := http.Post(srv.URL+"/ccp/task/feed/100000", "application/xml",
			strings.NewReader(taskXML(okName, okTitle, "<scriptSelector>"+selector+"</scriptSelector>")))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("submit: %d", resp.StatusCode)
		}
		return resp.Header.Get("Location")
	}
	get := func(url string) string {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	lost := post("NoSuchSelector")
	if got := get(lost); got != `<Task><status>DISCARDED</status><statusReason>NOTIFICATION_INVALID_SCRIPT_SELECTOR</statusReason></Task>` {
		t.Fatalf("unknown selector: %s", got)
	}
	waiting := post("CumulusTask")
	if got := get(waiting); got != `<Task><estimatedWaitTime>-1</estimatedWaitTime><status>QUEUED</status><statusReason>EXTERNALLY_ROUTED</statusReason></Task>` {
		t.Fatalf("waiting task: %s", got)
	}
	hr, _ := http.NewRequest(http.MethodDelete, waiting, nil)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cancel: %d", resp.StatusCode)
	}
	var statuses []string
	for _, p := range pub.take() {
		statuses = append(statuses, parseSocialContact(t, p.doc).fields["status"])
	}
	if got := strings.Join(statuses, " "); got != "unread discarded unread queued discarded" {
		t.Fatalf("published %s", got)
	}
}
