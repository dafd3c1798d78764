package app

import (
	"log"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// mux is the routing of one HTTP listener.
//
//	every listener: /http-bind, /http-bind/ (BOSH), /ws, /ws/ (WebSocket), /healthz
//	notify-plain:   + /tls/certificate.pem, /metrics
//	rest:           + /metrics and the REST handlers (HandleREST)
//	pprof:          only Go's profiler under /debug/pprof/
func (a *App) mux(listener string) http.Handler {
	mux := http.NewServeMux()
	if listener == ListenerPprof {
		return pprofMux()
	}
	if listener == ListenerREST {
		mux = a.restMux
	}
	// Cisco's tunnel builds the URLs with a trailing slash, Strophe.js
	// samples without: both are served, and nothing below them.
	mux.Handle("/http-bind", a.bosh)
	mux.Handle("/http-bind/{$}", a.bosh)
	mux.Handle("/ws", a.ws)
	mux.Handle("/ws/{$}", a.ws)
	mux.HandleFunc("GET /healthz", a.healthz)
	if listener == ListenerNotifyPlain || listener == ListenerREST {
		mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{
			ErrorLog: zap.NewStdLog(a.log.Named("metrics")),
		}))
	}
	if listener == ListenerNotifyPlain {
		mux.HandleFunc("GET /tls/certificate.pem", a.certificate)
	}
	return mux
}

// healthz answers 200 "ok" while serving and 503 once shutting down, so a
// load balancer stops sending new clients before the sessions are ended.
func (a *App) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.closing.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("shutting down"))
		return
	}
	w.Write([]byte("ok"))
}

// certificate serves the TLS certificate so that a tester can trust it
// (curl --cacert, NODE_EXTRA_CA_CERTS, the system store).
func (a *App) certificate(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Disposition", `attachment; filename="finesse-notify.pem"`)
	w.Write(a.certPEM)
}

// newHTTPErrorLog routes net/http's own error log into zap. TLS handshake
// failures, from port scanners and from clients that do not trust the
// self-signed certificate yet, are common and not the server's fault: they
// go to debug; anything else is a warning.
func newHTTPErrorLog(l *zap.Logger) *log.Logger {
	return log.New(httpErrorWriter{l.Named("http")}, "", 0)
}

type httpErrorWriter struct{ log *zap.Logger }

func (w httpErrorWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		w.log.Debug(msg)
	} else {
		w.log.Warn(msg)
	}
	return len(p), nil
}

// pprofMux serves Go's profiler on its own mux, never on the default one,
// so that it is reachable only on the listener configured for it.
func pprofMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
