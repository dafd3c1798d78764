package pubsub

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	publishes     prometheus.Counter
	deliveries    prometheus.Counter
	subscriptions prometheus.Gauge
	nodes         prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		publishes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_pubsub_publishes_total",
			Help: "Items published to pubsub nodes.",
		}),
		deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_pubsub_deliveries_total",
			Help: "Event notifications queued for sessions.",
		}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_pubsub_subscriptions",
			Help: "Subscriptions held, of sessions online or not.",
		}),
		nodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_pubsub_nodes",
			Help: "Nodes in use: created ones and implicit ones that have been used.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.publishes, m.deliveries, m.subscriptions, m.nodes)
	}
	return m
}
