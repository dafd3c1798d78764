// Command finesse-notify is a stand-in for the Cisco Finesse Notification
// Service: an XMPP server that Finesse desktops, gadgets and third-party
// clients reach over BOSH (/http-bind), WebSocket (/ws) and TCP (5222/5223).
//
// It reads its settings from flags, FINESSE_NOTIFY_* environment variables
// and an optional YAML file (--config), prints every URL it serves, and
// shuts down cleanly on SIGTERM or SIGINT. Run it with --help for the list.
package main
