package ccp

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestAdminFeeds: the feed list and one feed, shaped as CCP's Feed API,
// with URLs under the request's own scheme and host.
func TestAdminFeeds(t *testing.T) {
	h := newHarness(t, nil)
	base := "https://" + h.host
	feed := func(id, name, desc, tags string) string {
		return `<Feed><changeStamp>0</changeStamp><description>` + desc + `</description><name>` + name + `</name>` +
			`<pushFeedURL>` + base + `/ccp/rest/task/feed/` + id + `</pushFeedURL>` +
			`<refURL>` + base + `/ccp-webapp/ccp/feed/` + id + `</refURL><status>1</status>` +
			`<tags>` + tags + `</tags><type>12</type></Feed>`
	}
	defaultFeed := feed("100000", "Cisco_Default_Task_Feed", "Feed for Universal Queuing", "<tag>cisco_uq_tag</tag>")
	emailFeed := feed("100100", "Email_Feed", "Email tasks", "<tag>email_tag</tag><tag>cisco_uq_tag</tag>")
	expectBody(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/feed?summary=false", user: "admin"}),
		"<feeds>"+defaultFeed+emailFeed+"</feeds>")
	expectBody(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/feed/100000", user: "admin"}), defaultFeed)
	for _, id := range []string{"5", "abc", "0100000"} {
		expectError(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/feed/" + id, user: "admin"}),
			http.StatusNotFound, errNotFound, id)
	}
}

// TestAdminCampaigns: the campaign list and one campaign, with the feeds
// whose tasks join each.
func TestAdminCampaigns(t *testing.T) {
	h := newHarness(t, nil)
	base := "https://" + h.host
	campaign := func(id, name, desc, feedID string) string {
		ref := base + "/ccp-webapp/ccp/campaign/" + id
		return `<Campaign><changeStamp>0</changeStamp><description>` + desc + `</description>` +
			`<feeds><feed>` + base + `/ccp-webapp/ccp/feed/` + feedID + `</feed></feeds>` +
			`<name>` + name + `</name><publicId>` + id + `</publicId><refURL>` + ref + `</refURL>` +
			`<resultsURL>` + ref + `/results</resultsURL><suggestedTagsURL>` + ref + `/suggestedtags</suggestedTagsURL></Campaign>`
	}
	def := campaign("Cisco_Default_Task_Campaign", "Cisco_Default_Task_Campaign", "Campaign for any type of task", "100000")
	email := campaign("Email_Campaign", "Email Campaign", "Email &amp; more", "100100")
	expectBody(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/campaign", user: "admin"}), "<campaigns>"+def+email+"</campaigns>")
	expectBody(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/campaign/Cisco_Default_Task_Campaign", user: "admin"}), def)
	expectError(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/campaign/cisco_default_task_campaign", user: "admin"}),
		http.StatusNotFound, errNotFound, "cisco_default_task_campaign")
}

// TestAdminOnly: the administration calls want an administrator's
// credentials: none or wrong ones get Authenticate's 401 and its
// challenge, an agent or supervisor 403; the Task API itself needs none.
func TestAdminOnly(t *testing.T) {
	h := newHarness(t, nil)
	id := h.submit(fullTask)
	paths := []string{"/ccp-webapp/ccp/feed", "/ccp-webapp/ccp/feed/100000", "/ccp-webapp/ccp/campaign",
		"/ccp-webapp/ccp/campaign/Cisco_Default_Task_Campaign", "/ccp-webapp/ccp/socialcontact/" + id, "/ccp-webapp/ccp/other"}
	for _, p := range paths {
		resp := h.do(req{method: http.MethodGet, path: p})
		expectStatus(t, resp, http.StatusUnauthorized)
		if resp.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without a challenge", p)
		}
		expectStatus(t, h.do(req{method: http.MethodGet, path: p, user: "admin", pass: "wrong"}), http.StatusUnauthorized)
		for _, u := range []string{"1080", "2001"} {
			resp := h.do(req{method: http.MethodGet, path: p, user: u})
			expectError(t, resp, http.StatusForbidden, errForbidden, u)
			if resp.header.Get("WWW-Authenticate") != "" {
				t.Errorf("%s: 403 with a challenge", p)
			}
		}
	}
	expectError(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/other", user: "admin"}),
		http.StatusNotFound, errNotFound, "/ccp-webapp/ccp/other")
	resp := h.do(req{method: http.MethodPost, path: "/ccp-webapp/ccp/feed", user: "admin", body: "<Feed/>"})
	expectError(t, resp, http.StatusMethodNotAllowed, errMethod, "POST")
	if got := resp.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q", got)
	}
	expectError(t, h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/socialcontact/ABC", user: "admin"}),
		http.StatusNotFound, errNotFound, "ABC")
}

// TestNoAuthenticateNoAdministration: without Authenticate the
// administration calls are not served at all.
func TestNoAuthenticateNoAdministration(t *testing.T) {
	h := newHarness(t, func(_ *ContactsConfig, c *Config) { c.Authenticate = nil })
	resp := h.do(req{method: http.MethodGet, path: "/ccp-webapp/ccp/feed", user: "admin"})
	expectStatus(t, resp, http.StatusNotFound)
	h.submit(fullTask)
}

// TestPlainHTTPOrigin: over plain HTTP the URLs say http, with the Host
// the client asked for.
func TestPlainHTTPOrigin(t *testing.T) {
	dir := testDirectory(t)
	contacts := NewContacts(ContactsConfig{Directory: dir})
	mux := http.NewServeMux()
	New(Config{Directory: dir, Contacts: contacts, Router: newFakeRouter(contacts), Authenticate: basicAuth(dir)}).Register(mux.Handle)
	srv := newPlainServer(t, mux)
	hr, _ := http.NewRequest(http.MethodPost, srv+"/ccp/task/feed/100000", strings.NewReader(fullTask))
	hr.Host = "ccp.example.com:8445"
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusCreated || !strings.HasPrefix(loc, "http://ccp.example.com:8445/ccp/task/contact/") {
		t.Fatalf("%d %q", resp.StatusCode, loc)
	}
}

// TestMetrics counts submissions by result and contacts by status.
func TestMetrics(t *testing.T) {
	h := newHarness(t, nil)
	a := h.submit(fullTask)
	b := h.submit(fullTask)
	h.do(req{method: http.MethodPost, path: "/ccp/task/feed/100000", body: "<Task/>"})
	h.do(req{method: http.MethodPost, path: "/ccp/task/feed/7", body: fullTask})
	h.router.reserve(a, "1_1_1", "1080", 5001)
	h.router.handle(a)
	h.router.discard(b, "NOTIFICATION_NO_SCRIPT")
	h.submit(fullTask)
	want := map[string]float64{
		`finesse_notify_ccp_contacts{status="discarded"}`:                  1,
		`finesse_notify_ccp_contacts{status="handled"}`:                    1,
		`finesse_notify_ccp_contacts{status="queued"}`:                     1,
		`finesse_notify_ccp_contacts{status="reserved"}`:                   0,
		`finesse_notify_ccp_contacts{status="unread"}`:                     0,
		`finesse_notify_ccp_task_submissions_total{result="created"}`:      3,
		`finesse_notify_ccp_task_submissions_total{result="invalid"}`:      1,
		`finesse_notify_ccp_task_submissions_total{result="too_large"}`:    0,
		`finesse_notify_ccp_task_submissions_total{result="unavailable"}`:  0,
		`finesse_notify_ccp_task_submissions_total{result="unknown_feed"}`: 1,
	}
	families, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]float64)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			l := m.GetLabel()[0]
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			got[f.GetName()+"{"+l.GetName()+`="`+l.GetValue()+`"}`] = v
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("metrics\n got %v\nwant %v", got, want)
	}
}
