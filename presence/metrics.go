package presence

import "github.com/prometheus/client_golang/prometheus"

// metrics are the tracker's Prometheus metrics.
type metrics struct {
	pingsSent prometheus.Counter
	timedOut  prometheus.Counter
	available prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		pingsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_pings_sent_total",
			Help: "XEP-0199 keepalive pings sent to silent sessions.",
		}),
		timedOut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_sessions_timed_out_total",
			Help: "Sessions closed because they left keepalive pings unanswered.",
		}),
		available: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_available_resources",
			Help: "Resources that have sent available presence and not yet become unavailable.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.pingsSent, m.timedOut, m.available)
	}
	return m
}
