// Package selfsigned makes the TLS certificate finesse-notify serves when
// none is configured: a self-signed ECDSA P-256 certificate for the XMPP
// domain, localhost, the loopback addresses and the machine's host name, so
// that a tester can start the server with no setup and trust the one
// certificate it publishes.
package selfsigned
