package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/finesse-notify/finesse-notify/app"
	"github.com/finesse-notify/finesse-notify/client"
	"github.com/finesse-notify/finesse-notify/server"
)

func TestStartTLSOnPlainTCP(t *testing.T) {
	a := startApp(t, nil)
	w, err := client.DialTCP(a.Addr("xmpp"), nil)
	must(t, err)
	defer w.Drop()
	c := client.New(w, domain)
	_, err = c.OpenStream()
	must(t, err)
	must(t, c.Send(`<starttls xmlns='`+server.NSTLS+`'/>`))
	_, err = c.Await("proceed", client.Is("proceed", server.NSTLS))
	must(t, err)
	must(t, w.StartTLS(tlsConfig(t, a)))
	state, ok := w.ConnectionState()
	if !ok || state.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state %v %x", ok, state.Version)
	}
	f, err := c.OpenStream()
	must(t, err)
	if hasChild(f, "starttls", server.NSTLS) {
		t.Errorf("starttls offered again over TLS: %s", client.Render(f))
	}
	outcome, err := c.PlainAuth("1001", "password")
	must(t, err)
	if outcome.Tag != "success" {
		t.Fatalf("auth over TLS: %s", client.Render(outcome))
	}
	_, err = c.OpenStream()
	must(t, err)
	must(t, c.Bind("tls"))
	ping(t, c)
}

func TestRequireEncryptionRefusesPlainOverCleartext(t *testing.T) {
	a := startApp(t, func(c *app.Config) { c.RequireEncryption = true })
	w, err := client.DialTCP(a.Addr("xmpp"), nil)
	must(t, err)
	defer w.Drop()
	c := client.New(w, domain)
	f, err := c.OpenStream()
	must(t, err)
	st := f.SelectElement("starttls")
	if st == nil || st.SelectElement("required") == nil {
		t.Errorf("starttls not required: %s", client.Render(f))
	}
	if hasChild(f, "mechanisms", server.NSSASL) {
		t.Errorf("PLAIN offered over cleartext: %s", client.Render(f))
	}
	outcome, err := c.PlainAuth("1001", "password")
	must(t, err)
	if outcome.Tag != "failure" || !hasChild(outcome, "encryption-required", server.NSSASL) {
		t.Errorf("PLAIN over cleartext answered %s", client.Render(outcome))
	}
	// Over TLS it works.
	tw, err := client.DialTCP(a.Addr("xmpps"), tlsConfig(t, a))
	must(t, err)
	defer tw.Drop()
	must(t, client.New(tw, domain).Login("1001", "password", "tls"))
}

func TestTLSBelow12IsRefused(t *testing.T) {
	a := startApp(t, nil)
	for _, name := range []string{"notify", "rest", "xmpps"} {
		cfg := tlsConfig(t, a)
		cfg.MinVersion = tls.VersionTLS10
		cfg.MaxVersion = tls.VersionTLS11
		conn, err := tls.Dial("tcp", a.Addr(name), cfg)
		if err == nil {
			conn.Close()
			t.Errorf("%s accepted TLS 1.1", name)
		}
	}
}

func get(t *testing.T, hc *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := hc.Get(url)
	must(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, string(body), resp.Header
}

func TestOperationalEndpoints(t *testing.T) {
	a := startApp(t, nil)
	plain := "http://" + a.Addr("notify-plain")
	status, body, _ := get(t, http.DefaultClient, plain+"/tls/certificate.pem")
	if status != 200 || body != string(a.CertificatePEM()) || !strings.HasPrefix(body, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("certificate.pem: %d %.60q", status, body)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig(t, a)}}
	for _, base := range []string{plain, "https://" + a.Addr("notify"), "https://" + a.Addr("rest")} {
		if status, body, _ := get(t, hc, base+"/healthz"); status != 200 || strings.TrimSpace(body) != "ok" {
			t.Errorf("%s/healthz: %d %q", base, status, body)
		}
	}
	// Something to count, then the metrics the issue names.
	c := login(t, transports[0], a, "1001", "metrics")
	ping(t, c)
	for _, base := range []string{plain, "https://" + a.Addr("rest")} {
		status, body, _ := get(t, hc, base+"/metrics")
		if status != 200 {
			t.Fatalf("%s/metrics: %d", base, status)
		}
		for _, name := range []string{
			`finesse_notify_sessions{transport="tcp"} 1`,
			"finesse_notify_stanzas_in_total",
			"finesse_notify_stanzas_out_total",
			"finesse_notify_auth_failures_total",
			"finesse_notify_bosh_held_requests",
			"finesse_notify_pings_sent_total",
			"finesse_notify_sessions_timed_out_total",
		} {
			if !strings.Contains(body, name) {
				t.Errorf("%s/metrics lacks %s", base, name)
			}
		}
	}
}

func TestBOSHPreflightAndWebSocketSubprotocol(t *testing.T) {
	a := startApp(t, nil)
	plain := "http://" + a.Addr("notify-plain")
	req, _ := http.NewRequest(http.MethodOptions, plain+"/http-bind/", nil)
	req.Header.Set("Origin", "http://desktop.example.com:8080")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 || resp.Header.Get("Access-Control-Allow-Origin") == "" ||
		!strings.Contains(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), "content-type") ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// A WebSocket handshake without the xmpp subprotocol is refused.
	req, _ = http.NewRequest(http.MethodGet, plain+"/ws", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err = http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("handshake without subprotocol: %d", resp.StatusCode)
	}
}
