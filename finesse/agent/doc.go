// Package agent is the Finesse agent model: each directory user's agent
// state (the voice state of the UCCE state machine, its reason code,
// pending state and extension) and its state in every non-voice media
// routing domain (MRD), the rules that decide which changes are legal for
// whom, the XML documents Finesse's REST API answers with, and the
// notifications every change publishes. It also logs agents out when
// their desktop's XMPP presence has been gone for the logout grace.
//
// It knows nothing of HTTP: the REST layer parses requests into
// StateRequest and MediaRequest, and turns a refused request (*Error)
// into Finesse's ApiErrors answer.
//
// # State machines
//
// The legal changes are data, not code: userRules and mediaRules list,
// per Actor, which requested state is legal from which current state and
// what it does (enter the state, record it as the pending state during a
// call, or keep the state, for a second LOGIN). The tables follow the
// Unified CCE transitions of Cisco's developer guide
// (FINESSE-REFERENCE §4.1, §4.3):
//
//   - An agent signs in with LOGIN (a transient state that lands in
//     NOT_READY), moves between NOT_READY and READY, changes its NOT_READY
//     reason, and signs out only from NOT_READY. A READY or NOT_READY
//     asked for during a call (TALKING, HOLD, an outbound preview
//     reservation) becomes the pending state, applied when the system
//     ends the call. WORK and WORK_READY are entered only by the system
//     and left with READY or NOT_READY. A LOGIN while signed in keeps the
//     state.
//   - A supervisor (and an administrator) may set a team member READY
//     (from NOT_READY, WORK, WORK_READY), NOT_READY (from READY, WORK,
//     WORK_READY) or LOGOUT (from any signed-in state; pending during a
//     call), never with a reason code; the change carries the system
//     reason code 999 of its category, as Finesse reports it to the CTI
//     server.
//   - The system moves agents through the call states, and may log any
//     agent out (the forced logout uses the LOGOUT code 255).
//   - In a non-voice MRD the agent signs in with LOGIN (landing in
//     NOT_READY, routable), moves between READY and NOT_READY from any
//     signed-in state, and signs out from any. Signing in twice changes
//     nothing but the sign-in options and publishes Finesse's
//     E_ARM_STAT_AGENT_ALREADY_LOGGED_IN error notification.
//
// Reason codes are optional. A NOT_READY reason code must be of the
// NOT_READY category and offered to the user's team, a LOGOUT one of the
// LOGOUT category; system codes are never accepted from users.
//
// # Publishing
//
// Each accepted change renders its notifications once and publishes them
// through Publisher, while holding that user's lock, so one user's
// notifications leave in the order of the changes: a voice change
// publishes the full <user> on /finesse/api/User/<id> and the summary
// <user> on /finesse/api/Team/<teamId>/Users; a media change publishes
// <Media> on /finesse/api/User/<id>/Media with the MRD's URI as source.
// Every notification of a request carries its requestId. A refused
// request changes nothing and publishes nothing.
//
// # Tasks
//
// In a non-voice MRD the agent chooses READY or NOT_READY; the state the
// MRD shows follows its open task dialogs, which the task router
// (finesse/task) reports with UpdateTasks, by the precedence of Cisco's
// "Agent States for Nonvoice Media": LOGOUT, then a chosen NOT_READY
// (whatever the tasks do), then for an agent who chose READY the highest
// task state (ACTIVE, WORK_READY for a task wrapping up, PAUSED, RESERVED
// for an offered or accepted one), and READY without tasks. An agent may
// not choose NOT_READY while a dialog is offered to it. An offer the
// router can no longer make (the agent signed out, went NOT_READY or is
// at its maxDialogLimit) is refused under the user's lock; an offer that
// timed out makes the agent NOT_READY with the RONA code (32767).
//
// The router hears of the agent's own media requests and of the forced
// logout through WatchMedia, called once the user's lock is released, so
// that it may read the registry back: the router's lock is always taken
// before a user's. AddListener's listeners, by contrast, hear every state
// change (voice and media) under the user's lock, in order.
//
// # Forced logout
//
// The Registry is a presence.Listener. When a user's last available
// resource goes away, a timer of LogoutGrace starts (60 s by default, as
// in Finesse); an available resource of the user cancels it. When it
// fires, a signed-in agent goes to LOGOUT with the directory's LOGOUT
// reason code whose code is 255, every MRD it is signed in to is signed
// out, and the notifications are published without a requestId.
package agent
