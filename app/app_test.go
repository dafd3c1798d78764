package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/internal/selfsigned"
	"github.com/finesse-notify/finesse-notify/server"
)

// testConfig listens on loopback ports chosen by the system.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.NotifyAddr = "127.0.0.1:0"
	cfg.NotifyPlainAddr = "127.0.0.1:0"
	cfg.RESTAddr = "127.0.0.1:0"
	cfg.XMPPAddr = "127.0.0.1:0"
	cfg.XMPPSAddr = "127.0.0.1:0"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

func start(t *testing.T, cfg Config) *App {
	t.Helper()
	a, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a
}

// trusting returns a TLS client configuration that trusts only pemBytes.
func trusting(t *testing.T, pemBytes []byte) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatalf("no certificate in %q", pemBytes)
	}
	return &tls.Config{RootCAs: pool, ServerName: "localhost"}
}

func get(t *testing.T, c *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body), resp.Header
}

func httpsClient(tc *tls.Config) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

func TestListenersAndRoutes(t *testing.T) {
	a := start(t, testConfig())
	plain := "http://" + a.Addr(ListenerNotifyPlain)
	notify := "https://" + a.Addr(ListenerNotify)
	rest := "https://" + a.Addr(ListenerREST)
	hc := &http.Client{Timeout: 5 * time.Second}

	code, pemBody, hdr := get(t, hc, plain+"/tls/certificate.pem")
	if code != 200 || pemBody != string(a.CertificatePEM()) || hdr.Get("Content-Type") != "application/x-pem-file" {
		t.Fatalf("certificate: %d %q %q", code, hdr.Get("Content-Type"), pemBody)
	}
	tc := trusting(t, []byte(pemBody))
	sc := httpsClient(tc)

	for _, base := range []string{plain, notify, rest} {
		c := hc
		if strings.HasPrefix(base, "https") {
			c = sc
		}
		if code, body, _ := get(t, c, base+"/healthz"); code != 200 || body != "ok" {
			t.Errorf("%s/healthz = %d %q", base, code, body)
		}
	}
	// What each listener serves beyond BOSH, WebSocket and /healthz.
	for _, c := range []struct {
		client *http.Client
		url    string
		want   int
	}{
		{hc, plain + "/metrics", 200},
		{sc, rest + "/metrics", 200},
		{sc, notify + "/metrics", 404},
		{sc, notify + "/tls/certificate.pem", 404},
		{sc, rest + "/tls/certificate.pem", 404},
		{hc, plain + "/http-bind/extra", 404},
		{hc, plain + "/ws/extra", 404},
		{hc, plain + "/", 404},
	} {
		if code, _, _ := get(t, c.client, c.url); code != c.want {
			t.Errorf("GET %s = %d, want %d", c.url, code, c.want)
		}
	}
	// BOSH answers at both spellings on every HTTP listener.
	for _, base := range []string{plain, notify, rest} {
		for _, path := range []string{"/http-bind", "/http-bind/"} {
			c := hc
			if strings.HasPrefix(base, "https") {
				c = sc
			}
			req, _ := http.NewRequest(http.MethodOptions, base+path, nil)
			req.Header.Set("Origin", "https://gadgets.example")
			req.Header.Set("Access-Control-Request-Method", "POST")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
				t.Errorf("OPTIONS %s%s = %d, Allow-Origin %q", base, path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	}

	// TLS 1.1 and older are refused.
	old := tc.Clone()
	old.MaxVersion = tls.VersionTLS11
	if _, err := tls.Dial("tcp", a.Addr(ListenerNotify), old); err == nil {
		t.Error("a TLS 1.1 handshake succeeded")
	}
}

func TestLoginOverEveryTransport(t *testing.T) {
	cfg := testConfig()
	a := start(t, cfg)
	hc := &http.Client{Timeout: 5 * time.Second}
	_, pemBody, _ := get(t, hc, "http://"+a.Addr(ListenerNotifyPlain)+"/tls/certificate.pem")
	tc := trusting(t, []byte(pemBody))

	var clients []*client.Client
	login := func(name string, w client.Wire, user string) {
		t.Helper()
		c := client.New(w, "localhost")
		if err := c.Login(user, "password", "desktop"); err != nil {
			t.Fatalf("%s: login as %s: %v", name, user, err)
		}
		if want := user + "@localhost/desktop"; c.JID != want {
			t.Errorf("%s: JID %q, want %q", name, c.JID, want)
		}
		clients = append(clients, c)
	}

	// 5222: STARTTLS, then PLAIN.
	tcp, err := client.DialTCP(a.Addr(ListenerXMPP), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(tcp, "localhost")
	features, err := c.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(client.Render(features), "starttls") {
		t.Fatalf("5222 does not offer STARTTLS: %s", client.Render(features))
	}
	if err := c.Send(`<starttls xmlns='` + server.NSTLS + `'/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Await("proceed", client.Is("proceed", server.NSTLS)); err != nil {
		t.Fatal(err)
	}
	if err := tcp.StartTLS(tc); err != nil {
		t.Fatal(err)
	}
	login("5222", tcp, "1001")

	// 5223: direct TLS.
	tcps, err := client.DialTCP(a.Addr(ListenerXMPPS), tc)
	if err != nil {
		t.Fatal(err)
	}
	login("5223", tcps, "1002")

	// WebSocket over the TLS, plain and REST listeners.
	for i, url := range []string{
		"wss://" + a.Addr(ListenerNotify) + "/ws",
		"ws://" + a.Addr(ListenerNotifyPlain) + "/ws/",
		"wss://" + a.Addr(ListenerREST) + "/ws",
	} {
		ws, err := client.DialWebSocket(url, tc)
		if err != nil {
			t.Fatal(err)
		}
		login(url, ws, []string{"1003", "1004", "1005"}[i])
	}

	if n := a.Server().SessionCount(); n != 5 {
		t.Errorf("%d sessions, want 5", n)
	}
	_, metrics, _ := get(t, hc, "http://"+a.Addr(ListenerNotifyPlain)+"/metrics")
	for _, want := range []string{`finesse_notify_sessions{transport="tcp"} 2`, `finesse_notify_sessions{transport="websocket"} 3`, "go_goroutines", "process_"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Shutdown: every client is told, with system-shutdown.
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		cond, err := c.ExpectEnd()
		if err != nil || cond != "system-shutdown" {
			t.Errorf("client %d: end %q, %v; want system-shutdown", i, cond, err)
		}
	}
	if _, err := net.DialTimeout("tcp", a.Addr(ListenerNotifyPlain), time.Second); err == nil {
		t.Error("the plain listener still accepts after Shutdown")
	}
}

func TestHealthzDuringShutdown(t *testing.T) {
	a := start(t, testConfig())
	rec := httptest.NewRecorder()
	a.healthz(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 {
		t.Fatalf("healthz = %d", rec.Code)
	}
	a.Shutdown(context.Background())
	rec = httptest.NewRecorder()
	a.healthz(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("healthz after shutdown = %d, want 503", rec.Code)
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestListenersOff(t *testing.T) {
	cfg := testConfig()
	cfg.NotifyAddr, cfg.RESTAddr, cfg.XMPPAddr, cfg.XMPPSAddr = "", "", "", ""
	a := start(t, cfg)
	for _, l := range []string{ListenerNotify, ListenerREST, ListenerXMPP, ListenerXMPPS} {
		if addr := a.Addr(l); addr != "" {
			t.Errorf("%s is on at %s", l, addr)
		}
	}
	urls := a.URLs()
	want := []string{
		"http://" + a.Addr(ListenerNotifyPlain) + "/http-bind",
		"ws://" + a.Addr(ListenerNotifyPlain) + "/ws",
		"http://" + a.Addr(ListenerNotifyPlain) + "/tls/certificate.pem",
		"http://" + a.Addr(ListenerNotifyPlain) + "/metrics",
		"http://" + a.Addr(ListenerNotifyPlain) + "/healthz",
	}
	if !slices.Equal(urls, want) {
		t.Errorf("URLs = %v, want %v", urls, want)
	}
}

func TestURLsUseTheDomainForAllInterfaces(t *testing.T) {
	cfg := testConfig()
	cfg.Domain = "finesse.example.test"
	cfg.NotifyAddr = ":0"
	a := start(t, cfg)
	_, port, _ := net.SplitHostPort(a.Addr(ListenerNotify))
	if want := "https://finesse.example.test:" + port + "/http-bind"; !slices.Contains(a.URLs(), want) {
		t.Errorf("URLs %v lack %s", a.URLs(), want)
	}
	if want := "tls://" + a.Addr(ListenerXMPPS); !slices.Contains(a.URLs(), want) {
		t.Errorf("URLs %v lack %s", a.URLs(), want)
	}
}

func TestBusyPortFailsStart(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := testConfig()
	cfg.XMPPAddr = busy.Addr().String()
	_, err = Start(cfg)
	if err == nil || !strings.Contains(err.Error(), "xmpp") || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Fatalf("Start on a busy port: %v", err)
	}
}

func TestTLSFromFiles(t *testing.T) {
	sc, err := selfsigned.Generate("localhost")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(sc.TLS.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	dir := t.TempDir()
	// The certificate file holds the key as well: it must not be served.
	certFile := filepath.Join(dir, "both.pem")
	keyFile := filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, append(append([]byte{}, sc.PEM...), keyPEM...), 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)

	cfg := testConfig()
	cfg.TLSCert, cfg.TLSKey = certFile, keyFile
	a := start(t, cfg)
	_, served, _ := get(t, &http.Client{Timeout: 5 * time.Second}, "http://"+a.Addr(ListenerNotifyPlain)+"/tls/certificate.pem")
	if served != string(sc.PEM) {
		t.Errorf("served %q, want the configured certificate alone", served)
	}
	if code, _, _ := get(t, httpsClient(trusting(t, sc.PEM)), "https://"+a.Addr(ListenerNotify)+"/healthz"); code != 200 {
		t.Errorf("healthz over the configured certificate = %d", code)
	}

	cfg.TLSKey = filepath.Join(dir, "missing.pem")
	if _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("Start with a missing key: %v", err)
	}
}

func TestDirectoryFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir.yaml")
	os.WriteFile(path, []byte("teams: [{id: 3, name: Night}]\nusers: [{id: JDoe, password: pw, role: Agent, team: 3}]\n"), 0o600)
	cfg := testConfig()
	cfg.DirectoryFile = path
	a := start(t, cfg)
	if !a.Directory().Exists("jdoe") || a.Directory().Exists("1001") {
		t.Error("the configured directory is not the one in use")
	}
	tcp, err := client.DialTCP(a.Addr(ListenerXMPP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Drop()
	c := client.New(tcp, "localhost")
	if err := c.Login("JDOE", "pw", "r"); err != nil {
		t.Fatal(err)
	}
	if c.JID != "jdoe@localhost/r" {
		t.Errorf("JID %q", c.JID)
	}

	os.WriteFile(path, []byte("users: [{id: a, role: Agent}]\n"), 0o600)
	if _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), "empty password") {
		t.Errorf("Start with a bad directory: %v", err)
	}
}

func TestRequireEncryption(t *testing.T) {
	cfg := testConfig()
	cfg.RequireEncryption = true
	a := start(t, cfg)
	tcp, err := client.DialTCP(a.Addr(ListenerXMPP), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Drop()
	c := client.New(tcp, "localhost")
	if _, err := c.OpenStream(); err != nil {
		t.Fatal(err)
	}
	outcome, err := c.PlainAuth("1001", "password")
	if err != nil {
		t.Fatal(err)
	}
	if outcome.Tag != "failure" {
		t.Errorf("PLAIN before STARTTLS with encryption required: %s", client.Render(outcome))
	}
}

func TestSetup(t *testing.T) {
	cfg := testConfig()
	cfg.Setup = func(a *App) error {
		a.HandleREST("GET /finesse/api/SystemInfo", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "<SystemInfo><xmppDomain>"+a.Server().Domain()+"</xmppDomain></SystemInfo>")
		}))
		return nil
	}
	a := start(t, cfg)
	sc := httpsClient(a.ClientTLSConfig())
	code, body, _ := get(t, sc, "https://"+a.Addr(ListenerREST)+"/finesse/api/SystemInfo")
	if code != 200 || !strings.Contains(body, "<xmppDomain>localhost</xmppDomain>") {
		t.Errorf("REST handler: %d %q", code, body)
	}
	if code, _, _ := get(t, sc, "https://"+a.Addr(ListenerNotify)+"/finesse/api/SystemInfo"); code != 404 {
		t.Errorf("REST handler on the notify listener: %d", code)
	}

	cfg.Setup = func(*App) error { return io.ErrUnexpectedEOF }
	if _, err := Start(cfg); err == nil || !strings.Contains(err.Error(), "setup") {
		t.Errorf("Start with a failing setup: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no domain", func(c *Config) { c.Domain = "" }, "no domain"},
		{"bad domain", func(c *Config) { c.Domain = "a b" }, "domain"},
		{"cert without key", func(c *Config) { c.TLSCert = "x.pem" }, "give both"},
		{"key without cert", func(c *Config) { c.TLSKey = "x.pem" }, "give both"},
		{"wait too long", func(c *Config) { c.BOSHMaxWait = time.Minute }, "below 60s"},
		{"negative interval", func(c *Config) { c.PingInterval = -time.Second }, "ping interval"},
		{"negative stanza", func(c *Config) { c.MaxStanzaBytes = -1 }, "max stanza bytes"},
		{"body below stanza", func(c *Config) { c.BOSHMaxBodyBytes = 1000 }, "BOSH max body bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig()
			c.edit(&cfg)
			a, err := Start(cfg)
			if err == nil {
				a.Shutdown(context.Background())
				t.Fatalf("started, want an error about %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestOriginChecker(t *testing.T) {
	if originChecker("*") != nil || originChecker("") != nil {
		t.Error("* should accept every origin")
	}
	check := originChecker("https://desk.example")
	for _, c := range []struct {
		origin, host string
		want         bool
	}{
		{"", "finesse:7443", true},
		{"https://desk.example", "finesse:7443", true},
		{"HTTPS://DESK.EXAMPLE", "finesse:7443", true},
		{"https://finesse:7443", "finesse:7443", true},
		{"https://evil.example", "finesse:7443", false},
		{"null", "finesse:7443", false},
	} {
		r := httptest.NewRequest("GET", "/ws", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if got := check(r); got != c.want {
			t.Errorf("origin %q on %s: %v, want %v", c.origin, c.host, got, c.want)
		}
	}
}

func TestPprofOnlyOnItsOwnListener(t *testing.T) {
	cfg := testConfig()
	cfg.PprofAddr = "127.0.0.1:0"
	a := start(t, cfg)
	get := func(url string) int {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("http://" + a.Addr(ListenerPprof) + "/debug/pprof/goroutine?debug=1"); code != http.StatusOK {
		t.Errorf("pprof goroutine profile = %d, want 200", code)
	}
	if code := get("http://" + a.Addr(ListenerPprof) + "/ws"); code != http.StatusNotFound {
		t.Errorf("/ws on the pprof listener = %d, want 404", code)
	}
	if code := get("http://" + a.Addr(ListenerNotifyPlain) + "/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("/debug/pprof/ on the plain notify listener = %d, want 404", code)
	}
	if want := "http://" + a.Addr(ListenerPprof) + "/debug/pprof/"; !slices.Contains(a.URLs(), want) {
		t.Errorf("URLs %v lack %s", a.URLs(), want)
	}
	// Off by default.
	if addr := start(t, testConfig()).Addr(ListenerPprof); addr != "" {
		t.Errorf("pprof is on at %s without configuration", addr)
	}
}
