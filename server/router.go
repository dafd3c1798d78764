package server

import (
	"hash/maphash"
	"slices"
	"sync"
)

const routerShards = 64

// router maps JIDs to bound sessions. Each user's sessions are an immutable
// slice replaced on change (copy-on-write), so lookups on the delivery path
// hold a shard's read lock only long enough to load one map entry.
type router struct {
	seed   maphash.Seed
	shards [routerShards]routerShard
}

type routerShard struct {
	mu    sync.RWMutex
	users map[string][]*Session // bare JID → sessions
}

func newRouter() *router {
	r := &router{seed: maphash.MakeSeed()}
	for i := range r.shards {
		r.shards[i].users = make(map[string][]*Session)
	}
	return r
}

func (r *router) shard(bare string) *routerShard {
	return &r.shards[maphash.String(r.seed, bare)%routerShards]
}

// bind routes full to s. A session already bound to full is replaced and
// returned so the caller can end it with a conflict stream error.
func (r *router) bind(s *Session, full JID, max int) (replaced *Session, err *StanzaError) {
	bare := full.Bare().String()
	sh := r.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[bare]
	for i, o := range list {
		if o.jid.Resource == full.Resource {
			next := slices.Clone(list)
			next[i] = s
			sh.users[bare] = next
			return o, nil
		}
	}
	if len(list) >= max {
		return nil, ErrResourceConstraint
	}
	next := make([]*Session, len(list), len(list)+1)
	copy(next, list)
	sh.users[bare] = append(next, s)
	return nil, nil
}

// unbind removes s if it is still the session bound to its JID.
func (r *router) unbind(s *Session) {
	bare := s.jid.Bare().String()
	sh := r.shard(bare)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	list := sh.users[bare]
	i := slices.Index(list, s)
	if i < 0 {
		return
	}
	if len(list) == 1 {
		delete(sh.users, bare)
		return
	}
	next := make([]*Session, 0, len(list)-1)
	next = append(next, list[:i]...)
	sh.users[bare] = append(next, list[i+1:]...)
}

// resources returns the sessions bound under bare. The slice is shared and
// must not be modified.
func (r *router) resources(bare JID) []*Session { return r.resourcesOf(bare.String()) }

// resourcesOf is resources keyed by the bare JID's string form. A session's
// jid is written before it enters the router and never after, so callers
// may read it from the returned sessions without the session's lock.
func (r *router) resourcesOf(key string) []*Session {
	sh := r.shard(key)
	sh.mu.RLock()
	list := sh.users[key]
	sh.mu.RUnlock()
	return list
}

// lookup returns the session bound to full, or nil.
func (r *router) lookup(full JID) *Session {
	for _, s := range r.resources(full.Bare()) {
		if s.jid.Resource == full.Resource {
			return s
		}
	}
	return nil
}
