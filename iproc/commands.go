package iproc

import (
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// handle answers one request frame.
func (c *conn) handle(frame []byte) {
	req, fail := parseRequest(frame)
	if fail != nil {
		c.respond(fail)
		return
	}
	switch req.Command {
	case cmdGetServiceDescriptor:
		// Open before prepareSession: the descriptor is the service's
		// identity, sent to every connection at its start anyway.
		c.respond(successResponse(req.Command, c.svc.cfg.Descriptor))
		return
	case cmdPrepareSession:
		c.respond(c.prepareSession(req))
		return
	case cmdGetCapabilities, cmdCallJourney, cmdTeamStatusBegin, cmdTeamStatusEnd:
	default:
		c.respond(failureResponse(req.Command, req.Original, failf(codeUnknownCommand, "command",
			"unknown command %q", req.Command)))
		return
	}
	sess := c.currentSession()
	if sess == nil {
		c.respond(failureResponse(req.Command, req.Original, failf(codeNoSession, "",
			"%s needs a session: send prepareSession first", req.Command)))
		return
	}
	switch req.Command {
	case cmdGetCapabilities:
		c.respond(successResponse(req.Command, c.svc.capabilities))
	case cmdCallJourney:
		c.respond(c.callJourney(req))
	case cmdTeamStatusBegin:
		// Answered by teamStatusBegin itself, ahead of the stream's first
		// event.
		if r := c.teamStatusBegin(req, sess); r != nil {
			c.respond(r)
		}
	case cmdTeamStatusEnd:
		c.respond(c.teamStatusEnd(req))
	}
}

func (c *conn) currentSession() *session {
	c.svc.mu.Lock()
	defer c.svc.mu.Unlock()
	return c.session
}

// prepareSessionData is prepareSession's data. Pointers tell a missing
// field from an empty one.
type prepareSessionData struct {
	Model    *string `json:"model"`
	Override *bool   `json:"override"`
	Agent    *struct {
		ID       *string `json:"id"`
		Password *string `json:"password"`
	} `json:"agent"`
}

// prepareSession authenticates the agent and gives the connection a
// session, asking for confirmation (or, with override, destroying it)
// when another connection has one for the same agent.
func (c *conn) prepareSession(req request) *response {
	fail := func(f *failure) *response { return failureResponse(req.Command, req.Original, f) }
	var d prepareSessionData
	if f := decodeData(req.Data, &d); f != nil {
		return fail(f)
	}
	if d.Agent == nil {
		return fail(failf(codeMissingField, "data.agent", "data.agent is required"))
	}
	if f := requireString("data.agent.id", d.Agent.ID); f != nil {
		return fail(f)
	}
	if f := requireString("data.agent.password", d.Agent.Password); f != nil {
		return fail(f)
	}
	override := d.Override != nil && *d.Override
	s := c.svc
	dir := s.directory()
	if _, ok := dir.Authenticate(*d.Agent.ID, *d.Agent.Password); !ok {
		c.log.Info("prepareSession: wrong credentials", zap.String("agent", *d.Agent.ID))
		return fail(failf(codeInvalidCredentials, "data.agent", "the agent id or password is wrong"))
	}
	u, _ := dir.User(*d.Agent.ID)
	key := strings.ToLower(u.ID)

	s.mu.Lock()
	if c.session != nil {
		held := c.session
		s.mu.Unlock()
		return fail(failf(codeSessionExists, held.id,
			"this connection already has a session, for agent %s: open another connection for another session", held.agentID))
	}
	other := s.sessions[key]
	if other != nil && !override {
		since := other.created.UTC().Format(time.RFC3339)
		s.mu.Unlock()
		return &response{
			Command: req.Command,
			Result:  resultConfirm,
			Message: fmt.Sprintf("Agent %s already has a session, prepared at %s on another connection. End it and continue here?"+
				` (send prepareSession again with "override": true)`, u.ID, since),
			Original: req.Original,
		}
	}
	if other != nil {
		s.destroySessionLocked(other, c)
	}
	sess := &session{id: newResourceID(), agentID: u.ID, key: key, conn: c, created: s.cfg.Now()}
	s.sessions[key] = sess
	c.session = sess
	s.mu.Unlock()

	c.log.Info("session prepared", zap.String("agent", u.ID), zap.String("resource", sess.id), zap.Bool("override", other != nil))
	return &response{Command: req.Command, Result: resultSuccess, Resource: &resource{ID: sess.id, Data: req.Data}}
}

// sessionDestroyed is the data of the session.destroyed event.
type sessionDestroyed struct {
	ID      string `json:"id"`
	AgentID string `json:"agentId"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// destroySessionLocked ends old's session because by prepared a session
// for the same agent with override: old's connection gets
// session.destroyed, then is closed. Called with s.mu held.
func (s *Service) destroySessionLocked(old *session, by *conn) {
	delete(s.sessions, old.key)
	oc := old.conn
	oc.session = nil
	for _, st := range oc.streams {
		s.removeStreamLocked(st)
	}
	s.metrics.sessionsDestroyed.Inc()
	oc.log.Info("session destroyed by an override", zap.String("agent", old.agentID), zap.String("resource", old.id),
		zap.Uint64("by_conn", by.id))
	ev := encode(event{Name: evSessionDestroyed, Data: sessionDestroyed{
		ID:      old.id,
		AgentID: old.agentID,
		Reason:  "override",
		Message: fmt.Sprintf("another connection prepared a session for agent %s with override", old.agentID),
	}})
	oc.enqueue(single(ev))
	oc.closeAfterQueue(closeNormal, "session destroyed")
}

// callJourneyData is report.calljourney's data.
type callJourneyData struct {
	CallID *string `json:"CallId"`
}

// journeyStep is a step of the CallJourney list.
type journeyStep struct {
	CallID      string `json:"CallId"`
	Device      string `json:"Device"`
	DeviceType  string `json:"DeviceType"`
	Description string `json:"Description"`
	Duration    string `json:"Duration"`
}

func (c *conn) callJourney(req request) *response {
	fail := func(f *failure) *response { return failureResponse(req.Command, req.Original, f) }
	var d callJourneyData
	if f := decodeData(req.Data, &d); f != nil {
		return fail(f)
	}
	if f := requireString("data.CallId", d.CallID); f != nil {
		return fail(f)
	}
	var steps []JourneyStep
	ok := false
	if j := c.svc.cfg.Journeys; j != nil {
		steps, ok = j.CallJourney(*d.CallID)
	}
	if !ok {
		return fail(failf(codeUnknownCall, "data.CallId", "no call or task %q in the routing history", *d.CallID))
	}
	out := make([]journeyStep, len(steps))
	for i, st := range steps {
		out[i] = journeyStep{CallID: st.CallID, Device: st.Device, DeviceType: st.DeviceType,
			Description: st.Description, Duration: formatDuration(st.Duration)}
	}
	return successResponse(req.Command, struct {
		CallJourney []journeyStep `json:"CallJourney"`
	}{out})
}
