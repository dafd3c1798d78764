package ccp

import (
	"net"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// Defaults of Config.
const (
	// DefaultMaxBodyBytes bounds a <Task> body, and the URL parameters of
	// the GET form of submission.
	DefaultMaxBodyBytes = 64 << 10
	// DefaultMaxVariables bounds a task's variables: the ten call
	// variables and room for ECC variables and extension fields.
	DefaultMaxVariables = 64
)

// Config is what the CCP HTTP API needs.
type Config struct {
	// Directory names the feeds and campaigns. Required.
	Directory *directory.Directory
	// Contacts is the contact store, also the Router's observer. Required.
	Contacts *Contacts
	// Router takes the submitted tasks. Required.
	Router Router
	// Authenticate checks the credentials of an administration call; on
	// failure it has answered (401 with its challenge) and reports false.
	// The app passes finesse/rest's (*API).Authenticate, so one lockout
	// covers every door. Nil serves no administration calls.
	Authenticate func(w http.ResponseWriter, r *http.Request) (directory.User, bool)
	// MaxBodyBytes bounds a request body and the GET form's URL parameters
	// (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// MaxVariables bounds a task's variables (default DefaultMaxVariables).
	MaxVariables int
	Logger       *zap.Logger
	Registerer   prometheus.Registerer
}

// API serves the Task API and the CCP administration calls. Make one with
// New and add its routes to a mux with Register.
type API struct {
	cfg     Config
	log     *zap.Logger
	metrics *apiMetrics
	routes  []route
}

// New makes the API. It panics without a Directory, Contacts or Router.
func New(cfg Config) *API {
	if cfg.Directory == nil || cfg.Contacts == nil || cfg.Router == nil {
		panic("ccp.New: Config.Directory, Config.Contacts and Config.Router are required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxVariables <= 0 {
		cfg.MaxVariables = DefaultMaxVariables
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	a := &API{cfg: cfg, log: cfg.Logger, metrics: newAPIMetrics(cfg.Registerer)}
	a.routes = a.buildRoutes()
	return a
}

// The two path families of the Task API: the Task Routing guide's and the
// 12.5+ CCP guides' (FINESSE-REFERENCE §6). Each answers with URLs of its
// own family.
const (
	taskFamily     = "/ccp/task"
	restTaskFamily = "/ccp/rest/task"
)

// route is one path pattern and the methods it serves.
type route struct {
	pattern string
	methods map[string]http.HandlerFunc
	// admin routes need an administrator's credentials.
	admin bool
}

func (a *API) buildRoutes() []route {
	var routes []route
	for _, family := range []string{taskFamily, restTaskFamily} {
		routes = append(routes,
			route{pattern: family + "/feed/{feedId}", methods: map[string]http.HandlerFunc{
				http.MethodPost: a.submitBody(family),
				http.MethodGet:  a.submitQuery(family),
			}},
			route{pattern: family + "/contact/{id}", methods: map[string]http.HandlerFunc{
				http.MethodGet:    a.pollTask,
				http.MethodDelete: a.cancelTask,
			}},
		)
	}
	routes = append(routes, route{pattern: "/ccp/", methods: nil})
	if a.cfg.Authenticate == nil {
		return routes
	}
	get := func(h http.HandlerFunc) map[string]http.HandlerFunc {
		return map[string]http.HandlerFunc{http.MethodGet: h}
	}
	return append(routes,
		route{pattern: feedPath, methods: get(a.getFeeds), admin: true},
		route{pattern: feedPath + "/{id}", methods: get(a.getFeed), admin: true},
		route{pattern: campaignPath, methods: get(a.getCampaigns), admin: true},
		route{pattern: campaignPath + "/{publicId}", methods: get(a.getCampaign), admin: true},
		route{pattern: socialContactPath + "{id}", methods: get(a.getSocialContact), admin: true},
		route{pattern: "/ccp-webapp/", methods: nil, admin: true},
	)
}

// Register hands every route to handle, as http.ServeMux.Handle takes
// them (the app passes its REST listener's mux). Patterns carry no
// method: each route answers a method it does not serve with 405 and an
// error document itself.
func (a *API) Register(handle func(pattern string, h http.Handler)) {
	for _, rt := range a.routes {
		handle(rt.pattern, a.handler(rt))
	}
}

// handler wraps a route: no caching, authentication of the administration
// calls, and method dispatch. HEAD is served as GET, except where GET
// creates a task.
func (a *API) handler(rt route) http.Handler {
	allow := allowHeader(rt.methods)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if rt.admin && !a.administrator(w, r) {
			return
		}
		h := rt.methods[r.Method]
		if h == nil && r.Method == http.MethodHead && rt.methods[http.MethodPost] == nil {
			h = rt.methods[http.MethodGet]
		}
		switch {
		case rt.methods == nil:
			writeError(w, notFound("resource", r.URL.Path))
		case h == nil:
			w.Header().Set("Allow", allow)
			writeError(w, &apiError{status: http.StatusMethodNotAllowed, errType: errMethod, data: r.Method,
				message: "Allowed methods: " + allow})
		default:
			h(w, r)
		}
	})
}

// allowHeader lists a route's methods, in a fixed order.
func allowHeader(methods map[string]http.HandlerFunc) string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodDelete} {
		_, ok := methods[m]
		if m == http.MethodHead {
			ok = methods[http.MethodGet] != nil && methods[http.MethodPost] == nil
		}
		if ok {
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// administrator lets an administrator through. Without valid credentials
// Authenticate has answered 401; a valid user who is not an administrator
// gets 403: the credentials are right, they only do not reach this far.
func (a *API) administrator(w http.ResponseWriter, r *http.Request) bool {
	u, ok := a.cfg.Authenticate(w, r)
	if !ok {
		return false
	}
	if u.Role != directory.RoleAdministrator {
		writeError(w, &apiError{status: http.StatusForbidden, errType: errForbidden, data: u.ID,
			message: "Only an administrator may use the CCP administration API"})
		return false
	}
	return true
}

// origin is scheme://host of the request: the base of the URLs the
// answers carry, so that they work from where the client stands.
func origin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		// An HTTP/1.0 request may name no host: the address it reached
		// stands in.
		if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			host = addr.String()
		}
	}
	return scheme + "://" + host
}
