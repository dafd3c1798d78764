package ccp

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/finesse/task"
)

// taskXML builds a <Task> body from inner elements.
func taskXML(inner ...string) string { return "<Task>" + strings.Join(inner, "") + "</Task>" }

const (
	okName  = "<name>John Doe</name>"
	okTitle = "<title>Help with my phone</title>"
)

func tags(n int) string {
	var b strings.Builder
	b.WriteString("<tags>")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "<tag>tag%d</tag>", i)
	}
	b.WriteString("</tags>")
	return b.String()
}

func vars(names ...string) string {
	var b strings.Builder
	b.WriteString("<variables>")
	for _, n := range names {
		fmt.Fprintf(&b, "<variable><name>%s</name><value>v</value></variable>", n)
	}
	b.WriteString("</variables>")
	return b.String()
}

// TestTaskBodyRules runs every rule of the <Task> body: each accepted body
// answers 201; each refused one answers its error document and neither
// reaches the router nor publishes anything.
func TestTaskBodyRules(t *testing.T) {
	h := newHarness(t, func(_ *ContactsConfig, c *Config) { c.MaxVariables = 12 })
	allCVs := vars("cv_1", "cv_2", "cv_3", "cv_4", "cv_5", "cv_6", "cv_7", "cv_8", "cv_9", "cv_10", "user_myEcc", "mediaType")
	cases := []struct {
		name          string
		body          string
		status        int
		errType, data string
		bounds        *bounds
	}{
		{name: "minimal", body: taskXML(okName, okTitle), status: 201},
		{name: "everything", body: taskXML(okName, okTitle, "<description>d</description><scriptSelector>CumulusTask</scriptSelector>",
			"<customerUID>c-1</customerUID><requeueOnRecovery>true</requeueOnRecovery>", tags(2), allCVs), status: 201},
		{name: "declaration, comments and a byte-order mark", body: "\uFEFF<?xml version='1.0' encoding='UTF-8'?><!-- a task -->\n" + taskXML(okName, okTitle) + "\n<!-- end -->", status: 201},
		{name: "unknown elements are ignored", body: taskXML(okName, okTitle, "<priority>high</priority>"), status: 201},
		{name: "pretty-printed name", body: taskXML("<name>\n   John Doe\n</name>", okTitle), status: 201},

		{name: "malformed", body: "<Task><name>John</name>", status: 400, errType: errXMLSyntax, data: "Task"},
		{name: "not XML", body: "name=John", status: 400, errType: errXMLSyntax, data: "Task"},
		{name: "empty body", body: " ", status: 400, errType: errXMLSyntax, data: "Task"},
		{name: "other root", body: "<Contact>" + okName + okTitle + "</Contact>", status: 400, errType: errXMLSyntax, data: "Task"},
		{name: "DTD", body: "<!DOCTYPE Task [<!ENTITY x 'y'>]>" + taskXML(okName, okTitle), status: 400, errType: errXMLSyntax, data: "Task"},
		{name: "undeclared entity", body: taskXML("<name>&x;</name>", okTitle), status: 400, errType: errXMLSyntax, data: "Task"},
		{name: "second root", body: taskXML(okName, okTitle) + taskXML(okName, okTitle), status: 400, errType: errXMLSyntax, data: "Task"},

		{name: "no name", body: taskXML(okTitle), status: 400, errType: errRequiredField, data: "name"},
		{name: "blank name", body: taskXML("<name> \t </name>", okTitle), status: 400, errType: errRequiredField, data: "name"},
		{name: "name of 100 characters", body: taskXML("<name>"+strings.Repeat("é", 100)+"</name>", okTitle), status: 201},
		{name: "name of 101 characters", body: taskXML("<name>"+strings.Repeat("n", 101)+"</name>", okTitle),
			status: 400, errType: errFieldLength, data: "name", bounds: &bounds{1, 100}},
		{name: "name with a newline", body: taskXML("<name>John\nDoe</name>", okTitle), status: 400, errType: errInvalidChar, data: "name"},
		{name: "name with a carriage return", body: taskXML("<name>John&#13;Doe</name>", okTitle), status: 400, errType: errInvalidChar, data: "name"},
		{name: "name twice", body: taskXML(okName, okName, okTitle), status: 400, errType: errDuplicate, data: "name"},

		{name: "no title", body: taskXML(okName), status: 400, errType: errRequiredField, data: "title"},
		{name: "empty title", body: taskXML(okName, "<title/>"), status: 400, errType: errRequiredField, data: "title"},

		{name: "scriptSelector of 32", body: taskXML(okName, okTitle, "<scriptSelector>"+strings.Repeat("s", 32)+"</scriptSelector>"), status: 201},
		{name: "scriptSelector of 33", body: taskXML(okName, okTitle, "<scriptSelector>"+strings.Repeat("s", 33)+"</scriptSelector>"),
			status: 400, errType: errFieldLength, data: "scriptSelector", bounds: &bounds{0, 32}},

		{name: "requeueOnRecovery TRUE", body: taskXML(okName, okTitle, "<requeueOnRecovery> TRUE </requeueOnRecovery>"), status: 201},
		{name: "requeueOnRecovery maybe", body: taskXML(okName, okTitle, "<requeueOnRecovery>maybe</requeueOnRecovery>"),
			status: 400, errType: errInvalidValue, data: "requeueOnRecovery"},

		{name: "20 tags", body: taskXML(okName, okTitle, tags(20)), status: 201},
		{name: "21 tags", body: taskXML(okName, okTitle, tags(21)), status: 400, errType: errOutOfRange, data: "tags", bounds: &bounds{0, 20}},
		{name: "20 tags and a repeat", body: taskXML(okName, okTitle, strings.Replace(tags(20), "</tags>", "<tag>tag1</tag></tags>", 1)), status: 201},
		{name: "empty tag", body: taskXML(okName, okTitle, "<tags><tag> </tag></tags>"), status: 400, errType: errRequiredField, data: "tag"},
		{name: "tags twice", body: taskXML(okName, okTitle, tags(1), tags(1)), status: 400, errType: errDuplicate, data: "tags"},

		{name: "cv_1 to cv_10, an ECC variable and an extension field", body: taskXML(okName, okTitle, allCVs), status: 201},
		{name: "cv_11", body: taskXML(okName, okTitle, vars("cv_11")), status: 400, errType: errOutOfRange, data: "cv_11", bounds: &bounds{1, 10}},
		{name: "cv_0", body: taskXML(okName, okTitle, vars("cv_0")), status: 400, errType: errOutOfRange, data: "cv_0", bounds: &bounds{1, 10}},
		{name: "cv_01", body: taskXML(okName, okTitle, vars("cv_01")), status: 400, errType: errOutOfRange, data: "cv_01", bounds: &bounds{1, 10}},
		{name: "cv_x", body: taskXML(okName, okTitle, vars("cv_x")), status: 400, errType: errOutOfRange, data: "cv_x", bounds: &bounds{1, 10}},
		{name: "user_ alone", body: taskXML(okName, okTitle, vars("user_")), status: 400, errType: errRequiredField, data: "user_"},
		{name: "ECC name of 32", body: taskXML(okName, okTitle, vars("user_"+strings.Repeat("e", 32))), status: 201},
		{name: "ECC name of 33", body: taskXML(okName, okTitle, vars("user_"+strings.Repeat("e", 33))),
			status: 400, errType: errFieldLength, data: "user_" + strings.Repeat("e", 33), bounds: &bounds{1, 32}},
		{name: "ECC name with a slash", body: taskXML(okName, okTitle, vars("user_my/ecc")), status: 400, errType: errInvalidChar, data: "user_my/ecc"},
		{name: "ECC name with a period", body: taskXML(okName, okTitle, vars("user_my.ecc_2-x")), status: 201},
		{name: "value of 4096 bytes", body: taskXML(okName, okTitle, "<variables><variable><name>cv_1</name><value>"+strings.Repeat("v", 4096)+"</value></variable></variables>"), status: 201},
		{name: "value of 4097 bytes", body: taskXML(okName, okTitle, "<variables><variable><name>cv_1</name><value>"+strings.Repeat("v", 4097)+"</value></variable></variables>"),
			status: 400, errType: errFieldLength, data: "cv_1", bounds: &bounds{0, 4096}},
		{name: "extension field name of 65", body: taskXML(okName, okTitle, vars(strings.Repeat("f", 65))),
			status: 400, errType: errFieldLength, data: strings.Repeat("f", 65), bounds: &bounds{1, 64}},
		{name: "variable without a name", body: taskXML(okName, okTitle, "<variables><variable><value>v</value></variable></variables>"),
			status: 400, errType: errRequiredField, data: "variable/name"},
		{name: "variable name with a space", body: taskXML(okName, okTitle, vars("my field")), status: 400, errType: errInvalidChar, data: "my field"},
		{name: "variable given twice", body: taskXML(okName, okTitle, vars("cv_1", "cv_1")), status: 400, errType: errDuplicate, data: "cv_1"},
		{name: "variable named taskID", body: taskXML(okName, okTitle, vars("taskID")), status: 400, errType: errInvalidValue, data: "taskID"},
		{name: "variable named scriptSelector", body: taskXML(okName, okTitle, vars("scriptSelector")), status: 400, errType: errInvalidValue, data: "scriptSelector"},
		{name: "variable with two values", body: taskXML(okName, okTitle, "<variables><variable><name>a</name><value>1</value><value>2</value></variable></variables>"),
			status: 400, errType: errDuplicate, data: "variable/value"},
		{name: "13 variables", body: taskXML(okName, okTitle, vars("cv_1", "cv_2", "cv_3", "cv_4", "cv_5", "cv_6", "cv_7", "cv_8", "cv_9", "cv_10", "a", "b", "c")),
			status: 400, errType: errOutOfRange, data: "variables", bounds: &bounds{0, 12}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.router.tasks())
			h.pub.take()
			resp := h.do(req{method: http.MethodPost, path: "/ccp/task/feed/100000", body: tc.body})
			if tc.status == http.StatusCreated {
				expectStatus(t, resp, http.StatusCreated)
				if resp.body != "" {
					t.Errorf("201 with a body: %s", resp.body)
				}
				if got := len(h.router.tasks()); got != before+1 {
					t.Errorf("router got %d tasks, want %d", got, before+1)
				}
				return
			}
			doc := expectError(t, resp, tc.status, tc.errType, tc.data)
			if got := doc.Errors[0].Detail; (got == nil) != (tc.bounds == nil) ||
				got != nil && (got.Min != tc.bounds.min || got.Max != tc.bounds.max) {
				t.Errorf("ErrorDetail %+v, want %+v", got, tc.bounds)
			}
			if got := len(h.router.tasks()); got != before {
				t.Errorf("a refused task reached the router")
			}
			if p := h.pub.take(); len(p) != 0 {
				t.Errorf("a refused task published %v", p)
			}
		})
	}
}

// TestTaskBodyTooLarge refuses a body over MaxBodyBytes with 413, both
// when Content-Length says so and when it is streamed without one.
func TestTaskBodyTooLarge(t *testing.T) {
	h := newHarness(t, func(_ *ContactsConfig, c *Config) { c.MaxBodyBytes = 256 })
	big := taskXML(okName, okTitle, "<description>"+strings.Repeat("d", 300)+"</description>")
	resp := h.do(req{method: http.MethodPost, path: "/ccp/task/feed/100000", body: big})
	expectError(t, resp, http.StatusRequestEntityTooLarge, errBodyTooLarge, "256")

	hr, _ := http.NewRequest(http.MethodPost, h.url+"/ccp/task/feed/100000", struct{ *strings.Reader }{strings.NewReader(big)})
	hr.ContentLength = -1 // chunked: the limit is found while reading
	r2, err := h.client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed body: %d", r2.StatusCode)
	}
	if len(h.router.tasks()) != 0 || len(h.pub.take()) != 0 {
		t.Fatal("a refused body reached the router or published")
	}
	// The GET form's URL parameters have the same bound (414).
	resp = h.do(req{method: http.MethodGet, path: "/ccp/task/feed/100000?name=a&title=" + strings.Repeat("t", 300)})
	expectError(t, resp, http.StatusRequestURITooLong, errBodyTooLarge, "256")
}

// TestUnknownFeed answers 400 invalidInput.invalidFeed for a feed the
// directory does not have, whatever the body, and changes nothing.
func TestUnknownFeed(t *testing.T) {
	h := newHarness(t, nil)
	for _, feed := range []string{"999", "abc", "0100000", "1000000000", "-1"} {
		resp := h.do(req{method: http.MethodPost, path: "/ccp/rest/task/feed/" + feed, body: taskXML(okName, okTitle)})
		expectError(t, resp, http.StatusBadRequest, errUnknownFeed, feed)
		resp = h.do(req{method: http.MethodGet, path: "/ccp/task/feed/" + feed + "?name=a&title=b"})
		expectError(t, resp, http.StatusBadRequest, errUnknownFeed, feed)
	}
	if len(h.router.tasks()) != 0 || len(h.pub.take()) != 0 {
		t.Fatal("a task to an unknown feed reached the router or published")
	}
}

// TestGETFormOfSubmission creates tasks from URL parameters: variables
// from variable_<name> in their order, tags repeated or comma-separated;
// and refuses the same faults as the body does.
func TestGETFormOfSubmission(t *testing.T) {
	h := newHarness(t, nil)
	q := "name=" + url.QueryEscape("Jane Roe") + "&title=" + url.QueryEscape("Lost card") +
		"&description=" + url.QueryEscape("a & b") + "&scriptSelector=CumulusTask" +
		"&variable_cv_2=two&variable_user_acct=" + url.QueryEscape("12 34") + "&tags=phone,billing&tags=vip" +
		"&variable_cv_1=one&variable_podRefURL=" + url.QueryEscape("https://pod/1") + "&unrelated=ignored"
	resp := h.do(req{method: http.MethodGet, path: "/ccp/task/feed/100000?" + q})
	expectStatus(t, resp, http.StatusCreated)
	loc := resp.header.Get("Location")
	if !strings.HasPrefix(loc, "https://"+h.host+"/ccp/task/contact/") {
		t.Fatalf("Location %q is not in the /ccp/task family", loc)
	}
	tasks := h.router.tasks()
	if len(tasks) != 1 {
		t.Fatalf("router got %d tasks", len(tasks))
	}
	want := []task.Variable{variable("cv_2", "two"), variable("user_acct", "12 34"), variable("cv_1", "one"), variable("podRefURL", "https://pod/1")}
	if got := tasks[0]; got.ScriptSelector != "CumulusTask" || fmt.Sprint(got.Variables) != fmt.Sprint(want) {
		t.Fatalf("task %+v, want selector CumulusTask and variables %v", got, want)
	}
	unread := parseSocialContact(t, h.pub.take()[0].doc)
	if got := strings.Join(unread.tags, ","); got != "phone,billing,vip,cisco_uq_tag,discard_on_recovery" {
		t.Errorf("tags %s", got)
	}
	if unread.fields["author"] != "Jane Roe" || unread.fields["description"] != "a & b" {
		t.Errorf("fields %v", unread.fields)
	}

	refused := []struct{ query, errType, data string }{
		{"title=t", errRequiredField, "name"},
		{"name=n", errRequiredField, "title"},
		{"name=a%0Ab&title=t", errInvalidChar, "name"},
		{"name=a%01b&title=t", errInvalidChar, "name"},
		{"name=a%FFb&title=t", errInvalidChar, "name"},
		{"name=a%zzb&title=t", errInvalidValue, "query"},
		{"name=a&name=b&title=t", errDuplicate, "name"},
		{"name=a&title=t&variable_cv_12=x", errOutOfRange, "cv_12"},
		{"name=a&title=t&variable_cv_1=x&variable_cv_1=y", errDuplicate, "cv_1"},
		{"name=a&title=t&tags=a,,b", errRequiredField, "tag"},
		{"name=a&title=t&tags=" + strings.Join(strings.Fields("a b c d e f g h i j k l m n o p q r s t"), ",") + "&tags=u", errOutOfRange, "tags"},
		{"name=a&title=t&scriptSelector=" + strings.Repeat("s", 33), errFieldLength, "scriptSelector"},
	}
	for _, tc := range refused {
		resp := h.do(req{method: http.MethodGet, path: "/ccp/rest/task/feed/100000?" + tc.query})
		expectError(t, resp, http.StatusBadRequest, tc.errType, tc.data)
	}
	if len(h.router.tasks()) != 1 || len(h.pub.take()) != 0 {
		t.Fatal("a refused GET submission reached the router or published")
	}
	// HEAD must not create a task: the feed URL answers it 405.
	resp = h.do(req{method: http.MethodHead, path: "/ccp/task/feed/100000?name=a&title=b"})
	expectStatus(t, resp, http.StatusMethodNotAllowed)
	if got := resp.header.Get("Allow"); got != "GET, POST" {
		t.Errorf("Allow %q", got)
	}
	if len(h.router.tasks()) != 1 {
		t.Fatal("HEAD created a task")
	}
}

// TestMethodsAndUnknownPaths: methods a route does not serve get 405
// with Allow; unknown paths under /ccp/ get the 404 error document.
func TestMethodsAndUnknownPaths(t *testing.T) {
	h := newHarness(t, nil)
	resp := h.do(req{method: http.MethodPut, path: "/ccp/task/contact/ABC"})
	expectError(t, resp, http.StatusMethodNotAllowed, errMethod, "PUT")
	if got := resp.header.Get("Allow"); got != "GET, HEAD, DELETE" {
		t.Errorf("Allow %q", got)
	}
	resp = h.do(req{method: http.MethodDelete, path: "/ccp/rest/task/feed/100000"})
	expectError(t, resp, http.StatusMethodNotAllowed, errMethod, "DELETE")
	resp = h.do(req{method: http.MethodGet, path: "/ccp/task/elsewhere"})
	expectError(t, resp, http.StatusNotFound, errNotFound, "/ccp/task/elsewhere")
	if cc := resp.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
}
