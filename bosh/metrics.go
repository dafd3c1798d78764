package bosh

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the BOSH transport's Prometheus metrics.
type metrics struct {
	held         prometheus.Gauge
	deferred     prometheus.Gauge
	requests     prometheus.Counter
	replays      prometheus.Counter
	terminations *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		held: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_bosh_held_requests",
			Help: "BOSH requests held open, waiting for something to send.",
		}),
		deferred: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_bosh_deferred_requests",
			Help: "BOSH requests that arrived before a lower rid and wait for it.",
		}),
		requests: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_bosh_requests_total",
			Help: "BOSH HTTP POST requests received.",
		}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_bosh_replayed_responses_total",
			Help: "BOSH requests answered from the response cache because their rid was repeated.",
		}),
		terminations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_bosh_terminations_total",
			Help: "Terminate bodies sent, by XEP-0124 condition (\"none\" for a clean end).",
		}, []string{"condition"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.held, m.deferred, m.requests, m.replays, m.terminations} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("bosh: register metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) terminated(cond string) {
	if cond == "" {
		cond = "none"
	}
	m.terminations.WithLabelValues(cond).Inc()
}
