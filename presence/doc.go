// Package presence knows who is available: which resources of each user
// have sent available presence, with what priority and since when. It also
// runs the keepalive monitor that notices clients which died without
// closing their connection.
//
// # Presence
//
// A Tracker is a server.Observer. A resource is available from its first
// available presence until it sends unavailable presence or its session
// ends for any reason (closed socket, stream close, BOSH terminate, stream
// error, keepalive death). Listeners are told:
//
//   - Available when a resource becomes available, and again whenever an
//     available resource changes its priority (so that a listener that
//     picks the highest-priority resource can follow). Repeating presence
//     with the same priority (a new <show/> or <status/>) tells nothing:
//     this package tracks availability, not moods.
//   - Unavailable exactly once when an available resource stops being
//     available, with the reason. A session that ends without ever having
//     been available produces no event.
//
// Every Event carries UserAvailable: whether the user (bare JID) still has
// an available resource once the event is applied.
//
// Events of one user are delivered in the order the tracker applied them,
// one at a time. The session goroutine that causes an event normally
// delivers it itself, before its observer call returns. When another
// goroutine is already delivering events of the same user (two sessions of
// one user changing at once), the new event is queued and that goroutine
// delivers it right after the one in hand. No lock is held while a
// listener runs, so a listener may call back into the Tracker (Resources,
// IsAvailable) or close a session; the events that causes are queued, not
// delivered re-entrantly.
//
// # Keepalive
//
// Any inbound traffic is a sign of life: the transports call
// Session.Touch for every byte, frame or request. Every bound session is
// watched. After Config.PingInterval of silence the server sends an
// XEP-0199 ping; each ping waits one interval; after Config.PingRetries
// unanswered pings (nothing at all received since the first) the session
// is closed with a connection-timeout stream error, leaves the router, and
// listeners get Unavailable with reason "keepalive timeout". A silent
// client is therefore dead PingInterval×(PingRetries+1) after its last
// traffic. Replies are not matched by id: any reply, a result or an error,
// with or without `to` (Strophe.js answers with an error and no `to`),
// is inbound traffic, and that is what counts.
//
// Each watched session has one time.AfterFunc timer, re-armed from
// Session.LastActivity when it fires: a busy session costs one timer fire
// per interval, never work per stanza, and an idle one costs a ping per
// interval. The Go runtime keeps timers in per-processor heaps without a
// goroutine each until one fires, so tens of thousands of sessions cost a
// few hundred bytes apiece and O(log n) per fire. A timer wheel would add
// a ticking goroutine, its own locking, and up to one tick of lateness,
// to save little at this scale; the per-session timer is also exact, so a
// dead client is noticed at PingInterval×(PingRetries+1), not a tick later.
package presence
