// Package e2e holds the protocol tests: raw XML over real sockets against
// the whole server as the binary wires it (package app), each behaviour
// written once and run over every transport, as net/http runs its tests over
// HTTP/1 and HTTP/2.
package e2e
