package iproc

import (
	"slices"
	"strings"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// stream is a team status stream: one connection following the team of
// one agent.
type stream struct {
	conn      *conn
	key       string // lower-case agent id
	agentJSON []byte // the agent id as a JSON string, the middle part of every event
	teamID    int    // the team shown, 0 while the agent has none

	// While hold is set, the stream's member list is being read from the
	// agent states (a begin, a directory change): events are kept in
	// pending and sent after the list.
	hold    bool
	pending []teamEvent
}

// teamStatusData is the data of report.teamstatus.begin and .end.
type teamStatusData struct {
	AgentID *string `json:"agentId"`
}

func (c *conn) teamStatusAgent(req request) (string, *response) {
	var d teamStatusData
	if f := decodeData(req.Data, &d); f != nil {
		return "", failureResponse(req.Command, req.Original, f)
	}
	if f := requireString("data.agentId", d.AgentID); f != nil {
		return "", failureResponse(req.Command, req.Original, f)
	}
	return *d.AgentID, nil
}

// teamStatusBegin starts a stream of the agent's team: the success
// response, then teamadded with the members, then the team's events. It
// returns a failure response, or nil once it has queued the success.
func (c *conn) teamStatusBegin(req request, sess *session) *response {
	agentID, r := c.teamStatusAgent(req)
	if r != nil {
		return r
	}
	fail := func(f *failure) *response { return failureResponse(req.Command, req.Original, f) }
	s := c.svc
	s.snapshotMu.Lock()
	defer s.snapshotMu.Unlock()

	s.mu.Lock()
	dir := s.dir
	u, ok := dir.User(agentID)
	if !ok {
		s.mu.Unlock()
		return fail(failf(codeUnknownAgent, "data.agentId", "no agent %q in the directory", agentID))
	}
	if c.session != sess {
		s.mu.Unlock()
		return fail(failf(codeNoSession, "", "the session was destroyed"))
	}
	if !mayWatch(dir, sess, u) {
		s.mu.Unlock()
		return fail(failf(codeForbidden, "data.agentId",
			"agent %s may not follow the team of %s: only its own team, or the teams it supervises", sess.agentID, u.ID))
	}
	if !isMember(u) {
		s.mu.Unlock()
		return fail(failf(codeNotInTeam, "data.agentId", "%s is in no team", u.ID))
	}
	key := strings.ToLower(u.ID)
	if old := c.streams[key]; old != nil {
		// A second begin restarts the stream, with a new member list.
		s.removeStreamLocked(old)
	} else if len(c.streams) >= s.cfg.MaxStreams {
		s.mu.Unlock()
		return fail(failf(codeTooManyStreams, "", "this connection already has %d team status streams, the most allowed", s.cfg.MaxStreams))
	}
	st := &stream{conn: c, key: key, agentJSON: encode(u.ID), teamID: u.TeamID, hold: true}
	s.addStreamLocked(st)
	s.mu.Unlock()

	// Read the states without s.mu: the registry may be calling
	// onStateChange, waiting for s.mu, with a user's lock held.
	tail := s.renderTeamAdded(dir, u.TeamID)

	s.mu.Lock()
	defer s.mu.Unlock()
	if c.streams[key] != st {
		// Ended meanwhile: the session was destroyed or the connection
		// closed.
		return fail(failf(codeNoSession, "", "the session ended"))
	}
	c.respond(successResponse(req.Command, nil))
	s.release(st, []teamEvent{{evTeamAdded, tail}})
	return nil
}

// mayWatch reports whether the session's agent may follow the team of u:
// its own team, a team it supervises, any for an administrator.
func mayWatch(dir *directory.Directory, sess *session, u directory.User) bool {
	if strings.EqualFold(sess.agentID, u.ID) {
		return true
	}
	me, ok := dir.User(sess.agentID)
	if !ok {
		return false
	}
	return me.Role == directory.RoleAdministrator || me.Supervises(u.TeamID) || (me.TeamID != 0 && me.TeamID == u.TeamID)
}

func (c *conn) teamStatusEnd(req request) *response {
	agentID, r := c.teamStatusAgent(req)
	if r != nil {
		return r
	}
	s := c.svc
	s.mu.Lock()
	defer s.mu.Unlock()
	st := c.streams[strings.ToLower(agentID)]
	if st == nil {
		return failureResponse(req.Command, req.Original, failf(codeNoStream, "data.agentId",
			"no team status stream for %q on this connection", agentID))
	}
	s.removeStreamLocked(st)
	return successResponse(req.Command, nil)
}

// addStreamLocked registers st with its connection and its team.
func (s *Service) addStreamLocked(st *stream) {
	st.conn.streams[st.key] = st
	s.indexLocked(st)
	s.metrics.streams.Inc()
}

func (s *Service) indexLocked(st *stream) {
	if st.teamID == 0 {
		return
	}
	m := s.teams[st.teamID]
	if m == nil {
		m = make(map[*stream]struct{})
		s.teams[st.teamID] = m
	}
	m[st] = struct{}{}
}

func (s *Service) unindexLocked(st *stream) {
	if m := s.teams[st.teamID]; m != nil {
		delete(m, st)
		if len(m) == 0 {
			delete(s.teams, st.teamID)
		}
	}
}

// removeStreamLocked ends a stream.
func (s *Service) removeStreamLocked(st *stream) {
	if st.conn.streams[st.key] != st {
		return
	}
	delete(st.conn.streams, st.key)
	s.unindexLocked(st)
	st.pending = nil
	s.metrics.streams.Dec()
}

// teamEvent is a rendered event: its name and its tail, everything after
// the agent id.
type teamEvent struct {
	name string
	tail []byte
}

// renderTail renders an event's tail: the team object and the closing
// braces.
func (s *Service) renderTail(name string, t team) teamEvent {
	s.eventRendered[name].Inc()
	b := append([]byte(`,"team":`), encode(t)...)
	return teamEvent{name, append(b, "}}"...)}
}

// deliverLocked sends ev to st, or keeps it while st is on hold. A
// stream whose hold overflows the send queue closes its connection, as a
// full queue does.
func (s *Service) deliverLocked(st *stream, ev teamEvent) {
	if st.hold {
		if len(st.pending) >= s.cfg.SendQueue {
			st.pending = nil
			st.conn.overflow()
			return
		}
		st.pending = append(st.pending, ev)
		return
	}
	m := outMsg{parts: [3][]byte{s.eventHeads[ev.name], st.agentJSON, ev.tail}, n: 3}
	if st.conn.enqueue(m) {
		s.eventQueued[ev.name].Inc()
	}
}

// release ends st's hold: evs first, then the events kept meanwhile.
func (s *Service) release(st *stream, evs []teamEvent) {
	st.hold = false
	for _, ev := range evs {
		s.deliverLocked(st, ev)
	}
	pending := st.pending
	st.pending = nil
	for _, ev := range pending {
		s.deliverLocked(st, ev)
	}
}

// memberOf is u's entry in a member list.
func memberOf(u directory.User, a Agents) member {
	m := member{MemberID: u.ID, MemberType: memberType(u), MemberName: memberName(u), Status: statusNotReady}
	if a != nil {
		if state, reason, ok := a.State(u.ID); ok {
			m.Status = reportStatus(state)
			m.Reason = reportReason(reason)
		}
	}
	return m
}

// teamMembers are the users of a team's report, in directory order.
func teamMembers(dir *directory.Directory, teamID int) []directory.User {
	return slices.DeleteFunc(dir.TeamMembers(teamID), func(u directory.User) bool { return !isMember(u) })
}

// renderTeamAdded renders teamadded for a team of dir, reading its
// members' states. Never called with s.mu held.
func (s *Service) renderTeamAdded(dir *directory.Directory, teamID int) []byte {
	t, _ := dir.Team(teamID)
	users := teamMembers(dir, teamID)
	members := make([]member, len(users))
	for i, u := range users {
		members[i] = memberOf(u, s.cfg.Agents)
	}
	return s.renderTail(evTeamAdded, teamOf(t, members)).tail
}

// onStateChange reports a member's change to the streams of its team.
// Called by Agents, in order per user; it must not block.
func (s *Service) onStateChange(ch StateChange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.dir.User(ch.UserID)
	if !ok || !isMember(u) {
		return
	}
	streams := s.teams[u.TeamID]
	if len(streams) == 0 {
		return
	}
	t, _ := s.dir.Team(u.TeamID)
	m := member{MemberID: u.ID, MemberType: memberType(u), MemberName: memberName(u),
		Status: reportStatus(ch.State), Reason: reportReason(ch.Reason)}
	ev := s.renderTail(evMemberStatusChanged, teamOf(t, []member{m}))
	for st := range streams {
		s.deliverLocked(st, ev)
	}
}
