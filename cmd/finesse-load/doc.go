// Command finesse-load measures notification fan-out: it opens many XMPP
// sessions over WebSocket, BOSH, TCP or a mix, subscribes them, drives
// events through the server (XEP-0060 publishes by an administrator, or on
// finesse-notify REST state changes, task submissions or its publish
// endpoint), and prints one JSON line: logins per second, delivered events
// per second, latency percentiles, lost, duplicated and out-of-order
// events, keepalive pings answered, and the server's memory per session.
// It exits 1 when anything was lost or a threshold was missed. The engine
// is package loadtest.
package main
