package iproc

import "github.com/prometheus/client_golang/prometheus"

// metrics are the service's Prometheus metrics.
type metrics struct {
	connections       prometheus.Gauge
	refused           prometheus.Counter
	requests          *prometheus.CounterVec
	queueOverflows    prometheus.Counter
	streams           prometheus.Gauge
	eventsRendered    *prometheus.CounterVec
	eventsQueued      *prometheus.CounterVec
	sessionsDestroyed prometheus.Counter
}

// requestLabel is the command label of a request: a known command, or
// "other", so that clients cannot grow the label set.
func requestLabel(command string) string {
	switch command {
	case cmdGetServiceDescriptor, cmdPrepareSession, cmdGetCapabilities, cmdCallJourney, cmdTeamStatusBegin, cmdTeamStatusEnd:
		return command
	}
	return "other"
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_iproc_connections",
			Help: "Open Interaction Processor WebSocket connections.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_iproc_connections_refused_total",
			Help: "Interaction Processor handshakes refused because the connection limit was reached.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_iproc_requests_total",
			Help: "Interaction Processor requests answered, by command and result (failures by code).",
		}, []string{"command", "result"}),
		queueOverflows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_iproc_send_queue_overflows_total",
			Help: "Interaction Processor connections closed because their send queue overflowed.",
		}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "finesse_notify_iproc_team_status_streams",
			Help: "Open team status report streams.",
		}),
		eventsRendered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_iproc_events_rendered_total",
			Help: "Team status events encoded, by event name (once per change, whatever the number of streams).",
		}, []string{"name"}),
		eventsQueued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_iproc_events_queued_total",
			Help: "Team status events queued to streams, by event name.",
		}, []string{"name"}),
		sessionsDestroyed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_iproc_sessions_destroyed_total",
			Help: "Sessions destroyed by a prepareSession with override from another connection.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.connections, m.refused, m.requests, m.queueOverflows, m.streams,
			m.eventsRendered, m.eventsQueued, m.sessionsDestroyed)
	}
	return m
}
