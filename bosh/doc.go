// Package bosh is the XEP-0124/XEP-0206 transport of finesse-notify: the
// /http-bind handler that carries an XMPP stream over HTTP long-polling.
//
// Each BOSH session (keyed by its random sid) is one more server.Transport.
// One goroutine per session owns everything about it: the rid window (in
// order processing, deferred early requests, replay of cached responses),
// the held requests (hold, wait), the inactivity and pause clocks, and the
// feeding of the server.Session. HTTP handlers only parse a <body/>, hand it
// to that goroutine and write whatever it answers.
//
// Binding errors are answered with HTTP 200 and a terminate body carrying
// the XEP-0124 condition, never with an HTTP error status: Strophe.js treats
// any 4xx as fatal without telling the application why.
package bosh
