package loadtest

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestElementEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // length of the first element; -1: incomplete
	}{
		{"<a/>", 4},
		{"<a/><b/>", 4},
		{"<a x='1'>text</a>rest", 17},
		{"<a x='>' y=\"/>\"><b/><c>t</c></a>", 32},
		{"<a><!-- </a> --></a>", 20},
		{"<a><![CDATA[</a>]]></a>", 23},
		{"<a><b>", -1},
		{"<a x='1", -1},
		{"<a><b/></", -1},
		{"<", -1},
	} {
		n, err := elementEnd([]byte(tc.in))
		switch {
		case tc.want < 0 && !errors.Is(err, errIncomplete):
			t.Errorf("%q: %d %v, want incomplete", tc.in, n, err)
		case tc.want >= 0 && (err != nil || n != tc.want):
			t.Errorf("%q: %d %v, want %d", tc.in, n, err, tc.want)
		}
	}
	if _, err := elementEnd([]byte("<a><!DOCTYPE x></a>")); err == nil || errors.Is(err, errIncomplete) {
		t.Errorf("a DOCTYPE: %v, want malformed", err)
	}
}

// chunks reads s a few bytes at a time, as a slow socket would.
type chunks struct {
	s    string
	size int
}

func (c *chunks) Read(b []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := min(len(b), c.size, len(c.s))
	copy(b, c.s[:n])
	c.s = c.s[n:]
	return n, nil
}

func TestStreamReaderSplitsAStream(t *testing.T) {
	stream := "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='x' from='d' version='1.0'>" +
		"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>" +
		" \n<!-- a comment --><message from='p' to='u'><body>" + strings.Repeat("long ", 2000) + "</body></message>" +
		"<iq type='get' id='ping-1' from='d'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>"
	for _, size := range []int{1, 7, 100, 1 << 20} {
		r := newStreamReader((&chunks{s: stream, size: size}).Read, 16, 1<<20)
		var names []string
		for {
			el, err := r.next()
			if errors.Is(err, errStreamEnd) {
				break
			}
			if err != nil {
				t.Fatalf("chunks of %d: %v", size, err)
			}
			names = append(names, string(tagName(el)))
		}
		if got := strings.Join(names, " "); got != "stream:features message iq" {
			t.Errorf("chunks of %d: %s", size, got)
		}
	}
}

func TestStreamReaderBoundsAStanza(t *testing.T) {
	stream := "<stream:stream><message>" + strings.Repeat("x", 5000) + "</message>"
	r := newStreamReader((&chunks{s: stream, size: 512}).Read, 64, 4096)
	if _, err := r.next(); err == nil || !strings.Contains(err.Error(), "over 4096 bytes") {
		t.Errorf("an oversized stanza: %v", err)
	}
}

func TestAttrAndChildText(t *testing.T) {
	el := []byte(`<iq type="result" id='a&apos;b' from='x@y/z'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u@d/r&amp;1</jid></bind></iq>`)
	for name, want := range map[string]string{"type": "result", "id": "a'b", "from": "x@y/z"} {
		if got, ok := attr(el, name); !ok || got != want {
			t.Errorf("attr %s = %q %v, want %q", name, got, ok, want)
		}
	}
	if _, ok := attr(el, "xmlns"); ok {
		t.Error("attr found xmlns on iq, which has none (only its child does)")
	}
	if got, ok := childText(el, "jid"); !ok || got != "u@d/r&1" {
		t.Errorf("childText jid = %q %v", got, ok)
	}
	if got := string(tagName([]byte("<stream:features xmlns:stream='s'>"))); got != "stream:features" {
		t.Errorf("tagName %q", got)
	}
	if got := unescape([]byte("&#65;&#x42;&lt;")); got != "AB<" {
		t.Errorf("unescape %q", got)
	}
}

func TestSplitChildren(t *testing.T) {
	body := []byte(`<body xmlns='http://jabber.org/protocol/httpbind' sid='s'><message id='1'/><iq id='2'><x>y</x></iq></body>`)
	var got []string
	if err := splitChildren(body, func(el []byte) { got = append(got, string(el)) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "<message id='1'/>" || got[1] != "<iq id='2'><x>y</x></iq>" {
		t.Errorf("children %q", got)
	}
	got = nil
	if err := splitChildren([]byte(`<body sid='s'/>`), func(el []byte) { got = append(got, string(el)) }); err != nil || got != nil {
		t.Errorf("an empty body: %q %v", got, err)
	}
}

func TestToken(t *testing.T) {
	tok := formatToken(12, 345, 1700000000123456789)
	if tok != "flq.12.345.1700000000123456789" {
		t.Fatalf("token %q", tok)
	}
	// Escaped inside a Finesse notification, the token is untouched.
	el := []byte("<message><event><items><item><notification>&lt;Update&gt;&lt;requestId&gt;" + tok + "&lt;/requestId&gt;</notification></item></items></event></message>")
	stream, seq, ts, ok := findToken(el)
	if !ok || stream != 12 || seq != 345 || ts != 1700000000123456789 {
		t.Errorf("findToken = %d %d %d %v", stream, seq, ts, ok)
	}
	for _, bad := range []string{"flq.", "flq.1.2", "flq.1..3", "flq.a.2.3", "no token"} {
		if _, _, _, ok := findToken([]byte(bad)); ok {
			t.Errorf("findToken(%q) found one", bad)
		}
	}
}
