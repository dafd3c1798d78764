package server

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the core's Prometheus metrics.
type Metrics struct {
	sessions       *prometheus.GaugeVec
	stanzasIn      *prometheus.CounterVec
	stanzasOut     *prometheus.CounterVec
	authFailures   prometheus.Counter
	queueOverflows prometheus.Counter
	streamErrors   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "finesse_notify_sessions",
			Help: "Open XMPP sessions by transport.",
		}, []string{"transport"}),
		stanzasIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_stanzas_in_total",
			Help: "Top-level elements received from clients, by transport.",
		}, []string{"transport"}),
		stanzasOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_stanzas_out_total",
			Help: "Top-level elements queued to clients, by transport.",
		}, []string{"transport"}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_auth_failures_total",
			Help: "Failed SASL authentications.",
		}),
		queueOverflows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_send_queue_overflows_total",
			Help: "Sessions disconnected because their send queue overflowed.",
		}),
		streamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_stream_errors_total",
			Help: "Stream errors sent to clients, by condition.",
		}, []string{"condition"}),
	}
	if reg != nil {
		reg.MustRegister(m.sessions, m.stanzasIn, m.stanzasOut, m.authFailures, m.queueOverflows, m.streamErrors)
	}
	return m
}
