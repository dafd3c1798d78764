package ccp

import "github.com/finesse-notify/finesse-notify/finesse/task"

// Router is what the Task API hands tasks to: *task.Router. Submit may
// call the ContactObserver (Contacts) before it returns; Cancel takes a
// queued task out of its queue (task.ErrNotQueued when it is not queued,
// task.ErrUnknownContact when the router never had it) and tells the
// observer nothing.
type Router interface {
	Submit(t task.Task) error
	Cancel(contactID string) error
}

// Contacts is the router's observer.
var _ task.ContactObserver = (*Contacts)(nil)
