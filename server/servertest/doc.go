// Package servertest holds what the tests of the XMPP core and of its
// transports share, as net/http/httptest does for net/http.
package servertest
