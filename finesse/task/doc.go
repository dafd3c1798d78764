// Package task routes the tasks of the CCP Task API to agents and runs
// the non-voice Dialogs that carry them, as Unified CCE and Finesse do for
// Task Routing (FINESSE-REFERENCE §3.3, §4.3, §6).
//
// # Routing
//
// A task's scriptSelector names a queue of the directory (skill group,
// queue number and name, and a non-voice media routing domain). Each MRD
// has one FIFO of waiting tasks and one heap of eligible agents ordered
// by the time they became available. An agent is eligible when it is
// signed in to the MRD, chose READY there, and holds fewer open dialogs
// than its maxDialogLimit. A task goes to the eligible agent available
// longest, or waits; a waiting task goes to an agent the moment one
// becomes eligible (it chose READY, a task closed, it signed in again
// with a higher limit). Because a task waits only while no agent is
// eligible, one of the two structures of an MRD is always empty, and a
// routing decision costs O(log agents), whatever the queue's length.
//
// An agent's "available since" is the time it last became eligible or
// was last offered a task, whichever is later: an agent just offered a
// task goes to the back of the line.
//
// # Task ids
//
// A task id is routerCallKeyDay_routerCallKeyCallID_sequence, as UCCE's
// router writes it: the day is the number of days since 1 January 1601
// (UTC), as in ICM's router call keys (the seed's 154526 is 30 January
// 2024); the call id is a counter of the router, one per submitted task;
// the sequence number starts at 1 and grows each time the task is routed
// again (an offer that timed out, a transfer, a sign-out that transfers
// it), so that each Dialog of a task has its own id.
//
// # Dialogs
//
// An offered task is a Dialog on the agent's /finesse/api/User/<id>/Dialogs/Media
// node: POSTed OFFERED (source /finesse/api/User/<id>/Media/<mrdId>/Dialogs),
// then PUT as the agent acts on it over REST (source /finesse/api/Dialog/<id>,
// data <dialog>), DELETEd CLOSED with a dispositionCode when it ends,
// shaped as the seed's captures. Each state offers its actions: OFFERED
// ACCEPT; ACCEPTED UPDATE_CALL_DATA, TRANSFER, START, CLOSE; ACTIVE PAUSE,
// UPDATE_CALL_DATA, WRAP_UP, TRANSFER, CLOSE; PAUSED RESUME, WRAP_UP,
// TRANSFER, CLOSE; WRAPPING_UP CLOSE. An action the participant does not
// hold is accepted (202) and answered by an asynchronous Generic Error
// notification carrying the requestId. An offer not accepted within the
// offer timeout is withdrawn (CD_RING_NO_ANSWER), the task is queued
// again at the head of its queue, and the agent is made NOT_READY in the
// MRD with the RONA reason code.
//
// The agent's state in the MRD follows its dialogs through
// finesse/agent (UpdateTasks); the Media notification a change causes
// is published before the Dialog notification, as the CTI server sends
// the agent event before the task event.
//
// # Locks
//
// The router has one lock. It is taken before a user's lock of the agent
// registry and before the contact store's lock of ccp: the router calls
// the registry, the Publisher and the ContactObserver with its lock
// held, and the registry calls the router (WatchMedia) only with no lock
// of its own held.
package task
