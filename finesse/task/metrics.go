package task

import "github.com/prometheus/client_golang/prometheus"

// metrics are the router's Prometheus metrics. Their labels are bounded:
// outcomes and dispositions are constants of this package.
type metrics struct {
	submitted     *prometheus.CounterVec
	offers        prometheus.Counter
	offerTimeouts prometheus.Counter
	closed        *prometheus.CounterVec
	queued        prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		submitted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_task_submitted_total",
			Help: "Tasks submitted to the router, by outcome (queued or discarded).",
		}, []string{"outcome"}),
		offers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_task_offers_total",
			Help: "Task dialogs offered to agents.",
		}),
		offerTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_task_offer_timeouts_total",
			Help: "Offered task dialogs withdrawn because the agent did not accept them in time (RONA).",
		}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_task_dialogs_closed_total",
			Help: "Task dialogs closed, by disposition code.",
		}, []string{"disposition"}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_task_queued",
			Help: "Tasks waiting for an agent, in every queue.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.submitted, m.offers, m.offerTimeouts, m.closed, m.queued)
	}
	return m
}
