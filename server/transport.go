package server

// Transport carries one session's stream: TCP, WebSocket or BOSH. The
// transport feeds the session from one goroutine at a time (StreamOpened,
// HandleElement, StreamClosed, ConnectionLost) and writes what the session
// queues, draining it with Session.Outbound when woken.
type Transport interface {
	// Kind names the transport in logs and metrics: "tcp", "websocket", "bosh".
	Kind() string
	// Secure reports whether the channel to the client is encrypted.
	Secure() bool
	// RemoteAddr is the client's address, for logs.
	RemoteAddr() string
	// StreamHeader renders what opens the server's half of a stream:
	// <stream:stream> on TCP, <open/> on WebSocket. BOSH returns nil: its
	// session creation response carries the stream attributes.
	StreamHeader(streamID, domain string) []byte
	// StreamFooter renders what closes it: </stream:stream>, <close/>, or nil.
	StreamFooter() []byte
	// Wake says the session's send queue went from empty to non-empty.
	// It must not block.
	Wake()
	// Shutdown ends the transport once what is queued has been written.
	// cond is the stream error condition the session ended with, or "" for
	// a clean end. It must not block and may be called more than once.
	// When the transport will write nothing more (the goodbye is out, or
	// the connection is gone) it calls Session.TransportFinished.
	Shutdown(cond string)
}

// TLSUpgrader is a transport that can switch to TLS in the middle of the
// stream (TCP STARTTLS). StartTLS is called once <proceed/> is queued; the
// transport writes it, runs the handshake before reading anything more,
// and expects a new stream header.
type TLSUpgrader interface {
	StartTLS()
}

// StreamResetter is a transport whose parser must be reset when the stream
// restarts after SASL success (TCP reads a new <stream:stream> header).
type StreamResetter interface {
	ResetStream()
}

// Pauser is a transport whose client can pause the session on purpose
// (BOSH, XEP-0124 §10). While Paused reports true, the keepalive monitor
// does not count the silence against the session; the transport bounds
// the pause itself.
type Pauser interface {
	Paused() bool
}

// StreamHeader is what a client's stream open says, whatever the transport.
type StreamHeader struct {
	To      string
	From    string
	Version string
	Lang    string
}
