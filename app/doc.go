// Package app wires finesse-notify together: it loads the directory, makes
// or loads the TLS certificate, builds the XMPP core, the presence tracker
// and the BOSH and WebSocket transports, opens every configured listener
// (7443, 7071, 8445, 5222, 5223) and shuts all of it down in order.
//
// The binary (cmd/finesse-notify) and the end-to-end tests both start the
// service through Start, so the tests run exactly what ships. Later parts
// (pubsub, the Finesse REST API) plug in through Config.Setup, which runs
// once the core is built and before anything listens.
package app
