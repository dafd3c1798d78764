package server

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func streamEvents(t *testing.T, input string, limits Limits) ([]Event, error) {
	t.Helper()
	d := NewStreamDecoder(bufio.NewReader(strings.NewReader(input)), limits)
	var evs []Event
	for {
		ev, err := d.Next()
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestStreamDecoderEvents(t *testing.T) {
	input := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>` +
		` <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>` + "\n\t " +
		`<message to='a@example.com'><body>x &amp; y</body></message></stream:stream>`
	evs, err := streamEvents(t, input, Limits{})
	if err != io.EOF {
		t.Fatalf("err = %v, want io.EOF", err)
	}
	if len(evs) != 4 {
		t.Fatalf("got %d events, want 4", len(evs))
	}
	start := evs[0].Start
	if evs[0].Kind != EventStreamStart || start.Name.Space != NSStream || start.Name.Local != "stream" ||
		start.DefaultNS != NSClient || start.AttrValue("to") != "example.com" || start.LangAttr() != "en" {
		t.Errorf("stream start = %+v", evs[0])
	}
	if got := string(Serialize(evs[1].Element)); got != `<iq xmlns='jabber:client' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>` {
		t.Errorf("iq = %s", got)
	}
	if got := string(Serialize(evs[2].Element)); got != `<message xmlns='jabber:client' to='a@example.com'><body>x &amp; y</body></message>` {
		t.Errorf("message = %s", got)
	}
	if evs[3].Kind != EventStreamEnd {
		t.Errorf("last event = %v, want stream end", evs[3].Kind)
	}
}

func TestDecoderNormalisesNamespaces(t *testing.T) {
	// Prefixes on elements are resolved away; a foreign attribute keeps its
	// prefix with a declaration on its own element, so the stanza can be
	// written on its own.
	input := `<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client' xmlns:p='urn:p' version='1.0'>` +
		`<p:thing p:attr='v'><child/><other xmlns=''/></p:thing></s:stream>`
	evs, err := streamEvents(t, input, Limits{})
	if err != io.EOF {
		t.Fatal(err)
	}
	got := string(Serialize(evs[1].Element))
	// <child/> is in the stream's default namespace, not its parent's prefix one.
	want := `<thing xmlns='urn:p' xmlns:p='urn:p' p:attr='v'><child xmlns='jabber:client'/><other xmlns=''/></thing>`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if ns := evs[1].Element.SelectElement("child").NamespaceURI(); ns != NSClient {
		t.Errorf("child namespace = %q", ns)
	}
}

func TestDecoderRefusals(t *testing.T) {
	const head = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
	cases := []struct {
		name, input, cond string
		limits            Limits
	}{
		{"doctype", `<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY x "y">]>` + head, CondRestrictedXML, Limits{}},
		{"entity declaration inside stream", head + `<!ENTITY x "y">`, CondRestrictedXML, Limits{}},
		{"undefined entity", head + `<message><body>&x;</body></message>`, CondRestrictedXML, Limits{}},
		{"comment", head + `<!-- hi --><message/>`, CondRestrictedXML, Limits{}},
		{"comment in stanza", head + `<message><!-- hi --></message>`, CondRestrictedXML, Limits{}},
		{"processing instruction", head + `<?php echo 1 ?>`, CondRestrictedXML, Limits{}},
		{"late xml declaration", head + `<?xml version='1.0'?>`, CondRestrictedXML, Limits{}},
		{"mismatched tags", head + `<message><body></message>`, CondNotWellFormed, Limits{}},
		{"bad syntax", head + `<message <body/>`, CondNotWellFormed, Limits{}},
		{"duplicate attribute", head + `<message to='a' to='b'/>`, CondNotWellFormed, Limits{}},
		{"duplicate namespaced attribute", head + `<message xmlns:a='urn:x' xmlns:b='urn:x' a:t='1' b:t='2'/>`, CondNotWellFormed, Limits{}},
		{"undeclared prefix", head + `<foo:message/>`, CondBadNamespacePrefix, Limits{}},
		{"undeclared attribute prefix", head + `<message foo:x='1'/>`, CondBadNamespacePrefix, Limits{}},
		{"text at stream level", head + `hello`, CondBadFormat, Limits{}},
		{"non utf-8 encoding", `<?xml version='1.0' encoding='ISO-8859-1'?>` + head, CondUnsupportedEncoding, Limits{}},
		{"invalid character", head + "<message><body>\x01</body></message>", CondNotWellFormed, Limits{}},
		{"element named by a colon", head + `<message><:></:></message>`, CondNotWellFormed, Limits{}},
		{"element name with two colons", head + `<message xmlns:a='urn:a'><a:b:c/></message>`, CondNotWellFormed, Limits{}},
		{"attribute named by a colon", head + `<message :='1'/>`, CondNotWellFormed, Limits{}},
		{"oversize stanza", head + `<message><body>` + strings.Repeat("x", 2000) + `</body></message>`, CondPolicyViolation, Limits{MaxBytes: 1024}},
		{"oversize attribute", head + `<message to='` + strings.Repeat("x", 2000) + `'/>`, CondPolicyViolation, Limits{MaxBytes: 1024}},
		{"too deep", head + strings.Repeat("<a>", 10) + strings.Repeat("</a>", 10), CondPolicyViolation, Limits{MaxDepth: 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := streamEvents(t, tc.input, tc.limits)
			var se *StreamError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want stream error %s", err, tc.cond)
			}
			if se.Condition != tc.cond {
				t.Fatalf("condition = %s (%s), want %s", se.Condition, se.Text, tc.cond)
			}
		})
	}
}

func TestDecoderBudgetResetsPerStanza(t *testing.T) {
	// Many stanzas, each under the limit, together far over it.
	var b strings.Builder
	b.WriteString(`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`)
	for range 100 {
		b.WriteString(`<message><body>` + strings.Repeat("y", 200) + `</body></message>` + strings.Repeat(" ", 300))
	}
	evs, err := streamEvents(t, b.String(), Limits{MaxBytes: 512})
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v", err)
	}
	if len(evs) != 101 {
		t.Fatalf("got %d events, want 101", len(evs))
	}
}

func TestStreamDecoderEOF(t *testing.T) {
	const head = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
	if _, err := streamEvents(t, head+`<message><bo`, Limits{}); err != io.ErrUnexpectedEOF {
		t.Errorf("EOF inside a stanza: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := streamEvents(t, head+`<message/>`, Limits{}); err != io.ErrUnexpectedEOF {
		t.Errorf("EOF inside the stream: err = %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := streamEvents(t, "", Limits{}); err != io.EOF {
		t.Errorf("empty input: err = %v, want io.EOF", err)
	}
}

func TestParseDocument(t *testing.T) {
	el, err := ParseDocument([]byte(` <open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='example.com' version='1.0'/> `), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if el.Tag != "open" || el.NamespaceURI() != NSFraming || el.SelectAttrValue("to", "") != "example.com" {
		t.Errorf("got %s", Serialize(el))
	}
	el, err = ParseDocument([]byte(`<message><body>hi</body></message>`), Limits{})
	if err != nil || el.NamespaceURI() != "" {
		t.Errorf("unqualified element: %v, namespace %q", err, el.NamespaceURI())
	}
	bad := map[string]string{
		"empty":          "",
		"truncated":      `<message><body>`,
		"two roots":      `<a/><b/>`,
		"trailing text":  `<a/>junk`,
		"doctype":        `<!DOCTYPE a><a/>`,
		"billion laughs": `<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><a>&lol2;</a>`,
	}
	for name, doc := range bad {
		if _, err := ParseDocument([]byte(doc), Limits{}); err == nil {
			t.Errorf("%s: accepted", name)
		} else if _, ok := err.(*StreamError); !ok {
			t.Errorf("%s: err %T %v is not a stream error", name, err, err)
		}
	}
	if _, err := ParseDocument([]byte(`<a>`+strings.Repeat("z", 5000)+`</a>`), Limits{MaxBytes: 4096}); err == nil ||
		err.(*StreamError).Condition != CondPolicyViolation {
		t.Errorf("oversize document: err = %v", err)
	}
}

func TestRenderRoundTrip(t *testing.T) {
	// What the decoder builds, Serialize writes back as equivalent XML.
	in := `<message xmlns='jabber:client' to='a@b/c' xml:lang='en'><body>&lt;tag&gt; &amp; &apos;q&apos; &quot;d&quot;</body><x xmlns='urn:x' a='&lt;&amp;'/></message>`
	el, err := ParseDocument([]byte(in), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseDocument(Serialize(el), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if string(Serialize(again)) != string(Serialize(el)) {
		t.Errorf("round trip changed:\n%s\n%s", Serialize(el), Serialize(again))
	}
	if el.SelectElement("body").Text() != `<tag> & 'q' "d"` {
		t.Errorf("body text = %q", el.SelectElement("body").Text())
	}
}
