// Package server is the XMPP core (RFC 6120/6121) of finesse-notify: one stream
// state machine (open, features, SASL PLAIN, restart, resource bind, session)
// shared by every transport, the router from JIDs to sessions, stanza and
// stream errors, the built-in IQ handlers (XEP-0199 ping, disco, roster,
// legacy session) and the TCP (RFC 6120) and WebSocket (RFC 7395) transports.
//
// A transport turns bytes into stream events and calls the Session's
// StreamOpened, HandleElement, StreamClosed and ConnectionLost from one
// goroutine at a time; the Session answers by queueing Packets in its bounded
// send queue and waking the transport, which drains them with Outbound.
// BOSH (package bosh) is one more such transport.
//
// The package knows nothing of Finesse. The contact-centre code plugs in
// through small interfaces: Accounts checks passwords, Observer learns of
// sessions and presence, Component handles stanzas to a service JID.
package server
