package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe to write from the logger while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRun starts the whole program in-process on loopback ports, reads the
// banner, fetches /healthz from a URL it printed and stops it as a signal
// would.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	var logs syncBuffer
	status := make(chan int, 1)
	args := []string{
		"--notify-addr=127.0.0.1:0", "--notify-plain-addr=127.0.0.1:0", "--rest-addr=127.0.0.1:0",
		"--xmpp-addr=127.0.0.1:0", "--xmpps-addr=127.0.0.1:0", "--shutdown-timeout=5s",
	}
	env := map[string]string{"FINESSE_NOTIFY_DOMAIN": "finesse.test"}
	go func() {
		status <- run(ctx, args, envFrom(env), outW, &logs, nil)
		outW.Close()
	}()

	var banner []string
	sc := bufio.NewScanner(outR)
	for sc.Scan() {
		banner = append(banner, sc.Text())
		if strings.HasPrefix(sc.Text(), "Ready.") {
			break
		}
	}
	go io.Copy(io.Discard, outR)
	text := strings.Join(banner, "\n")
	if !strings.HasPrefix(text, "finesse-notify is serving the XMPP domain finesse.test") {
		t.Errorf("banner does not name the domain:\n%s", text)
	}
	for _, re := range []string{
		`https://127\.0\.0\.1:\d+/http-bind\s`,
		`wss://127\.0\.0\.1:\d+/ws\s`,
		`http://127\.0\.0\.1:\d+/http-bind\s`,
		`ws://127\.0\.0\.1:\d+/ws\s`,
		`http://127\.0\.0\.1:\d+/tls/certificate\.pem\s`,
		`http://127\.0\.0\.1:\d+/metrics\s`,
		`https://127\.0\.0\.1:\d+/metrics\s`,
		`tcp://127\.0\.0\.1:\d+\s`,
		`tls://127\.0\.0\.1:\d+\s`,
		`self-signed: fetch it from http://127\.0\.0\.1:\d+/tls/certificate\.pem`,
		`agents 1001-1010 and 1080`,
	} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("banner lacks %s:\n%s", re, text)
		}
	}
	healthz := regexp.MustCompile(`http://127\.0\.0\.1:\d+/healthz`).FindString(text)
	if healthz == "" {
		t.Fatalf("no plain /healthz URL in the banner:\n%s", text)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(healthz)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" {
		t.Errorf("GET %s = %d %q", healthz, resp.StatusCode, body)
	}

	cancel() // as SIGTERM does
	select {
	case s := <-status:
		if s != 0 {
			t.Errorf("exit status %d; logs:\n%s", s, logs.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after the signal")
	}
	// The logs are JSON lines from the production logger.
	sawShutdown := false
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if entry["msg"] == "shut down" {
			sawShutdown = true
		}
	}
	if !sawShutdown {
		t.Errorf("no \"shut down\" log entry:\n%s", logs.String())
	}
}

func TestRunExitStatus(t *testing.T) {
	var out, errOut bytes.Buffer
	if s := run(context.Background(), []string{"--help"}, envFrom(nil), &out, &errOut, nil); s != 0 || !strings.Contains(out.String(), "--ping-interval") {
		t.Errorf("--help: status %d, output %q", s, out.String())
	}
	out.Reset()
	if s := run(context.Background(), []string{"--ping-interval=x"}, envFrom(nil), &out, &errOut, nil); s != 2 || !strings.Contains(errOut.String(), "ping-interval") {
		t.Errorf("bad flag: status %d, stderr %q", s, errOut.String())
	}
	errOut.Reset()
	args := []string{"--notify-addr=", "--rest-addr=", "--xmpp-addr=", "--xmpps-addr=", "--notify-plain-addr=127.0.0.1:0", "--directory=/nonexistent/dir.yaml"}
	if s := run(context.Background(), args, envFrom(nil), &out, &errOut, nil); s != 1 || !strings.Contains(errOut.String(), "/nonexistent/dir.yaml") {
		t.Errorf("bad directory: status %d, stderr %q", s, errOut.String())
	}
}

// TestRunReloadsTheDirectoryOnSignal sends two reload signals on an
// unbuffered channel: the second is taken only after the first reload has
// finished, so the log then holds its outcome.
func TestRunReloadsTheDirectoryOnSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir.yaml")
	if err := os.WriteFile(path, []byte("users: [{id: a1, password: pw, role: Administrator}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	reload := make(chan os.Signal)
	status := make(chan int, 1)
	args := []string{"--notify-addr=", "--rest-addr=", "--xmpp-addr=", "--xmpps-addr=",
		"--notify-plain-addr=127.0.0.1:0", "--directory=" + path}
	outR, outW := io.Pipe()
	go func() {
		status <- run(ctx, args, envFrom(nil), outW, &logs, reload)
		outW.Close()
	}()
	// The banner's last line says the directory has been read.
	sc := bufio.NewScanner(outR)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "Ready.") {
	}
	go io.Copy(io.Discard, outR)

	if err := os.WriteFile(path, []byte("users: [{id: a1, password: pw, role: Administrator}, {id: a2, password: pw, role: Administrator}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload <- syscall.SIGHUP
	reload <- syscall.SIGHUP
	cancel()
	if s := <-status; s != 0 {
		t.Errorf("exit status %d", s)
	}
	if !strings.Contains(logs.String(), `"msg":"directory reloaded"`) || !strings.Contains(logs.String(), `"added":1`) {
		t.Errorf("no reload with one added user in the logs:\n%s", logs.String())
	}
}
