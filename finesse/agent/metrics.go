package agent

import "github.com/prometheus/client_golang/prometheus"

// metrics are the registry's Prometheus metrics.
type metrics struct {
	stateChanges      *prometheus.CounterVec
	mediaStateChanges *prometheus.CounterVec
	forcedLogouts     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		stateChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_agent_state_changes_total",
			Help: "Agent (voice) state changes applied, by the state entered.",
		}, []string{"state"}),
		mediaStateChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_agent_media_state_changes_total",
			Help: "Agent state changes applied in non-voice media routing domains, by the state entered.",
		}, []string{"state"}),
		forcedLogouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "finesse_notify_agent_forced_logouts_total",
			Help: "Agents logged out because their XMPP presence stayed unavailable for the logout grace.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.stateChanges, m.mediaStateChanges, m.forcedLogouts)
	}
	return m
}
