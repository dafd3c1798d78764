package server_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
	"github.com/gorilla/websocket"
)

// The WebSocket transport's tests drive a real Server through a real HTTP
// server with a real WebSocket client and assert the frames a client sees.

const (
	wsDomain    = "example.com"
	wsMaxBytes  = 4096
	wsWait      = 5 * time.Second
	wsFraming   = "urn:ietf:params:xml:ns:xmpp-framing"
	wsOpenFrame = `<open xmlns='` + wsFraming + `' to='example.com' version='1.0'/>`
	wsCloseXML  = `<close xmlns='` + wsFraming + `'/>`
)

var (
	wsServerOpen   = regexp.MustCompile(`^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[0-9a-f]{16}' from='example\.com' version='1\.0' xml:lang='en'/>$`)
	wsFeaturesAuth = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'>` +
		`<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>`
	wsFeaturesBind = `<stream:features xmlns:stream='http://etherx.jabber.org/streams'>` +
		`<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session></stream:features>`
)

// wsStart serves a new Server's WebSocket handler; tls picks wss.
func wsStart(t *testing.T, opts server.WebSocketOptions, tls bool) (*server.Server, *httptest.Server) {
	t.Helper()
	srv, err := server.New(server.Config{
		Domain:   wsDomain,
		Accounts: servertest.Accounts{"1001": "password", "1002": "password"},
		Limits:   server.Limits{MaxBytes: wsMaxBytes},
	})
	if err != nil {
		t.Fatal(err)
	}
	var hs *httptest.Server
	if tls {
		hs = httptest.NewTLSServer(srv.WebSocketHandler(opts))
	} else {
		hs = httptest.NewServer(srv.WebSocketHandler(opts))
	}
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wsWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return srv, hs
}

func wsURL(hs *httptest.Server) string { return "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws" }

// wsDial opens a WebSocket offering the xmpp subprotocol.
func wsDial(t *testing.T, hs *httptest.Server) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: wsWait}
	if hs.TLS != nil {
		d.TLSClientConfig = hs.Client().Transport.(*http.Transport).TLSClientConfig
	}
	c, resp, err := d.Dial(wsURL(hs), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	t.Cleanup(func() { c.Close() })
	return c
}

func wsSend(t *testing.T, c *websocket.Conn, frame string) {
	t.Helper()
	c.SetWriteDeadline(time.Now().Add(wsWait))
	if err := c.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		t.Fatalf("send %q: %v", frame, err)
	}
}

// wsRead returns the next text frame.
func wsRead(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wsWait))
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ != websocket.TextMessage {
		t.Fatalf("frame type %d, want text: %q", typ, data)
	}
	return string(data)
}

func wsExpect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	if got := wsRead(t, c); got != want {
		t.Fatalf("frame:\n got %s\nwant %s", got, want)
	}
}

func wsExpectMatch(t *testing.T, c *websocket.Conn, want *regexp.Regexp) string {
	t.Helper()
	got := wsRead(t, c)
	if !want.MatchString(got) {
		t.Fatalf("frame:\n got %s\nwant match for %s", got, want)
	}
	return got
}

// wsExpectCloseFrame reads the close frame and checks its code, then that
// the server closes the TCP connection once the close frames have crossed.
func wsExpectCloseFrame(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	wsExpectCloseFrameThen(t, c, code, false)
}

// wsExpectCloseFrameThen is wsExpectCloseFrame; reset accepts a TCP reset
// instead of an orderly close (the server did not wait for the client's
// close frame).
func wsExpectCloseFrameThen(t *testing.T, c *websocket.Conn, code int, reset bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wsWait))
	typ, data, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		t.Fatalf("want close frame %d, got frame type %d %q, err %v", code, typ, data, err)
	}
	if ce.Code != code {
		t.Fatalf("close code %d (%q), want %d", ce.Code, ce.Text, code)
	}
	// gorilla has answered the close frame; now the server closes TCP.
	raw := c.NetConn()
	raw.SetReadDeadline(time.Now().Add(wsWait))
	if n, err := raw.Read(make([]byte, 1)); err != io.EOF && !(reset && errors.Is(err, syscall.ECONNRESET)) {
		t.Fatalf("after the close handshake: read %d bytes, err %v; want io.EOF", n, err)
	}
}

// wsStreamError renders the stream error frame the server sends.
func wsStreamError(cond, text string) string {
	return `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><` + cond +
		` xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>` +
		text + `</text></stream:error>`
}

// wsOpen opens the stream and checks <open/> and the pre-auth features.
func wsOpen(t *testing.T, c *websocket.Conn) {
	t.Helper()
	wsSend(t, c, wsOpenFrame)
	wsExpectMatch(t, c, wsServerOpen)
	wsExpect(t, c, wsFeaturesAuth)
}

// wsLogin authenticates user, restarts the stream and binds resource.
func wsLogin(t *testing.T, c *websocket.Conn, user, resource string) string {
	t.Helper()
	wsOpen(t, c)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00password"))
	wsSend(t, c, `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>`+plain+`</auth>`)
	wsExpect(t, c, `<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
	wsSend(t, c, wsOpenFrame) // the restart is a new <open/>
	wsExpectMatch(t, c, wsServerOpen)
	wsExpect(t, c, wsFeaturesBind)
	wsSend(t, c, `<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>`+resource+`</resource></bind></iq>`)
	jid := user + "@" + wsDomain + "/" + resource
	wsExpect(t, c, `<iq xmlns='jabber:client' type='result' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>`+jid+`</jid></bind></iq>`)
	return jid
}

// wsPing sends a ping IQ to the domain, without a namespace as Strophe
// does not, and checks the result.
func wsPing(t *testing.T, c *websocket.Conn, jid, id string) {
	t.Helper()
	wsSend(t, c, `<iq type='get' id='`+id+`' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`)
	wsExpect(t, c, `<iq xmlns='jabber:client' type='result' id='`+id+`' from='example.com' to='`+jid+`'/>`)
}

func wsSession(t *testing.T, srv *server.Server, jid string) *server.Session {
	t.Helper()
	j, err := server.ParseJID(jid)
	if err != nil {
		t.Fatal(err)
	}
	s := srv.SessionFor(j)
	if s == nil {
		t.Fatalf("no session bound to %s", jid)
	}
	return s
}

// wsAwaitSessionCount waits for the server to count n sessions. An
// unbound session has no handle to wait on, so this polls, briefly.
func wsAwaitSessionCount(t *testing.T, srv *server.Server, n int) {
	t.Helper()
	deadline := time.Now().Add(wsWait)
	for srv.SessionCount() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions, want %d", srv.SessionCount(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func wsAwaitEnd(t *testing.T, s *server.Session) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(wsWait):
		t.Fatal("session did not end")
	}
}

func TestWebSocketHandshakeWithoutXMPPSubprotocolRefused(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, false)
	for _, protos := range [][]string{nil, {"chat"}, {"XMPP"}} {
		d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: wsWait}
		c, resp, err := d.Dial(wsURL(hs), nil)
		if err == nil {
			c.Close()
			t.Fatalf("subprotocols %q: handshake accepted", protos)
		}
		if resp == nil {
			t.Fatalf("subprotocols %q: no HTTP response: %v", protos, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("subprotocols %q: status %d, want 400", protos, resp.StatusCode)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("subprotocols %q: content type %q", protos, ct)
		}
		if want := "the xmpp WebSocket subprotocol (RFC 7395) is required: send Sec-WebSocket-Protocol: xmpp\n"; string(body) != want {
			t.Errorf("subprotocols %q: body %q, want %q", protos, body, want)
		}
		if resp.Header.Get("Upgrade") != "" || resp.Header.Get("Sec-WebSocket-Accept") != "" {
			t.Errorf("subprotocols %q: refused response carries upgrade headers: %v", protos, resp.Header)
		}
	}
	if n := srv.SessionCount(); n != 0 {
		t.Errorf("%d sessions after refused handshakes", n)
	}
}

func TestWebSocketNonWebSocketRequests(t *testing.T) {
	_, hs := wsStart(t, server.WebSocketOptions{}, false)
	resp, err := http.Get(hs.URL + "/ws/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired || resp.Header.Get("Upgrade") != "websocket" {
		t.Errorf("plain GET: status %d, Upgrade %q; want 426 and websocket", resp.StatusCode, resp.Header.Get("Upgrade"))
	}
	if !strings.Contains(string(body), "subprotocol xmpp") {
		t.Errorf("plain GET: body %q does not say what to do", body)
	}

	resp, err = http.Post(hs.URL+"/ws", "text/xml", strings.NewReader("<open/>"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Errorf("POST: status %d, Allow %q; want 405 and GET", resp.StatusCode, resp.Header.Get("Allow"))
	}

	// An upgrade request that is not a valid WebSocket handshake (no key).
	req, _ := http.NewRequest(http.MethodGet, hs.URL+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Protocol", "xmpp")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("handshake without a key: status %d, want 400", resp.StatusCode)
	}
}

func TestWebSocketSubprotocolEchoed(t *testing.T) {
	_, hs := wsStart(t, server.WebSocketOptions{}, false)
	for _, protos := range [][]string{{"xmpp"}, {"chat", "xmpp"}} {
		d := websocket.Dialer{Subprotocols: protos, HandshakeTimeout: wsWait}
		c, resp, err := d.Dial(wsURL(hs), nil)
		if err != nil {
			t.Fatalf("subprotocols %q: %v", protos, err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "xmpp" {
			t.Errorf("subprotocols %q: Sec-WebSocket-Protocol %q, want xmpp", protos, got)
		}
		c.Close()
	}
}

func TestWebSocketOriginCheck(t *testing.T) {
	_, hs := wsStart(t, server.WebSocketOptions{
		CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "https://desktop.example.com" },
	}, false)
	d := websocket.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: wsWait}
	_, resp, err := d.Dial(wsURL(hs), http.Header{"Origin": {"https://evil.example.net"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, response %v; want 403", err, resp)
	}
	resp.Body.Close()
	c, resp, err := d.Dial(wsURL(hs), http.Header{"Origin": {"https://desktop.example.com"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	resp.Body.Close()
	c.Close()
}

func TestWebSocketOpenFeatures(t *testing.T) {
	_, hs := wsStart(t, server.WebSocketOptions{}, false)
	c := wsDial(t, hs)
	wsOpen(t, c)
}

func TestWebSocketLoginPingAndClose(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, false)
	c := wsDial(t, hs)
	jid := wsLogin(t, c, "1001", "desk")
	s := wsSession(t, srv, jid)
	if k := s.Transport().Kind(); k != "websocket" {
		t.Errorf("transport kind %q", k)
	}
	if s.Transport().Secure() {
		t.Error("plain ws:// reported secure")
	}
	wsPing(t, c, jid, "ping1")

	// Each queued packet is its own frame, segments joined.
	s.Send(server.NewPacketSegments([]byte(`<message xmlns='jabber:client' to='`+jid+`'>`), []byte(`<body>one</body></message>`)))
	s.SendBytes([]byte(`<message xmlns='jabber:client' to='` + jid + `'><body>two</body></message>`))
	wsExpect(t, c, `<message xmlns='jabber:client' to='`+jid+`'><body>one</body></message>`)
	wsExpect(t, c, `<message xmlns='jabber:client' to='`+jid+`'><body>two</body></message>`)

	// Every payload length form of a frame header (RFC 6455 §5.2): 7 bits,
	// 16 bits from 126 bytes, 64 bits from 65,536.
	for _, n := range []int{125, 126, 65535, 65536, 200000} {
		head := `<message xmlns='jabber:client' to='` + jid + `'><body>`
		tail := `</body></message>`
		body := strings.Repeat("x", n-len(head)-len(tail))
		s.Send(server.NewPacketSegments([]byte(head), []byte(body), []byte(tail)))
		if got := wsRead(t, c); got != head+body+tail {
			t.Fatalf("a frame of %d bytes came as %d bytes", n, len(got))
		}
	}

	// The close choreography: <close/> answered by <close/>, then the close
	// frame (1000), then the server closes the connection.
	wsSend(t, c, wsCloseXML)
	wsExpect(t, c, wsCloseXML)
	wsExpectCloseFrame(t, c, websocket.CloseNormalClosure)
	wsAwaitEnd(t, s)
}

func TestWebSocketSecureOverTLS(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, true)
	c := wsDial(t, hs)
	jid := wsLogin(t, c, "1001", "tls")
	if !wsSession(t, srv, jid).Transport().Secure() {
		t.Error("wss:// session not reported secure")
	}
	wsPing(t, c, jid, "p")
}

// TestWebSocketBadClients runs each kind of bad input on its own
// connection while a well-behaved client stays logged in, and checks the
// bad client gets its error and the other goes on.
func TestWebSocketBadClients(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, false)
	good := wsDial(t, hs)
	goodJID := wsLogin(t, good, "1002", "good")

	longBody := strings.Repeat("x", wsMaxBytes)
	cases := []struct {
		name   string
		before func(c *websocket.Conn) // after the stream is open
		frames []string                // expected frames, in order
		prefix bool                    // the first frame is checked as a prefix
		code   int                     // close frame code
		reset  bool                    // the server may reset rather than wait for the client's close frame
	}{
		{
			name: "binary frame",
			before: func(c *websocket.Conn) {
				c.WriteMessage(websocket.BinaryMessage, []byte(`<iq type='get' id='1'/>`))
			},
			frames: []string{wsStreamError("bad-format", "binary frames are not allowed: XMPP over WebSocket is text (RFC 7395)"), wsCloseXML},
			code:   websocket.CloseUnsupportedData,
		},
		{
			name: "oversize stanza",
			before: func(c *websocket.Conn) {
				c.WriteMessage(websocket.TextMessage, []byte(`<message to='1002@example.com'><body>`+longBody+`</body></message>`))
			},
			frames: []string{wsStreamError("policy-violation", "frame larger than 4096 bytes"), wsCloseXML},
			code:   websocket.CloseMessageTooBig,
		},
		{
			name: "malformed XML",
			before: func(c *websocket.Conn) {
				c.WriteMessage(websocket.TextMessage, []byte(`<message to='1002@example.com'><body>hi</message>`))
			},
			frames: []string{`<stream:error xmlns:stream='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`, wsCloseXML},
			prefix: true,
			code:   websocket.CloseNormalClosure,
		},
		{
			name: "two elements in one frame",
			before: func(c *websocket.Conn) {
				c.WriteMessage(websocket.TextMessage, []byte(`<presence/><presence/>`))
			},
			frames: []string{wsStreamError("not-well-formed", "content after the document element"), wsCloseXML},
			code:   websocket.CloseNormalClosure,
		},
		{
			name: "DTD",
			before: func(c *websocket.Conn) {
				c.WriteMessage(websocket.TextMessage, []byte(`<!DOCTYPE message [<!ENTITY boom 'x'>]><message><body>&boom;</body></message>`))
			},
			frames: []string{wsStreamError("restricted-xml", "DTDs and declarations are not allowed"), wsCloseXML},
			code:   websocket.CloseNormalClosure,
		},
		{
			name: "stanza in the framing namespace",
			before: func(c *websocket.Conn) {
				c.WriteMessage(websocket.TextMessage, []byte(`<message xmlns='`+wsFraming+`'><body>hi</body></message>`))
			},
			frames: []string{wsStreamError("invalid-namespace", "only &lt;open/&gt; and &lt;close/&gt; are in "+wsFraming+"; stanzas are in jabber:client"), wsCloseXML},
			code:   websocket.CloseNormalClosure,
		},
		{
			name: "invalid UTF-8",
			before: func(c *websocket.Conn) {
				c.WriteMessage(websocket.TextMessage, []byte("<message><body>\xff\xfe</body></message>"))
			},
			frames: []string{`<stream:error xmlns:stream='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`, wsCloseXML},
			prefix: true,
			code:   websocket.CloseNormalClosure,
		},
		{
			// Far over the limit, the library refuses the frame from its
			// header alone: no stream error can be written after its close.
			name: "frame far over the limit",
			before: func(c *websocket.Conn) {
				// A text frame header announcing 64 KiB, masked as a
				// client's must be; the payload never needs to follow.
				c.NetConn().Write([]byte{0x81, 0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4})
			},
			code:  websocket.CloseMessageTooBig,
			reset: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := wsDial(t, hs)
			wsOpen(t, c)
			before := srv.SessionCount()
			c.SetWriteDeadline(time.Now().Add(wsWait))
			tc.before(c)
			for i, want := range tc.frames {
				got := wsRead(t, c)
				if (i == 0 && tc.prefix && !strings.HasPrefix(got, want)) || (!(i == 0 && tc.prefix) && got != want) {
					t.Fatalf("frame %d:\n got %s\nwant %s", i, got, want)
				}
			}
			wsExpectCloseFrameThen(t, c, tc.code, tc.reset)
			wsAwaitSessionCount(t, srv, before-1)
			// The well-behaved session goes on.
			wsPing(t, good, goodJID, "after-"+strings.ReplaceAll(tc.name, " ", "-"))
		})
	}
}

func TestWebSocketWhitespaceFrameIsKeepalive(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, false)
	c := wsDial(t, hs)
	jid := wsLogin(t, c, "1001", "ws")
	s := wsSession(t, srv, jid)
	before := s.LastActivity()
	wsSend(t, c, " \n")
	wsPing(t, c, jid, "after-space")
	if !s.LastActivity().After(before) {
		t.Error("activity did not advance")
	}
}

func TestWebSocketPingFramesAndPongActivity(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{PingInterval: 20 * time.Millisecond}, false)
	c := wsDial(t, hs)
	jid := wsLogin(t, c, "1001", "pinged")
	s := wsSession(t, srv, jid)

	pings := make(chan struct{}, 16)
	c.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(wsWait))
	})
	// Control frames are handled while reading; nothing else will come.
	readErr := make(chan error, 1)
	go func() {
		c.SetReadDeadline(time.Now().Add(wsWait))
		_, _, err := c.ReadMessage()
		readErr <- err
	}()

	for i := range 2 {
		select {
		case <-pings:
		case err := <-readErr:
			t.Fatalf("read ended before ping %d: %v", i+1, err)
		case <-time.After(wsWait):
			t.Fatalf("no ping %d", i+1)
		}
	}
	// The client has sent nothing but pongs since the bind, so an advance
	// of the last activity is a pong counted.
	after := s.LastActivity()
	deadline := time.Now().Add(wsWait)
	for !s.LastActivity().After(after) {
		if time.Now().After(deadline) {
			t.Fatal("pongs are not counted as activity")
		}
		select {
		case <-pings:
		case <-time.After(wsWait):
		}
	}
}

func TestWebSocketClientPingAnswered(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{PingInterval: -1}, false)
	c := wsDial(t, hs)
	jid := wsLogin(t, c, "1001", "pinger")
	s := wsSession(t, srv, jid)
	pongs := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	before := s.LastActivity()
	if err := c.WriteControl(websocket.PingMessage, []byte("hello"), time.Now().Add(wsWait)); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.SetReadDeadline(time.Now().Add(wsWait))
		c.ReadMessage()
	}()
	select {
	case data := <-pongs:
		if data != "hello" {
			t.Errorf("pong %q, want hello", data)
		}
	case <-time.After(wsWait):
		t.Fatal("no pong")
	}
	if !s.LastActivity().After(before) {
		t.Error("a ping frame was not counted as activity")
	}
}

func TestWebSocketClientVanishes(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, false)
	other := wsDial(t, hs)
	otherJID := wsLogin(t, other, "1002", "stays")

	c := wsDial(t, hs)
	jid := wsLogin(t, c, "1001", "gone")
	s := wsSession(t, srv, jid)
	c.NetConn().Close() // no <close/>, no close frame
	wsAwaitEnd(t, s)
	j, _ := server.ParseJID(jid)
	if srv.SessionFor(j) != nil {
		t.Error("vanished session still routable")
	}
	wsPing(t, other, otherJID, "still-here")
}

func TestWebSocketCloseFrameWithoutStreamClose(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, false)
	c := wsDial(t, hs)
	jid := wsLogin(t, c, "1001", "abrupt")
	s := wsSession(t, srv, jid)
	c.SetWriteDeadline(time.Now().Add(wsWait))
	if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "")); err != nil {
		t.Fatal(err)
	}
	wsAwaitEnd(t, s)
	// The server answers the close frame, and nothing else.
	c.SetReadDeadline(time.Now().Add(wsWait))
	_, data, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("got %q, %v; want the server's close frame 1000", data, err)
	}
}

func TestWebSocketServerEndsSession(t *testing.T) {
	srv, hs := wsStart(t, server.WebSocketOptions{}, false)
	first := wsDial(t, hs)
	jid := wsLogin(t, first, "1001", "same")
	second := wsDial(t, hs)
	wsLogin(t, second, "1001", "same")
	// The first session is replaced: ended from the second's goroutine.
	wsExpect(t, first, wsStreamError("conflict", "replaced by a new session for the same resource"))
	wsExpect(t, first, wsCloseXML)
	wsExpectCloseFrame(t, first, websocket.CloseNormalClosure)
	wsPing(t, second, jid, "survivor")

	ctx, cancel := context.WithTimeout(context.Background(), wsWait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	wsExpect(t, second, wsStreamError("system-shutdown", "the server is shutting down"))
	wsExpect(t, second, wsCloseXML)
	wsExpectCloseFrame(t, second, websocket.CloseNormalClosure)
}

func TestWebSocketRequiresOpenFirst(t *testing.T) {
	_, hs := wsStart(t, server.WebSocketOptions{}, false)
	c := wsDial(t, hs)
	// The tsung style: a TCP stream header is not a complete document.
	wsSend(t, c, `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>`)
	wsExpectMatch(t, c, wsServerOpen)
	got := wsRead(t, c)
	if !strings.HasPrefix(got, `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`) {
		t.Fatalf("got %s, want a not-well-formed stream error", got)
	}
	wsExpect(t, c, wsCloseXML)
	wsExpectCloseFrame(t, c, websocket.CloseNormalClosure)
}
