package ccp

import "github.com/prometheus/client_golang/prometheus"

// contactMetrics counts the contacts the store holds, by status.
type contactMetrics struct {
	contacts *prometheus.GaugeVec
}

func newContactMetrics(reg prometheus.Registerer) *contactMetrics {
	m := &contactMetrics{
		contacts: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "finesse_notify_ccp_contacts",
			Help: "Task contacts held by the CCP contact store, by status.",
		}, []string{"status"}),
	}
	// Every status is present from the start, at zero.
	for s := statusUnread; s <= statusDiscarded; s++ {
		m.contacts.WithLabelValues(s.String())
	}
	if reg != nil {
		reg.MustRegister(m.contacts)
	}
	return m
}

// The results of a task submission.
const (
	resultCreated     = "created"
	resultInvalid     = "invalid"
	resultUnknownFeed = "unknown_feed"
	resultTooLarge    = "too_large"
	resultUnavailable = "unavailable"
)

// apiMetrics counts the Task API's submissions by result.
type apiMetrics struct {
	submissions *prometheus.CounterVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	m := &apiMetrics{
		submissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "finesse_notify_ccp_task_submissions_total",
			Help: "Task API submissions, by result: created, invalid, unknown_feed, too_large, unavailable.",
		}, []string{"result"}),
	}
	for _, r := range []string{resultCreated, resultInvalid, resultUnknownFeed, resultTooLarge, resultUnavailable} {
		m.submissions.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.submissions)
	}
	return m
}
