package finesse

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/finesse-notify/finesse-notify/pubsub"
)

func TestWellFormedDocument(t *testing.T) {
	var attrs, dupAttrs strings.Builder
	for i := range 20 {
		fmt.Fprintf(&attrs, " a%d='%d'", i, i)
	}
	dupAttrs.WriteString(attrs.String() + " a7='again'")
	good := []struct{ in, want string }{
		{"<a/>", "<a/>"},
		{"\ufeff  <?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<a>x</a>\n\n", "<a>x</a>"},
		{"<?xml version='1.0' standalone='yes'?><a/>", "<a/>"},
		{"<?xml version='1.0'?><?app x?><a/><!-- after -->", "<?app x?><a/><!-- after -->"},
		{"<!-- c --><a/>", "<!-- c --><a/>"},
		{"<?xml-stylesheet href='s'?><a/>", "<?xml-stylesheet href='s'?><a/>"},
		{"<p:a xmlns:p='urn:x' p:b='1' b='2'><p:c/><d xmlns='urn:y'/></p:a>", "<p:a xmlns:p='urn:x' p:b='1' b='2'><p:c/><d xmlns='urn:y'/></p:a>"},
		{"<a xml:lang='en' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>", "<a xml:lang='en' xmlns:xml='http://www.w3.org/XML/1998/namespace'/>"},
		{"<a>&lt;&#x41;&#66;&amp;&quot;&apos;&gt;</a>", "<a>&lt;&#x41;&#66;&amp;&quot;&apos;&gt;</a>"},
		{"<a><![CDATA[<x>&]]></a>", "<a><![CDATA[<x>&]]></a>"},
		{"<a>\r\n  é 😀\t</a>", "<a>\r\n  é 😀\t</a>"},
		{"<a" + attrs.String() + "/>", "<a" + attrs.String() + "/>"},
		{"<a xmlns:p='u' xmlns:q='v' p:b='1' q:b='2'/>", "<a xmlns:p='u' xmlns:q='v' p:b='1' q:b='2'/>"},
	}
	for _, c := range good {
		got, err := wellFormedDocument([]byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("wellFormedDocument(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "no root"},
		{" \r\n ", "no root"},
		{"<?xml version='1.0'?>", "no root"},
		{"<!-- only -->", "no root"},
		{"text", "text outside"},
		{"<a/>x", "text outside"},
		{"<a>", "not closed"},
		{"<a><b></a>", "closed by"},
		{"</a>", "unexpected end tag"},
		{"<a/><b/>", "more than one root"},
		{"<a>&nbsp;</a>", "entity"},
		{"<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>", "DTD"},
		{"<a b='1' b='2'/>", "duplicate attribute b"},
		{"<a" + dupAttrs.String() + "/>", "duplicate attribute a7"},
		{"<a xmlns:p='u' xmlns:q='u' p:b='1' q:b='2'/>", "repeats a name"},
		{"<a xmlns:p='u' xmlns:q='u'" + attrs.String() + " p:b='1' q:b='2'/>", "repeats a name"},
		{"<a xmlns:p='u' xmlns:p='v'/>", "duplicate attribute xmlns:p"},
		{"<p:a/>", "undeclared prefix p"},
		{"<a p:b='1'/>", "undeclared prefix p"},
		{"<a><p:b xmlns:p='u'/><p:c/></a>", "undeclared prefix p"},
		{"<a xmlns:p=''/>", "empty namespace"},
		{"<a xmlns:xml='urn:other'/>", "prefix xml"},
		{"<a xmlns:x='http://www.w3.org/XML/1998/namespace'/>", "prefix xml"},
		{"<a xmlns:xmlns='urn:x'/>", "xmlns"},
		{"<xmlns:a/>", "reserved"},
		{"<a:b:c xmlns:a='u'/>", "element name"},
		{"<:a/>", "colon"},
		{"<a:/>", "colon"},
		{"<a b:='1'/>", "colon"},
		{"<a :b='1'/>", "colon"},
		{"<?xml version='1.0' encoding='ISO-8859-1'?><a/>", "CharsetReader"},
		{"<?xml version='2.0'?><a/>", "version"},
		{"<a/><?xml version='1.0'?>", "XML declaration"},
		{"<a><?XML x?></a>", "XML declaration"},
		{"<?XML version='1.0'?><a/>", "XML declaration"},
		{"<?xml version='1.0'", "unterminated"},
		{"<a>\xff</a>", "UTF-8"},
		{"<a>\x01</a>", "illegal character"},
		{"<a b=1/>", "unquoted"},
	}
	for _, c := range bad {
		got, err := wellFormedDocument([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("wellFormedDocument(%q) = %q, %v; want an error containing %q", c.in, got, err, c.want)
		}
	}
}

// apiError parses an <ApiErrors> answer.
func apiError(t *testing.T, resp *http.Response, body string) (errType, message, data string) {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q, want application/xml", ct)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(body); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	e := doc.FindElement("/ApiErrors/ApiError")
	if e == nil || len(doc.Root().ChildElements()) != 1 {
		t.Fatalf("error body %q is not <ApiErrors><ApiError>", body)
	}
	var tags []string
	for _, c := range e.ChildElements() {
		tags = append(tags, c.Tag)
	}
	if strings.Join(tags, ",") != "ErrorType,ErrorMessage,ErrorData" {
		t.Errorf("ApiError children %v", tags)
	}
	return e.SelectElement("ErrorType").Text(), e.SelectElement("ErrorMessage").Text(), e.SelectElement("ErrorData").Text()
}

type publishRequest struct {
	method     string
	node       string // query node=; "-" for none
	user, pass string // "" for no Authorization
	body       io.Reader
}

func (h *harness) post(t *testing.T, srvURL string, r publishRequest) (*http.Response, string) {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	u := srvURL + PublishPath
	if r.node != "-" {
		u += "?node=" + url.QueryEscape(r.node)
	}
	req, err := http.NewRequest(r.method, u, r.body)
	if err != nil {
		t.Fatal(err)
	}
	if r.user != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// onlyReader hides a body's length, so the request is chunked.
type onlyReader struct{ io.Reader }

func TestPublishHandlerErrors(t *testing.T) {
	h := newHarness(t, pubsub.Config{})
	const maxBody = 1024
	ts := httptest.NewServer(PublishHandler(h.n, h.dir, maxBody))
	t.Cleanup(ts.Close)
	doc := "<Update><data/><event>PUT</event><requestId/><source>x</source></Update>"
	node := SystemInfoNode
	cases := []struct {
		name       string
		req        publishRequest
		status     int
		errType    string
		data       string
		challenged bool
	}{
		{"GET", publishRequest{method: http.MethodGet, node: node, user: "admin", pass: testPassword}, 405, "Method Not Allowed", "GET", false},
		{"PUT", publishRequest{method: http.MethodPut, node: node, user: "admin", pass: testPassword, body: strings.NewReader(doc)}, 405, "Method Not Allowed", "PUT", false},
		{"no credentials", publishRequest{node: node, body: strings.NewReader(doc)}, 401, "Authorization Failure", "", true},
		{"wrong password", publishRequest{node: node, user: "admin", pass: "wrong", body: strings.NewReader(doc)}, 401, "Authorization Failure", "", true},
		{"unknown user", publishRequest{node: node, user: "nobody", pass: testPassword, body: strings.NewReader(doc)}, 401, "Authorization Failure", "", true},
		{"agent", publishRequest{node: node, user: "1001", pass: testPassword, body: strings.NewReader(doc)}, 403, "Invalid Authorization User Specified", "1001", false},
		{"supervisor", publishRequest{node: TeamUsersNode(1), user: "2001", pass: testPassword, body: strings.NewReader(doc)}, 403, "Invalid Authorization User Specified", "2001", false},
		{"no node", publishRequest{node: "-", user: "admin", pass: testPassword, body: strings.NewReader(doc)}, 400, "Parameter Missing", "node", false},
		{"empty node", publishRequest{node: "", user: "admin", pass: testPassword, body: strings.NewReader(doc)}, 400, "Parameter Missing", "node", false},
		{"unknown user node", publishRequest{node: "/finesse/api/User/9999", user: "admin", pass: testPassword, body: strings.NewReader(doc)}, 404, "Not Found", "/finesse/api/User/9999", false},
		{"not a node", publishRequest{node: "x<y", user: "admin", pass: testPassword, body: strings.NewReader(doc)}, 404, "Not Found", "x<y", false},
		{"empty body", publishRequest{node: node, user: "admin", pass: testPassword, body: strings.NewReader("")}, 400, "Invalid Input", "", false},
		{"not XML", publishRequest{node: node, user: "admin", pass: testPassword, body: strings.NewReader("hello")}, 400, "Invalid Input", "", false},
		{"two roots", publishRequest{node: node, user: "admin", pass: testPassword, body: strings.NewReader(doc + doc)}, 400, "Invalid Input", "", false},
		{"unclosed", publishRequest{node: node, user: "admin", pass: testPassword, body: strings.NewReader("<Update><data>")}, 400, "Invalid Input", "", false},
		{"too big", publishRequest{node: node, user: "admin", pass: testPassword, body: strings.NewReader("<a>" + strings.Repeat("x", maxBody) + "</a>")}, 413, "Invalid Input", "1024", false},
		{"too big, chunked", publishRequest{node: node, user: "admin", pass: testPassword, body: onlyReader{strings.NewReader("<a>" + strings.Repeat("x", maxBody) + "</a>")}}, 413, "Invalid Input", "1024", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := h.post(t, ts.URL, c.req)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, c.status, body)
			}
			errType, msg, data := apiError(t, resp, body)
			if errType != c.errType || data != c.data || msg == "" {
				t.Errorf("ApiError %q / %q / %q; want type %q, data %q and a message", errType, msg, data, c.errType, c.data)
			}
			challenge := resp.Header.Get("WWW-Authenticate")
			if c.challenged != strings.HasPrefix(challenge, "Basic ") {
				t.Errorf("WWW-Authenticate %q (want a Basic challenge: %v)", challenge, c.challenged)
			}
			if c.status == 405 && resp.Header.Get("Allow") != http.MethodPost {
				t.Errorf("Allow %q", resp.Header.Get("Allow"))
			}
		})
	}
	if got := h.logs.FilterMessage("HTTP publish").Len(); got != 0 {
		t.Errorf("%d publishes logged after only errors", got)
	}
}

func TestPublishHandlerPayloadLimit(t *testing.T) {
	h := newHarness(t, pubsub.Config{MaxPayloadBytes: 300})
	ts := httptest.NewServer(PublishHandler(h.n, h.dir, 0)) // default body limit
	t.Cleanup(ts.Close)
	// Under the body limit, but escaping takes it over pubsub's.
	body := "<a>" + strings.Repeat("&amp;", 50) + "</a>"
	resp, out := h.post(t, ts.URL, publishRequest{node: SystemInfoNode, user: "admin", pass: testPassword, body: strings.NewReader(body)})
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413; %s", resp.StatusCode, out)
	}
	if _, _, data := apiError(t, resp, out); data != SystemInfoNode {
		t.Errorf("ErrorData %q", data)
	}
}

func TestPublishHandlerPublishes(t *testing.T) {
	h := newHarness(t, pubsub.Config{})
	ts := httptest.NewServer(PublishHandler(h.n, h.dir, 64<<10))
	t.Cleanup(ts.Close)
	agent := h.online(t, "1001", "desk")
	teammate := h.online(t, "1002", "desk")

	node := UserDialogsNode("1001")
	update := "<Update><data><dialogs><Dialog><fromAddress>A&amp;B \"x\" 'y'</fromAddress></Dialog></dialogs></data>\r\n" +
		"<event>POST</event><requestId></requestId><source>" + node + "</source></Update>"
	body := "\ufeff<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + update + "\n\n"
	// The user name is matched whatever its case, as SASL is.
	resp, out := h.post(t, ts.URL, publishRequest{node: node, user: "ADMIN", pass: testPassword, body: strings.NewReader(body)})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromString(out); err != nil {
		t.Fatalf("answer %q: %v", out, err)
	}
	root := doc.Root()
	itemID := root.SelectAttrValue("itemId", "")
	if root.Tag != "published" || root.SelectAttrValue("node", "") != node || itemID == "" || root.SelectAttrValue("deliveries", "") != "1" {
		t.Errorf("answer %s", out)
	}
	msg, err := agent.Await("notification", isEventFor(node))
	if err != nil {
		t.Fatal(err)
	}
	text, gotItem := notificationText(t, msg, node)
	if text != update {
		t.Errorf("notification text\n%q\nwant the body without its declaration and outer white space\n%q", text, update)
	}
	if gotItem != itemID {
		t.Errorf("item id %q on the wire, %q in the answer", gotItem, itemID)
	}
	flush(t, teammate)
	for _, el := range teammate.Backlog() {
		if isEventFor(node)(el) {
			t.Errorf("1002 got 1001's dialogs: %s", render(el))
		}
	}

	// A campaign node exists, and nobody is subscribed to it yet.
	resp, out = h.post(t, ts.URL, publishRequest{node: CampaignNode("Care"), user: "admin", pass: testPassword, body: strings.NewReader("<task/>")})
	if resp.StatusCode != http.StatusOK || !strings.Contains(out, "deliveries='0'") {
		t.Errorf("campaign publish: %d %s", resp.StatusCode, out)
	}
	if got := h.logs.FilterMessage("HTTP publish").Len(); got != 2 {
		t.Errorf("%d publishes logged, want 2", got)
	}
}
