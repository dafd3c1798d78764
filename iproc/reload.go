package iproc

import (
	"strings"

	"github.com/finesse-notify/finesse-notify/finesse/directory"
)

// DirectoryChanged is called by the app after a directory reload, with the
// directory before and after. The service uses next for every later
// lookup, and tells the open team status streams what changed in their
// team:
//
//   - teamchanged when the team's name changed;
//   - memberremoved, then memberadded, for the members that left and
//     joined (a member whose name or type changed leaves and joins again,
//     so that a client replacing the entry shows the new one);
//   - when the stream's own agent moved to another team: teamremoved for
//     the old team, then teamadded with the new team's members; when it
//     left every team (or the directory), teamremoved alone, and the
//     stream waits for a reload that puts it in a team again.
//
// The differences are taken against the directory the service used last,
// which is old unless calls crossed.
func (s *Service) DirectoryChanged(old, next *directory.Directory) {
	if next == nil {
		return
	}
	s.snapshotMu.Lock()
	defer s.snapshotMu.Unlock()

	type move struct {
		st       *stream
		from, to int
	}
	var moves []move
	staying := make(map[int][]*stream)

	s.mu.Lock()
	prev := s.dir
	s.dir = next
	if prev == next {
		s.mu.Unlock()
		return
	}
	for c := range s.conns {
		for _, st := range c.streams {
			to := 0
			if u, ok := next.User(st.key); ok && isMember(u) {
				to = u.TeamID
			}
			switch {
			case to != st.teamID:
				moves = append(moves, move{st, st.teamID, to})
				s.unindexLocked(st)
				st.teamID = to
				s.indexLocked(st)
				st.hold = true
			case to != 0:
				staying[to] = append(staying[to], st)
			}
		}
	}
	diffs := make(map[int]teamDiff)
	for teamID, streams := range staying {
		d := diffTeam(prev, next, teamID)
		if d.empty() {
			continue
		}
		diffs[teamID] = d
		for _, st := range streams {
			st.hold = true
		}
	}
	s.mu.Unlock()

	// Render each team's events once, reading the agent states without
	// s.mu.
	teamEvents := make(map[int][]teamEvent, len(diffs))
	for teamID, d := range diffs {
		teamEvents[teamID] = s.renderDiff(next, teamID, d)
	}
	removed := make(map[int]teamEvent)
	added := make(map[int]teamEvent)
	for _, m := range moves {
		if _, done := removed[m.from]; m.from != 0 && !done {
			t, ok := prev.Team(m.from)
			if !ok {
				t = directory.Team{ID: m.from}
			}
			removed[m.from] = s.renderTail(evTeamRemoved, teamOf(t, nil))
		}
		if _, done := added[m.to]; m.to != 0 && !done {
			added[m.to] = teamEvent{evTeamAdded, s.renderTeamAdded(next, m.to)}
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	live := func(st *stream) bool { return st.conn.streams[st.key] == st }
	for _, m := range moves {
		if !live(m.st) {
			continue
		}
		var evs []teamEvent
		if m.from != 0 {
			evs = append(evs, removed[m.from])
		}
		if m.to != 0 {
			evs = append(evs, added[m.to])
		}
		s.release(m.st, evs)
	}
	for teamID, evs := range teamEvents {
		for _, st := range staying[teamID] {
			if live(st) {
				s.release(st, evs)
			}
		}
	}
}

// teamDiff is what a reload changed in a team.
type teamDiff struct {
	renamed bool
	removed []string         // ids of the members gone, as the old directory spells them
	added   []directory.User // members new, in the new directory's order
}

func (d teamDiff) empty() bool { return !d.renamed && len(d.removed) == 0 && len(d.added) == 0 }

// diffTeam compares team teamID's name and members in prev and next.
func diffTeam(prev, next *directory.Directory, teamID int) teamDiff {
	var d teamDiff
	pt, _ := prev.Team(teamID)
	nt, _ := next.Team(teamID)
	d.renamed = pt.Name != nt.Name
	before := make(map[string]directory.User)
	for _, u := range teamMembers(prev, teamID) {
		before[strings.ToLower(u.ID)] = u
	}
	kept := make(map[string]bool)
	for _, u := range teamMembers(next, teamID) {
		key := strings.ToLower(u.ID)
		b, ok := before[key]
		if ok && b.ID == u.ID && memberName(b) == memberName(u) && memberType(b) == memberType(u) {
			kept[key] = true
			continue
		}
		d.added = append(d.added, u)
	}
	for _, u := range teamMembers(prev, teamID) {
		if !kept[strings.ToLower(u.ID)] {
			d.removed = append(d.removed, u.ID)
		}
	}
	return d
}

// renderDiff renders a team's events for a diff, in the order a client
// applies them: teamchanged, memberremoved, memberadded.
func (s *Service) renderDiff(next *directory.Directory, teamID int, d teamDiff) []teamEvent {
	t, _ := next.Team(teamID)
	var evs []teamEvent
	if d.renamed {
		evs = append(evs, s.renderTail(evTeamChanged, teamOf(t, nil)))
	}
	if len(d.removed) > 0 {
		gone := make([]removedMember, len(d.removed))
		for i, id := range d.removed {
			gone[i] = removedMember{MemberID: id}
		}
		evs = append(evs, s.renderTail(evMemberRemoved, teamOf(t, gone)))
	}
	if len(d.added) > 0 {
		members := make([]member, len(d.added))
		for i, u := range d.added {
			members[i] = memberOf(u, s.cfg.Agents)
		}
		evs = append(evs, s.renderTail(evMemberAdded, teamOf(t, members)))
	}
	return evs
}
