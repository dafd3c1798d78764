package rest

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	// requests is labelled by route (the route's pattern, never the raw
	// path, so the label set stays bounded) and HTTP status code.
	requests *prometheus.CounterVec
	lockouts prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_rest_requests_total",
			Help: "REST requests answered, by route pattern and HTTP status code.",
		}, []string{"route", "code"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_rest_lockouts_total",
			Help: "User ids locked out of the REST API after repeated wrong passwords.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.lockouts)
	}
	return m
}

func (m *metrics) observe(route string, code int) {
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
