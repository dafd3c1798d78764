// Package client is a small XMPP client over TCP, WebSocket (RFC 7395) and
// BOSH (XEP-0124/0206). It speaks raw XML, so the protocol tests can say
// exactly what goes on the wire and read exactly what comes back, and the
// load tool can drive thousands of sessions with little overhead.
//
// A Wire is one transport's client side; Client adds what every test needs
// on top of any Wire: waiting with a timeout, keeping elements that arrive
// while another is awaited, SASL PLAIN login and resource binding.
package client
