package bosh

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/server"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

// FuzzBody drives arbitrary request bodies through the whole handler, both
// as session creation requests and (with {sid} replaced by a live sid)
// inside an open session. The handler must never panic and must always
// answer HTTP 200 with a well-formed <body/>.
func FuzzBody(f *testing.F) {
	for _, seed := range []string{
		creation(1, ""),
		creation(1, "ack='1' hold='2' wait='0'"),
		req("{sid}", 2, "", ""),
		req("{sid}", 2, "", badAuth),
		req("{sid}", 2, "", plainAuth("alice", "secret")),
		req("{sid}", 3, "", ""), // early
		req("{sid}", 1, "", ""), // repeated
		req("{sid}", 9, "", ""), // beyond the window
		restart("{sid}", 2),
		req("{sid}", 2, "type='terminate'", `<presence type='unavailable'/>`),
		req("{sid}", 2, "pause='1'", ""),
		req("{sid}", 2, "ack='1'", `<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>`),
		`<body rid='2' sid='{sid}' xmlns='http://jabber.org/protocol/httpbind'><iq>`,
		`<?xml version='1.0'?><!DOCTYPE body><body/>`,
		`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:x='urn:xmpp:xbosh' sid='{sid}' rid='2' x:restart='maybe'/>`,
	} {
		f.Add([]byte(seed))
	}
	srv, err := server.New(server.Config{Domain: domain, Accounts: servertest.Accounts{"alice": "secret"}})
	if err != nil {
		f.Fatal(err)
	}
	h, err := New(srv, Config{MaxWait: time.Millisecond, Inactivity: 5 * time.Millisecond, MaxPause: time.Second, MaxBodyBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		h.Close()
	})
	serve := func(t *testing.T, data []byte) []byte {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/http-bind", bytes.NewReader(data)))
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d for %q", rec.Code, data)
		}
		root, err := server.ParseDocument(rec.Body.Bytes(), server.Limits{MaxBytes: 1 << 20, MaxDepth: 100})
		if err != nil || root.Tag != "body" || root.NamespaceURI() != NSHTTPBind {
			t.Fatalf("response %q to %q is not a BOSH body: %v", rec.Body.Bytes(), data, err)
		}
		return rec.Body.Bytes()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		serve(t, data) // as it is: usually a creation request or an unknown sid

		created := serve(t, []byte(creation(1, "")))
		sid := peekSID(created)
		if sid == "" {
			t.Fatalf("no sid in %q", created)
		}
		serve(t, bytes.ReplaceAll(data, []byte("{sid}"), []byte(sid)))
		serve(t, []byte(req(sid, 10, "type='terminate'", ""))) // ends it, or finds it gone
	})
}

func BenchmarkParseRequest(b *testing.B) {
	data := []byte(req("0123456789abcdefghijklmnop", 1234567, "", `<iq type='get' id='p1' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`+
		`<message xmlns='jabber:client' to='bob@example.com' type='chat'><body>hello there</body></message>`))
	limits := server.Limits{MaxBytes: 256 << 10, MaxDepth: 65}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseRequest(data, limits); err != nil {
			b.Fatal(err)
		}
	}
}
