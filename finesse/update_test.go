package finesse

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/beevik/etree"
)

func TestUpdateRender(t *testing.T) {
	cases := []struct {
		name string
		u    Update
		want string
	}{
		{
			"user state",
			Update{Data: []byte(`<user><state>READY</state></user>`), Event: "PUT", RequestID: "r-1", Source: "/finesse/api/User/1001"},
			`<Update><data><user><state>READY</state></user></data><event>PUT</event><requestId>r-1</requestId><source>/finesse/api/User/1001</source></Update>`,
		},
		{
			"unsolicited, event in lower case",
			Update{Data: []byte(`<dialogs/>`), Event: "post", Source: "/finesse/api/User/1001/Dialogs"},
			`<Update><data><dialogs/></data><event>POST</event><requestId></requestId><source>/finesse/api/User/1001/Dialogs</source></Update>`,
		},
		{
			"deleted object",
			Update{Event: "Delete", Source: "/finesse/api/User/1001"},
			`<Update><data></data><event>DELETE</event><requestId></requestId><source>/finesse/api/User/1001</source></Update>`,
		},
		{
			"text fields escaped, quotes literal",
			Update{Data: []byte(`<x a="&amp;"/>`), Event: "PUT", RequestID: `a&b<c>d"e'f` + "\rg\th\ni", Source: "/é/😀"},
			`<Update><data><x a="&amp;"/></data><event>PUT</event><requestId>a&amp;b&lt;c&gt;d"e'f&#xD;g` + "\th\ni" +
				`</requestId><source>/é/😀</source></Update>`,
		},
		{
			"characters XML cannot carry",
			Update{Event: "PUT", RequestID: "a\x00b\x1fc\xffd\uFFFEe", Source: "\xed\xa0\x80"},
			"<Update><data></data><event>PUT</event><requestId>a\uFFFDb\uFFFDc\uFFFDd\uFFFDe</requestId><source>\uFFFD\uFFFD\uFFFD</source></Update>",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.u.Render()
			if string(got) != c.want {
				t.Errorf("Render =\n%s\nwant\n%s", got, c.want)
			}
			if len(got) != cap(got) {
				t.Errorf("Render sized its buffer %d for %d bytes", cap(got), len(got))
			}
			if err := checkWellFormed(got); err != nil {
				t.Errorf("Render is not well-formed: %v", err)
			}
		})
	}
}

func TestUpdateRenderFieldsReadBack(t *testing.T) {
	u := Update{Data: []byte(`<user><loginId>1001</loginId></user>`), Event: "put", RequestID: "x&<>\"'\r\n\t y", Source: "/finesse/api/User/1001"}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(u.Render()); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	var tags []string
	for _, el := range root.ChildElements() {
		tags = append(tags, el.Tag)
	}
	if root.Tag != "Update" || strings.Join(tags, ",") != "data,event,requestId,source" {
		t.Fatalf("structure %s > %v", root.Tag, tags)
	}
	if got := root.SelectElement("requestId").Text(); got != u.RequestID {
		t.Errorf("requestId reads back as %q, want %q", got, u.RequestID)
	}
	if got := root.SelectElement("event").Text(); got != "PUT" {
		t.Errorf("event = %q", got)
	}
	if got := root.FindElement("data/user/loginId").Text(); got != "1001" {
		t.Errorf("data/user/loginId = %q", got)
	}
}

func TestNotificationPayloadBytes(t *testing.T) {
	in := "<Update a=\"1\" b='2'>x & y\r\n&amp;]]></Update>"
	want := `<notification xmlns='http://jabber.org/protocol/pubsub'>&lt;Update a="1" b='2'&gt;x &amp; y&#xD;` + "\n" +
		`&amp;amp;]]&gt;&lt;/Update&gt;</notification>`
	got := NotificationPayload([]byte(in))
	if string(got) != want {
		t.Errorf("NotificationPayload =\n%s\nwant\n%s", got, want)
	}
	if len(got) != cap(got) {
		t.Errorf("NotificationPayload sized its buffer %d for %d bytes", cap(got), len(got))
	}
	if got := EscapeNotificationText([]byte("pre:"), []byte("<&>\r\"'")); string(got) != `pre:&lt;&amp;&gt;&#xD;"'` {
		t.Errorf("EscapeNotificationText appended %q", got)
	}
}

// roundTripInputs hold everything the escaping must carry: markup, the
// four escaped characters, quotes, CR alone and in CR LF, tabs, entity
// look-alikes, a CDATA end, non-ASCII, and nothing at all.
var roundTripInputs = []string{
	"",
	"plain",
	`<Update><data><user><firstName>Zoë &amp; "Ann" 'O'</firstName></user></data><event>PUT</event><requestId></requestId><source>/finesse/api/User/1001</source></Update>`,
	"<a>\r\n</a>\r\r\n\n",
	"\r",
	"&lt; &#x3C; &amp;amp; &#13;",
	"]]> ]] > <![CDATA[x]]>",
	"tab\there\u00a0nbsp 日本語 😀 \u2028",
	`"'"'`,
	" leading and trailing ",
	strings.Repeat("<&>\r", 1000),
}

// textOfNotification parses payload with encoding/xml and returns the
// character data of its <notification> root, checking that it has no
// child elements.
func textOfNotification(t *testing.T, payload []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(payload))
	d.Strict = true
	var text strings.Builder
	depth := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("payload %q is not well-formed: %v", payload, err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > 1 {
				t.Fatalf("payload has child elements: %q", payload)
			}
			if tk.Name.Local != "notification" || tk.Name.Space != NotificationNamespace {
				t.Fatalf("root is %v", tk.Name)
			}
		case xml.EndElement:
			depth--
		case xml.CharData:
			text.Write(tk)
		}
	}
	return text.String()
}

func TestNotificationRoundTrip(t *testing.T) {
	for _, in := range roundTripInputs {
		payload := NotificationPayload([]byte(in))
		if got := textOfNotification(t, payload); got != in {
			t.Errorf("encoding/xml reads back %q, want %q", got, in)
		}
		// etree, as the test client (and most Go clients) parse.
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(payload); err != nil {
			t.Fatalf("etree: %v", err)
		}
		if got := doc.Root().Text(); got != in {
			t.Errorf("etree reads back %q, want %q", got, in)
		}
	}
}

// FuzzNotificationRoundTrip: whatever XML text goes in comes back out of
// a parser exactly.
func FuzzNotificationRoundTrip(f *testing.F) {
	for _, in := range roundTripInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if !isXMLText(in) {
			return // NotificationPayload's input is XML text by contract
		}
		payload := NotificationPayload([]byte(in))
		if got := textOfNotification(t, payload); got != in {
			t.Errorf("reads back %q, want %q", got, in)
		}
	})
}

// FuzzUpdateRender: any field values give a well-formed Update whose
// text fields read back unchanged when they were XML text.
func FuzzUpdateRender(f *testing.F) {
	f.Add("PUT", "r-1", "/finesse/api/User/1001")
	f.Add("post", "a&b<c>\r\n", "\x00\xff")
	f.Fuzz(func(t *testing.T, event, requestID, source string) {
		u := Update{Data: []byte("<x/>"), Event: event, RequestID: requestID, Source: source}
		out := u.Render()
		if len(out) != cap(out) {
			t.Errorf("buffer %d for %d bytes", cap(out), len(out))
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(out); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if isXMLText(requestID) {
			if got := doc.Root().SelectElement("requestId").Text(); got != requestID {
				t.Errorf("requestId reads back %q, want %q", got, requestID)
			}
		}
	})
}

func isXMLText(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if !xmlChar(r, size) {
			return false
		}
		i += size
	}
	return true
}

func checkWellFormed(b []byte) error {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	for {
		if _, err := d.Token(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func TestRenderAllocations(t *testing.T) {
	u := Update{Data: []byte(`<user><state>READY</state></user>`), Event: "PUT", RequestID: "r-1", Source: "/finesse/api/User/1001"}
	rendered := u.Render()
	if n := testing.AllocsPerRun(100, func() { _ = u.Render() }); n != 1 {
		t.Errorf("Render allocates %v times, want 1", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = NotificationPayload(rendered) }); n != 1 {
		t.Errorf("NotificationPayload allocates %v times, want 1", n)
	}
}
