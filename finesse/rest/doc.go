// Package rest is the HTTP face of the stand-in on the REST listener
// (8445): the subset of Finesse's REST API that desktops call around the
// notification service (SystemInfo, User and its state, Media, reason
// codes, Team, Dialogs), and the testers' control endpoints under
// /finesse-notify/control (service status, the finesse@ presence, ending a
// user's sessions).
//
// It authenticates (HTTP Basic against the directory, with Finesse's
// lockout after repeated failures), authorises (own URI, supervised team,
// administrator), parses the small XML request bodies, and answers in
// Finesse's shapes: 202 with no body for state changes, XML documents for
// GETs, <ApiErrors> for synchronous errors (FINESSE-REFERENCE §4). The
// agent model itself, and the notifications a change causes, belong to
// finesse/agent; this package only translates HTTP into its calls.
package rest
