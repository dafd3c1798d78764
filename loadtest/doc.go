// Package loadtest is the engine of finesse-load: it opens many XMPP client
// sessions (WebSocket, BOSH, TCP or a mix), logs each in with SASL PLAIN,
// makes it available and subscribed, drives a stream of events through the
// server under test, and measures what the sessions receive: sessions
// established per second, delivered events per second, end-to-end latency
// percentiles, lost, duplicated and out-of-order events, keepalive pings
// answered, and the server's resident memory per session.
//
// Every event carries a token, flq.<stream>.<seq>.<unix-nanos>, in text
// that no XML escaping changes: in an item payload (XEP-0060 publish), in
// the requestId of a Finesse REST request (which the server copies into the
// Update it publishes), or in an Update posted to finesse-notify's publish
// endpoint. The receiving side never builds a DOM: it splits the stream
// into top-level elements by scanning bytes, and finds the token with a
// byte search, so that one small machine can hold thousands of sessions
// and tens of thousands of events per second next to the server.
//
// Run is the whole of a load run; cmd/finesse-load is its command line.
package loadtest
