package app

import (
	"time"

	"github.com/finesse-notify/finesse-notify/finesse/task"
	"github.com/finesse-notify/finesse-notify/iproc"
)

// The Interaction Processor's device types of a call journey.
const (
	deviceTypeQueue = "Queue"
	deviceTypeAgent = "Agent"
)

// iprocJourneys shows the task router's routing history to the
// Interaction Processor's call journey report: a queue hop is the queue
// (by number, described by its name), an agent hop the agent (by id,
// described by name); an ongoing hop lasts until now.
type iprocJourneys struct {
	router *task.Router
	now    func() time.Time
}

func (j iprocJourneys) CallJourney(callID string) ([]iproc.JourneyStep, bool) {
	journey, ok := j.router.Journey(callID)
	if !ok {
		return nil, false
	}
	now := j.now()
	steps := make([]iproc.JourneyStep, 0, len(journey.Hops))
	for _, h := range journey.Hops {
		end := h.End
		if end.IsZero() {
			end = now
		}
		kind := deviceTypeQueue
		if h.Kind == task.HopAgent {
			kind = deviceTypeAgent
		}
		steps = append(steps, iproc.JourneyStep{CallID: journey.TaskID, Device: h.ID, DeviceType: kind,
			Description: h.Name, Duration: max(end.Sub(h.Start), 0)})
	}
	return steps, true
}
