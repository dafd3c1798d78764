package rest

import (
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/agent"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/finesse/task"
)

// Defaults of Config.
const (
	// DefaultMaxFailures and DefaultLockout are Finesse's: the fifth
	// wrong password in a row locks the user out for five minutes
	// (DG125#333).
	DefaultMaxFailures  = 5
	DefaultLockout      = 5 * time.Minute
	DefaultMaxBodyBytes = 64 << 10
)

// ControlPrefix is where the testers' control endpoints live: outside
// /finesse/api, so that they are never mistaken for Finesse's own API.
const ControlPrefix = "/finesse-notify/control"

const xmlContentType = "application/xml"

// Config is what the REST API needs.
type Config struct {
	// Directory authenticates callers and names users and teams. Required.
	Directory *directory.Directory
	// Agents is the agent model the User and Media calls act on. Required.
	Agents *agent.Registry
	// Tasks is the task router whose dialogs the Dialog calls show and
	// act on. Without it there are no task dialogs: GET
	// /finesse/api/Dialog/{id} answers 404, and PUT on it and
	// /finesse/api/User/{id}/Media/{mrdId}/Dialogs are not served.
	Tasks *task.Router
	// Publisher carries the SystemInfo notifications; nil publishes none.
	Publisher agent.Publisher
	// Control acts on the XMPP side for the control endpoints; nil
	// answers them 501.
	Control Control
	// ReloadDirectory reads the directory file again (the app's reload,
	// also run on SIGHUP); nil answers the reload endpoint 501. Its error
	// wraps ErrNoDirectoryFile when there is no file, or the file's
	// validation problems.
	ReloadDirectory func() (DirectoryReload, error)
	// Domain and PubSubDomain are SystemInfo's xmppDomain and
	// xmppPubSubDomain (default pubsub.<Domain>).
	Domain, PubSubDomain string
	// Host is SystemInfo's primaryNode/host (default Domain).
	Host string
	// MaxFailures consecutive wrong passwords lock a user id out for
	// Lockout (defaults DefaultMaxFailures, DefaultLockout).
	MaxFailures int
	Lockout     time.Duration
	// MaxBodyBytes bounds a request body (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Now is the clock of the lockout and SystemInfo (default time.Now).
	Now        func() time.Time
	Logger     *zap.Logger
	Registerer prometheus.Registerer
}

// DirectoryReload is what a directory reload changed.
type DirectoryReload struct {
	Users, Teams   int // in the directory now
	Added, Removed int // users
}

// Control is what the control endpoints do outside this package.
type Control interface {
	// SetServiceAvailable sends presence from finesse@<domain> to every
	// available session: available, or unavailable (the desktop's
	// "Finesse is down").
	SetServiceAvailable(available bool)
	// EndSessions closes the XMPP sessions of the user whose directory
	// id is userID and returns how many there were.
	EndSessions(userID string) int
}

// API serves the REST routes. Make one with New and add its routes to a
// mux with Register.
type API struct {
	cfg     Config
	log     *zap.Logger
	auth    *authenticator
	metrics *metrics
	system  systemStatus
	routes  []*route
}

// New makes the API. It panics without a Directory or Agents.
func New(cfg Config) *API {
	if cfg.Directory == nil || cfg.Agents == nil {
		panic("rest.New: Config.Directory and Config.Agents are required")
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = DefaultMaxFailures
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = DefaultLockout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.PubSubDomain == "" {
		cfg.PubSubDomain = "pubsub." + cfg.Domain
	}
	if cfg.Host == "" {
		cfg.Host = cfg.Domain
	}
	a := &API{cfg: cfg, log: cfg.Logger, metrics: newMetrics(cfg.Registerer)}
	a.auth = newAuthenticator(cfg, a.metrics)
	a.routes = a.buildRoutes()
	return a
}

// Register hands every route to handle, as http.ServeMux.Handle takes
// them (the app passes its HandleREST). Patterns carry no method: each
// route answers a method it does not serve with 405 and an <ApiErrors>
// body itself, which a method pattern would leave to the mux's plain-text
// answer.
func (a *API) Register(handle func(pattern string, h http.Handler)) {
	for _, rt := range a.routes {
		handle(rt.pattern, a.handler(rt))
	}
}

// Authenticate checks r's Basic credentials with the API's lockout and
// returns the caller. Without valid credentials it answers the 401 (with
// the challenge) itself and reports false. Other HTTP APIs on the REST
// listener (the CCP administration calls) share it, so that one failure
// count and one lockout cover every door.
func (a *API) Authenticate(w http.ResponseWriter, r *http.Request) (directory.User, bool) {
	return a.auth.authenticate(w, r)
}

// handlerFunc serves one method of a route for an authenticated caller.
type handlerFunc func(w http.ResponseWriter, r *http.Request, caller directory.User)

// route is one path pattern and the methods it serves.
type route struct {
	pattern string
	methods map[string]handlerFunc
	// allow is the Allow header of a 405.
	allow string
	// finesseAPI routes are Finesse's own (/finesse/api): they answer 503
	// while the system is out of service.
	finesseAPI bool
	// servesOutOfService is the one method that still answers while the
	// system is out of service (SystemInfo's GET).
	servesOutOfService string
	// catchAll routes answer 404 to everything under their prefix that no
	// other route serves.
	catchAll bool
}

func (a *API) buildRoutes() []*route {
	const api = "/finesse/api"
	get := func(h handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodGet: h} }
	// A task router adds the dialogs' actions and the per-MRD lists.
	dialog := get(a.getDialog)
	if a.cfg.Tasks != nil {
		dialog[http.MethodPut] = a.putDialog
	}
	routes := []*route{
		// SystemInfo's GET answers while out of service: it is how
		// clients learn that the service is back (DG125#378, "poll
		// SystemInfo until IN_SERVICE").
		{pattern: api + "/SystemInfo", methods: get(a.getSystemInfo), servesOutOfService: http.MethodGet},
		{pattern: api + "/User/{id}", methods: map[string]handlerFunc{
			http.MethodGet: a.getUser, http.MethodPut: a.putUser}},
		{pattern: api + "/User/{id}/ReasonCodes", methods: get(a.getReasonCodes)},
		{pattern: api + "/User/{id}/Media", methods: get(a.getMediaList)},
		{pattern: api + "/User/{id}/Media/{mrdId}", methods: map[string]handlerFunc{
			http.MethodGet: a.getMedia, http.MethodPut: a.putMedia}},
		{pattern: api + "/User/{id}/Dialogs", methods: get(a.getDialogs)},
		{pattern: api + "/Team/{id}", methods: get(a.getTeam)},
		{pattern: api + "/Dialog/{id}", methods: dialog},
		{pattern: api + "/", catchAll: true},
	}
	if a.cfg.Tasks != nil {
		routes = append(routes, &route{pattern: api + "/User/{id}/Media/{mrdId}/Dialogs", methods: get(a.getMediaDialogs)})
	}
	for _, rt := range routes {
		rt.finesseAPI = true
	}
	post := func(h handlerFunc) map[string]handlerFunc { return map[string]handlerFunc{http.MethodPost: h} }
	routes = append(routes,
		&route{pattern: ControlPrefix + "/system", methods: post(a.controlSystem)},
		&route{pattern: ControlPrefix + "/finesse-presence", methods: post(a.controlPresence)},
		&route{pattern: ControlPrefix + "/users/{id}/end-sessions", methods: post(a.controlEndSessions)},
		&route{pattern: ControlPrefix + "/directory/reload", methods: post(a.controlReload)},
		&route{pattern: ControlPrefix + "/", catchAll: true},
	)
	for _, rt := range routes {
		rt.allow = allowHeader(rt.methods)
	}
	return routes
}

// allowHeader lists the methods of a route, HEAD with GET as
// http.ServeMux does, in a fixed order.
func allowHeader(methods map[string]handlerFunc) string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if _, ok := methods[m]; ok || (m == http.MethodHead && methods[http.MethodGet] != nil) {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// lookup returns the handler of method; HEAD is served by GET, whose body
// net/http then drops.
func (rt *route) lookup(method string) handlerFunc {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	return rt.methods[method]
}

// requestIDHeader is the request header a client correlates its request
// and the notifications it causes with (DG125#22).
const requestIDHeader = "requestId"

// requestID returns the request's requestId header, "" without one.
func requestID(r *http.Request) string { return r.Header.Get(requestIDHeader) }

// handler wraps a route: the requestId echo, the metrics, the
// out-of-service answer, authentication, and method dispatch, in that
// order.
func (a *API) handler(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h := rt.lookup(r.Method)
		// The method is in the label only when the route serves it, so
		// that a client's made-up methods cannot grow the label set.
		label := rt.pattern
		if h != nil {
			label = r.Method + " " + rt.pattern
		}
		defer func() { a.metrics.observe(label, rec.status()) }()

		if ids := r.Header.Values(requestIDHeader); len(ids) > 0 {
			// Set under the client's spelling rather than Go's canonical
			// "Requestid": HTTP/1.1 headers are case-insensitive, but
			// clients that look the header up by exact name exist.
			rec.Header()[requestIDHeader] = []string{ids[0]}
		}
		// Agent state must never be served from a cache.
		rec.Header().Set("Cache-Control", "no-store")

		if rt.finesseAPI && a.outOfService() && (h == nil || r.Method != rt.servesOutOfService) {
			writeAPIError(rec, apiError{status: http.StatusServiceUnavailable,
				errType: errServiceUnavailable, message: outOfServiceMessage})
			return
		}
		caller, ok := a.auth.authenticate(rec, r)
		if !ok {
			return
		}
		switch {
		case rt.catchAll:
			writeAPIError(rec, apiError{status: http.StatusNotFound, errType: errNotFound,
				message: "No such resource", data: r.URL.Path})
		case h == nil:
			rec.Header().Set("Allow", rt.allow)
			writeAPIError(rec, apiError{status: http.StatusMethodNotAllowed, errType: errMethodNotAllowed,
				message: "Allowed methods: " + rt.allow, data: r.Method})
		default:
			h(rec, r, caller)
		}
	})
}

// writeXML answers 200 with an XML document.
func writeXML(w http.ResponseWriter, doc []byte) {
	w.Header().Set("Content-Type", xmlContentType)
	w.WriteHeader(http.StatusOK)
	w.Write(doc)
}

// accepted is the answer to a state change the model took: 202 and no
// body; the outcome arrives as notifications (FINESSE-REFERENCE §4).
func accepted(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }

// answerChange answers a change request once the model has taken or
// refused it: 202, or err as ApiErrors. Both are logged at debug as what
// (with " refused" on a refusal), with fields and the error or the
// requestId.
func (a *API) answerChange(w http.ResponseWriter, what, requestID string, err *agent.Error, fields ...zap.Field) {
	if err != nil {
		a.log.Debug(what+" refused", append(fields, zap.String("error", err.Error()))...)
		writeAPIError(w, fromAgent(err))
		return
	}
	a.log.Debug(what, append(fields, zap.String("requestId", requestID))...)
	accepted(w)
}
