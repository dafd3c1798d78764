package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/bosh"
	"github.com/finesse-notify/finesse-notify/ccp"
	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/rest"
	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/internal/selfsigned"
	"github.com/finesse-notify/finesse-notify/iproc"
	"github.com/finesse-notify/finesse-notify/presence"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server"
)

// Listener names, for Addr.
const (
	ListenerNotify      = "notify"       // HTTPS, BOSH and WebSocket (7443)
	ListenerNotifyPlain = "notify-plain" // HTTP, the same plus the certificate and metrics (7071)
	ListenerREST        = "rest"         // HTTPS, BOSH, WebSocket, metrics, REST (8445)
	ListenerXMPP        = "xmpp"         // TCP with STARTTLS (5222)
	ListenerXMPPS       = "xmpps"        // TCP with direct TLS (5223)
	ListenerPprof       = "pprof"        // plain HTTP, Go's profiler (off unless configured)
)

// PublishPath is the administrator's publish endpoint on the REST listener:
// POST a raw Update document to PublishPath?node=<node>. It is outside
// /finesse/api so that it is never taken for Finesse's own API.
const PublishPath = finesse.PublishPath

// Endpoint is one URL the service answers, for the start banner.
type Endpoint struct {
	Listener string
	URL      string
	What     string
}

// App is a running finesse-notify.
type App struct {
	cfg       Config
	log       *zap.Logger
	dir       *directory.Directory
	registry  *prometheus.Registry
	srv       *server.Server
	presence  *presence.Tracker
	pubsub    *pubsub.Service
	notifier  *finesse.Notifier
	agents    *agent.Registry
	router    *task.Router
	contacts  *ccp.Contacts
	iproc     *iproc.Service
	bosh      *bosh.Handler
	ws        http.Handler
	tlsConfig *tls.Config
	certPEM   []byte
	restMux   *http.ServeMux

	listeners map[string]net.Listener
	order     []string // listener names in the order opened
	https     []*http.Server
	closing   atomic.Bool
	serving   sync.WaitGroup
	failed    chan error

	shutdownOnce sync.Once
	shutdownErr  error

	// reloadMu serialises directory reloads; onReload are their listeners.
	reloadMu sync.Mutex
	onReload []func(previous, current *directory.Directory)
}

// Start builds the service from cfg and opens every configured listener. It
// returns once all of them are listening; serving goes on in the background
// until Shutdown.
func Start(cfg Config) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	a := &App{
		cfg:       cfg,
		log:       cfg.Logger,
		listeners: make(map[string]net.Listener),
		restMux:   http.NewServeMux(),
	}
	if err := a.build(); err != nil {
		a.release()
		return nil, err
	}
	if cfg.Setup != nil {
		if err := cfg.Setup(a); err != nil {
			a.release()
			return nil, fmt.Errorf("setup: %w", err)
		}
	}
	if err := a.listen(); err != nil {
		a.release()
		return nil, err
	}
	a.serve()
	return a, nil
}

// build makes everything but the listeners.
func (a *App) build() error {
	cfg := &a.cfg
	var err error
	if cfg.DirectoryFile != "" {
		a.dir, err = directory.Load(cfg.DirectoryFile)
		if err != nil {
			return err
		}
	} else {
		a.dir = directory.Default()
	}

	if err := a.loadTLS(); err != nil {
		return err
	}

	// One registry for everything: never the global one, so that two Apps
	// in one test process do not collide.
	a.registry = prometheus.NewRegistry()
	a.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	a.srv, err = server.New(server.Config{
		Domain:              cfg.Domain,
		Limits:              server.Limits{MaxBytes: cfg.MaxStanzaBytes},
		SendQueueStanzas:    cfg.SendQueueStanzas,
		SendQueueBytes:      cfg.SendQueueBytes,
		RequireEncryption:   cfg.RequireEncryption,
		MaxAuthFailures:     cfg.MaxAuthFailures,
		MaxResourcesPerUser: cfg.MaxResourcesPerUser,
		NegotiationTimeout:  cfg.NegotiationTimeout,
		Accounts:            a.dir,
		Logger:              a.log,
		Registerer:          a.registry,
	})
	if err != nil {
		return err
	}
	a.presence = presence.New(a.srv, presence.Config{
		PingInterval: cfg.PingInterval,
		PingRetries:  cfg.PingRetries,
		Logger:       a.log.Named("presence"),
		Registerer:   a.registry,
	})
	a.pubsub, err = pubsub.New(a.srv, pubsub.Config{
		JID:                     "pubsub." + cfg.Domain,
		Policy:                  finesse.NewPolicy(a.dir),
		Resolver:                finesse.Resolver(a.dir),
		MaxItems:                cfg.PubSubMaxItems,
		MaxSubscriptionsPerUser: cfg.PubSubMaxSubscriptions,
		MaxPayloadBytes:         cfg.PubSubMaxPayloadBytes,
		Logger:                  a.log.Named("pubsub"),
		Registerer:              a.registry,
	})
	if err != nil {
		return err
	}
	a.notifier = finesse.NewNotifier(a.srv, a.pubsub, a.dir, a.log.Named("finesse"))
	maxPublish := int64(cfg.MaxStanzaBytes)
	if maxPublish <= 0 {
		maxPublish = DefaultMaxStanzaBytes
	}
	a.HandleREST(PublishPath, finesse.PublishHandler(a.notifier, a.dir, maxPublish))
	a.agents = agent.New(agent.Config{
		Directory:   a.dir,
		Publisher:   a.notifier,
		LogoutGrace: cfg.LogoutGrace,
		Logger:      a.log.Named("agent"),
		Registerer:  a.registry,
	})
	a.presence.AddListener(a.agents)
	a.OnDirectoryReload(a.agents.DirectoryChanged)
	a.contacts = ccp.NewContacts(ccp.ContactsConfig{
		Directory:   a.dir,
		Publisher:   a.notifier,
		MaxContacts: cfg.CCPMaxContacts,
		Retention:   cfg.CCPContactRetention,
		PollExpiry:  cfg.CCPPollExpiry,
		Logger:      a.log.Named("ccp"),
		Registerer:  a.registry,
	})
	a.router = task.New(task.Config{
		Directory:    a.dir,
		Agents:       a.agents,
		Publisher:    a.notifier,
		Observer:     a.contacts,
		OfferTimeout: cfg.TaskOfferTimeout,
		MaxQueued:    cfg.TaskMaxQueued,
		MaxHistory:   cfg.TaskMaxHistory,
		Logger:       a.log.Named("task"),
		Registerer:   a.registry,
	})
	restAPI := rest.New(rest.Config{
		Directory: a.dir,
		Agents:    a.agents,
		Tasks:     a.router,
		Publisher: a.notifier,
		// The reload is an App method: it swaps the directory and tells
		// the agents, the Interaction Processor and the XMPP side.
		ReloadDirectory: a.ReloadDirectory,
		Control:         a.notifier,
		Domain:          cfg.Domain,
		PubSubDomain:    a.pubsub.JID(),
		Host:            cfg.Domain,
		MaxFailures:     cfg.RESTMaxAuthFailures,
		Lockout:         cfg.RESTLockout,
		MaxBodyBytes:    int64(cfg.RESTMaxBodyBytes),
		Logger:          a.log.Named("rest"),
		Registerer:      a.registry,
	})
	restAPI.Register(a.HandleREST)
	ccp.New(ccp.Config{
		Directory:    a.dir,
		Contacts:     a.contacts,
		Router:       a.router,
		Authenticate: restAPI.Authenticate,
		MaxBodyBytes: int64(cfg.RESTMaxBodyBytes),
		Logger:       a.log.Named("ccp"),
		Registerer:   a.registry,
	}).Register(a.HandleREST)
	a.iproc = iproc.New(iproc.Config{
		// A snapshot: the service diffs it against the next reload's.
		Directory: a.dir.Snapshot(),
		Agents:    iprocAgents{agents: a.agents, dir: a.dir},
		Journeys:  iprocJourneys{router: a.router, now: time.Now},
		Descriptor: iproc.Descriptor{Vendor: "finesse-notify", Version: Version(),
			CTIVendor: ctiVendor, CTIVersion: ctiVersion, InstanceDomain: cfg.Domain},
		MaxFrameBytes:  cfg.IPROCMaxFrameBytes,
		MaxConnections: cfg.IPROCMaxConnections,
		CheckOrigin:    originChecker(cfg.CORSOrigin),
		Logger:         a.log.Named("iproc"),
		Registerer:     a.registry,
	})
	a.HandleREST(InteractionProcessorPath, a.iproc)
	a.OnDirectoryReload(a.iproc.DirectoryChanged)
	a.bosh, err = bosh.New(a.srv, bosh.Config{
		MaxWait:      cfg.BOSHMaxWait,
		Inactivity:   cfg.BOSHInactivity,
		MaxHold:      cfg.BOSHMaxHold,
		MaxPause:     cfg.BOSHMaxPause,
		MaxBodyBytes: cfg.BOSHMaxBodyBytes,
		AllowOrigin:  cfg.CORSOrigin,
		Logger:       a.log.Named("bosh"),
		Registerer:   a.registry,
	})
	if err != nil {
		return err
	}
	a.ws = a.srv.WebSocketHandler(server.WebSocketOptions{
		PingInterval: cfg.WSPingInterval,
		CheckOrigin:  originChecker(cfg.CORSOrigin),
	})
	return nil
}

// loadTLS loads the configured certificate or makes a self-signed one.
func (a *App) loadTLS() error {
	var cert tls.Certificate
	if a.cfg.TLSCert != "" {
		var err error
		cert, err = tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("tls certificate %s, key %s: %w", a.cfg.TLSCert, a.cfg.TLSKey, err)
		}
		// Publish the chain alone, re-encoded from what was parsed, so that
		// a key kept in the same file can never be served.
		var b strings.Builder
		for _, der := range cert.Certificate {
			b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
		}
		a.certPEM = []byte(b.String())
	} else {
		sc, err := selfsigned.Generate(a.cfg.Domain)
		if err != nil {
			return err
		}
		cert, a.certPEM = sc.TLS, sc.PEM
		a.log.Info("made a self-signed TLS certificate", zap.Strings("names", sc.Names))
	}
	a.tlsConfig = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
	return nil
}

// originChecker decides which browser origins may open a WebSocket: any
// when allow is "*", otherwise allow itself and the page's own origin.
// Clients that send no Origin (not browsers) are always accepted.
func originChecker(allow string) func(*http.Request) bool {
	if allow == "" || allow == "*" {
		return nil
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" || strings.EqualFold(origin, allow) {
			return true
		}
		_, host, ok := strings.Cut(origin, "://")
		return ok && strings.EqualFold(host, r.Host)
	}
}

// listen opens every configured listener, or none.
func (a *App) listen() error {
	for _, l := range []struct{ name, addr string }{
		{ListenerNotify, a.cfg.NotifyAddr},
		{ListenerNotifyPlain, a.cfg.NotifyPlainAddr},
		{ListenerREST, a.cfg.RESTAddr},
		{ListenerXMPP, a.cfg.XMPPAddr},
		{ListenerXMPPS, a.cfg.XMPPSAddr},
		{ListenerPprof, a.cfg.PprofAddr},
	} {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("listen %s on %s: %w", l.name, l.addr, err)
		}
		a.listeners[l.name] = ln
		a.order = append(a.order, l.name)
	}
	return nil
}

// serve starts a goroutine per listener.
func (a *App) serve() {
	a.failed = make(chan error, len(a.listeners))
	writeTimeout := a.cfg.BOSHMaxWait
	if writeTimeout <= 0 {
		writeTimeout = bosh.DefaultMaxWait
	}
	// A BOSH request is held up to the max wait before its answer is
	// written; the write timeout (and the read timeout, which would
	// otherwise cancel a held request) must outlast it.
	writeTimeout += 30 * time.Second
	for _, name := range a.order {
		ln := a.listeners[name]
		log := a.log.With(zap.String("listener", name), zap.String("addr", ln.Addr().String()))
		switch name {
		case ListenerXMPP, ListenerXMPPS:
			opts := server.TCPOptions{TLS: a.tlsConfig, DirectTLS: name == ListenerXMPPS}
			a.goServe(name, func() error { return a.srv.ServeTCP(ln, opts) })
		default:
			hs := &http.Server{
				Handler:           a.mux(name),
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       writeTimeout,
				WriteTimeout:      writeTimeout,
				IdleTimeout:       120 * time.Second,
				MaxHeaderBytes:    64 << 10,
				ErrorLog:          newHTTPErrorLog(log),
			}
			a.https = append(a.https, hs)
			if name == ListenerNotifyPlain || name == ListenerPprof {
				a.goServe(name, func() error { return hs.Serve(ln) })
			} else {
				hs.TLSConfig = a.tlsConfig.Clone()
				a.goServe(name, func() error { return hs.ServeTLS(ln, "", "") })
			}
		}
		log.Info("listening")
	}
}

func (a *App) goServe(name string, serve func() error) {
	a.serving.Add(1)
	go func() {
		defer a.serving.Done()
		err := serve()
		if err == nil || errors.Is(err, http.ErrServerClosed) || a.closing.Load() {
			return
		}
		err = fmt.Errorf("%s listener: %w", name, err)
		a.log.Error("listener failed", zap.String("listener", name), zap.Error(err))
		a.failed <- err
	}()
}

// Failed delivers the error of a listener that stopped serving on its own
// (not through Shutdown). The binary exits on it.
func (a *App) Failed() <-chan error { return a.failed }

// Addr is the address a listener is bound to ("" when it is off). Its port
// is the real one when the configured port was 0.
func (a *App) Addr(listener string) string {
	ln, ok := a.listeners[listener]
	if !ok {
		return ""
	}
	return ln.Addr().String()
}

// Server is the XMPP core.
func (a *App) Server() *server.Server { return a.srv }

// Presence is the presence tracker and keepalive monitor.
func (a *App) Presence() *presence.Tracker { return a.presence }

// PubSub is the pubsub service at pubsub.<domain>.
func (a *App) PubSub() *pubsub.Service { return a.pubsub }

// Notifier publishes Finesse notifications.
func (a *App) Notifier() *finesse.Notifier { return a.notifier }

// Agents is the agent and media state of every user.
func (a *App) Agents() *agent.Registry { return a.agents }

// Directory is the loaded directory.
func (a *App) Directory() *directory.Directory { return a.dir }

// Registerer is the metrics registry /metrics serves, for more metrics.
func (a *App) Registerer() prometheus.Registerer { return a.registry }

// Logger is the service's logger.
func (a *App) Logger() *zap.Logger { return a.log }

// Config is the configuration the App was started with.
func (a *App) Config() Config { return a.cfg }

// CertificatePEM is the served TLS certificate chain in PEM form.
func (a *App) CertificatePEM() []byte { return append([]byte(nil), a.certPEM...) }

// TLSConfig returns a copy of the server's TLS configuration.
func (a *App) TLSConfig() *tls.Config { return a.tlsConfig.Clone() }

// ClientTLSConfig is a client configuration that trusts the served
// certificate and nothing else, for tests and tools in the same process.
// The certificate names the domain, localhost and the loopback addresses.
func (a *App) ClientTLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(a.certPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// HandleREST adds a handler to the REST listener (8445), as
// http.ServeMux.Handle does; call it from Config.Setup. Patterns that clash
// with the built-in ones (/http-bind, /ws, /metrics, /healthz) panic.
func (a *App) HandleREST(pattern string, h http.Handler) { a.restMux.Handle(pattern, h) }

// Endpoints lists every URL served, listener by listener.
func (a *App) Endpoints() []Endpoint {
	var out []Endpoint
	add := func(listener, scheme, path, what string) {
		host := a.publicHost(listener)
		if host == "" {
			return
		}
		out = append(out, Endpoint{Listener: listener, URL: scheme + "://" + host + path, What: what})
	}
	for _, l := range []struct{ name, http, ws string }{
		{ListenerNotify, "https", "wss"},
		{ListenerNotifyPlain, "http", "ws"},
		{ListenerREST, "https", "wss"},
	} {
		add(l.name, l.http, "/http-bind", "BOSH (XEP-0206)")
		add(l.name, l.ws, "/ws", "WebSocket (RFC 7395)")
		if l.name == ListenerNotifyPlain {
			add(l.name, l.http, "/tls/certificate.pem", "the TLS certificate, to trust")
		}
		if l.name != ListenerNotify {
			add(l.name, l.http, "/metrics", "Prometheus metrics")
		}
		add(l.name, l.http, "/healthz", "health check")
		if l.name == ListenerREST {
			add(l.name, l.http, "/finesse/api/", "the Finesse REST API (HTTP Basic)")
			add(l.name, l.http, PublishPath+"?node=NODE", "POST an Update to a pubsub node (administrators)")
			add(l.name, l.http, "/ccp/rest/task/feed/100000", "the CCP Task API: submit a task (feeds from the directory)")
			add(l.name, l.http, "/ccp-webapp/ccp/feed", "CCP feeds, campaigns and social contacts (administrators)")
			add(l.name, l.ws, InteractionProcessorPath, "the Interaction Processor service (JSON over WebSocket)")
			add(l.name, l.http, rest.ControlPrefix+"/", "testers' controls: system status, finesse@ presence, ending sessions (administrators)")
		}
	}
	add(ListenerXMPP, "tcp", "", "XMPP over TCP, STARTTLS offered")
	add(ListenerXMPPS, "tls", "", "XMPP over direct TLS")
	add(ListenerPprof, "http", "/debug/pprof/", "Go's profiler")
	return out
}

// URLs lists every URL served, for the start banner.
func (a *App) URLs() []string {
	var out []string
	for _, e := range a.Endpoints() {
		out = append(out, e.URL)
	}
	return out
}

// publicHost is host:port as a client would write it: the XMPP domain
// stands in for an unspecified (all interfaces) address.
func (a *App) publicHost(listener string) string {
	addr := a.Addr(listener)
	if addr == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = a.cfg.Domain
	}
	if _, err := strconv.Atoi(port); err != nil {
		return addr
	}
	return net.JoinHostPort(host, port)
}

// Shutdown stops the service: /healthz answers 503; every session gets a
// system-shutdown stream error or BOSH terminate (server.Shutdown); then the
// BOSH handler, the keepalive monitor, the HTTP servers and the TCP
// listeners close. It is bounded by ctx and by Config.ShutdownTimeout, and
// only the first call does anything.
func (a *App) Shutdown(ctx context.Context) error {
	a.shutdownOnce.Do(func() { a.shutdownErr = a.shutdown(ctx) })
	return a.shutdownErr
}

// httpDrainTime is how long Shutdown lets HTTP requests that are not
// XMPP sessions finish once the sessions have ended.
const httpDrainTime = time.Second

func (a *App) shutdown(ctx context.Context) error {
	a.closing.Store(true)
	if a.cfg.ShutdownTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.cfg.ShutdownTimeout)
		defer cancel()
	}
	a.log.Info("shutting down", zap.Int("sessions", a.srv.SessionCount()))
	var errs []error
	// Returns once every session has ended and its transport has written
	// the goodbye, so the process may exit right after Shutdown.
	if err := a.srv.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	a.bosh.Close()
	a.presence.Close()
	a.router.Close()
	a.agents.Close()
	// Its connections are hijacked from the HTTP servers, which would not
	// wait for them.
	a.iproc.Close()
	// Every session has ended, so what an HTTP server still holds is a
	// short request (health, metrics, a publish) or a connection that has
	// sent nothing, such as a browser's preconnect, which Shutdown would
	// wait on for seconds. Give requests a moment, then close the rest.
	httpCtx, cancelHTTP := context.WithTimeout(ctx, httpDrainTime)
	defer cancelHTTP()
	for _, hs := range a.https {
		if err := hs.Shutdown(httpCtx); err != nil {
			if ctx.Err() != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			}
			hs.Close()
		}
	}
	for _, name := range a.order {
		if name == ListenerXMPP || name == ListenerXMPPS {
			a.listeners[name].Close()
		}
	}
	a.serving.Wait()
	a.log.Info("shut down")
	return errors.Join(errs...)
}

// release frees what a failed Start had made.
func (a *App) release() {
	a.closing.Store(true)
	for _, ln := range a.listeners {
		ln.Close()
	}
	if a.bosh != nil {
		a.bosh.Close()
	}
	if a.presence != nil {
		a.presence.Close()
	}
	if a.agents != nil {
		a.agents.Close()
	}
}
