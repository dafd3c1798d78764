package server

// XML namespaces used by the core.
const (
	NSClient       = "jabber:client"
	NSStream       = "http://etherx.jabber.org/streams"
	NSFraming      = "urn:ietf:params:xml:ns:xmpp-framing"
	NSStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSSASL         = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSTLS          = "urn:ietf:params:xml:ns:xmpp-tls"
	NSBind         = "urn:ietf:params:xml:ns:xmpp-bind"
	NSSession      = "urn:ietf:params:xml:ns:xmpp-session"
	NSPing         = "urn:xmpp:ping"
	NSDiscoInfo    = "http://jabber.org/protocol/disco#info"
	NSDiscoItems   = "http://jabber.org/protocol/disco#items"
	NSRoster       = "jabber:iq:roster"
	NSXML          = "http://www.w3.org/XML/1998/namespace"
	// Stream management (XEP-0198) is never offered; these are recognised
	// only to refuse <enable/> with a <failed/> instead of silence.
	NSStreamMgmt3 = "urn:xmpp:sm:3"
	NSStreamMgmt2 = "urn:xmpp:sm:2"
)
