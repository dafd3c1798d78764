package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// runner is one Run.
type runner struct {
	cfg   Config
	ctx   context.Context // the whole run, bounded by cfg.Timeout
	start time.Time
	// startNanos is start in Unix nanoseconds: events stamped before it
	// belong to an earlier run.
	startNanos int64

	sessions []*session
	nodes    []*eventNode
	admin    *session
	pub      publisher

	wsDialer   *websocket.Dialer
	boshClient *http.Client
	httpClient *http.Client

	hist atomic.Pointer[Histogram] // the current step's

	loginsDone  sync.WaitGroup
	receiving   sync.WaitGroup
	established atomic.Int64
	failed      atomic.Int64
	dropped     atomic.Int64
	lastLogin   atomic.Int64 // unix nanos of the latest established session
	ending      atomic.Bool
	published   atomic.Uint64 // publishes sent
	pubErrors   atomic.Uint64

	errMu  sync.Mutex
	errors map[string]int // a sample of what went wrong, by kind

	// Task mode: one tracker for every session, since the router decides
	// who receives each task.
	taskMu      sync.Mutex
	taskSeq     seqTracker
	taskDone    atomic.Uint64
	taskDups    atomic.Uint64
	taskActions chan taskAction
	taskStop    chan struct{} // closed at the end: the actors stop
	taskWorkers sync.WaitGroup
}

// maxErrorKinds bounds the error sample.
const maxErrorKinds = 20

func (r *runner) noteError(kind string) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if _, ok := r.errors[kind]; ok || len(r.errors) < maxErrorKinds {
		r.errors[kind]++
	}
}

func (r *runner) publishFailed(why string) {
	r.pubErrors.Add(1)
	r.noteError(why)
}

func (r *runner) histogram() *Histogram { return r.hist.Load() }

// Run performs one load run and summarises it. The error is for a run
// that could not start (bad configuration, the administrator's login, node
// creation); everything that goes wrong afterwards is in the Summary, whose
// OK says whether the thresholds were met.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if err := cfg.validate(); err != nil {
		return Summary{}, fmt.Errorf("configuration: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	r := &runner{
		cfg:     cfg,
		ctx:     ctx,
		start:   time.Now(),
		errors:  make(map[string]int),
		taskSeq: newSeqTracker(),
	}
	r.startNanos = r.start.UnixNano()
	r.hist.Store(new(Histogram))
	total := cfg.Sessions()
	r.wsDialer = newWSDialer(cfg.TLS, cfg.LoginTimeout)
	r.boshClient = newBOSHClient(cfg.TLS, cfg.Mix[TransportBOSH]+1, cfg.BOSHWait)
	r.httpClient = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     cfg.TLS,
			MaxIdleConnsPerHost: cfg.HTTPConcurrency + 8,
			MaxIdleConns:        cfg.HTTPConcurrency + 8,
			IdleConnTimeout:     time.Minute,
		},
	}
	defer r.httpClient.CloseIdleConnections()
	defer r.boshClient.CloseIdleConnections()

	r.planSessions(total)
	sum := Summary{
		Server:    cfg.Server,
		Mode:      string(cfg.Mode),
		Transport: cfg.TransportName(),
		Sessions:  total,
	}
	rssBefore, rssErr := r.serverRSS()
	toolCPU, serverCPU := r.cpu()

	progressDone := r.startProgress()
	defer progressDone()

	if err := r.setUpPublisher(); err != nil {
		r.shutDown()
		return sum, err
	}
	rampStart := time.Now()
	r.ramp()
	sum.Established = int(r.established.Load())
	sum.FailedLogins = int(r.failed.Load())
	if last := r.lastLogin.Load(); last > 0 && sum.Established > 0 {
		secs := time.Duration(last - rampStart.UnixNano()).Seconds()
		sum.LoginSeconds = round3(secs)
		sum.LoginsPerSec = round1(float64(sum.Established) / math.Max(secs, 1e-3))
	}
	rssAfter, rssAfterErr := r.serverRSS()

	switch {
	case ctx.Err() != nil || sum.Established == 0:
	case cfg.Mode == ModeIdle:
		r.hold()
		if rss, err := r.serverRSS(); err == nil {
			rssAfter, rssAfterErr = rss, nil
		}
	default:
		if cfg.Mode == ModeREST {
			if err := r.prepareAgents(ctx); err != nil {
				r.noteError(err.Error())
				sum.Failures = append(sum.Failures, "agent sign-in: "+err.Error())
				break
			}
		}
		if cfg.Mode == ModeTask {
			if err := r.prepareTaskAgents(ctx); err != nil {
				r.noteError(err.Error())
				sum.Failures = append(sum.Failures, "task agents: "+err.Error())
				break
			}
		}
		r.publishSteps(&sum)
	}
	if r.pub != nil {
		r.pub.close()
	}
	if r.taskActions != nil {
		// Sessions may still be receiving, so the actions channel stays
		// open; the actors stop, and what they leave is dropped.
		close(r.taskStop)
		r.taskWorkers.Wait()
	}
	sum.TimedOut = ctx.Err() != nil
	r.shutDown()

	if rssErr == nil && rssAfterErr == nil && sum.Established > 0 {
		perSession := float64(rssAfter-rssBefore) / float64(sum.Established)
		v := round1(perSession)
		sum.RSSKBPerSession = &v
		sum.ServerRSSKB = rssAfter
	} else if err := errors.Join(rssErr, rssAfterErr); err != nil && (cfg.ServerPID > 0 || cfg.MetricsURL != "") {
		sum.Failures = append(sum.Failures, err.Error())
	}
	for _, s := range r.sessions {
		sum.PingsAnswered += s.pings.Load()
	}
	sum.Dropped = int(r.dropped.Load())
	sum.DurationSec = round3(time.Since(r.start).Seconds())
	toolAfter, serverAfter := r.cpu()
	sum.ToolCPUSeconds = round3(toolAfter - toolCPU)
	sum.ServerCPUSeconds = round3(serverAfter - serverCPU)
	r.errMu.Lock()
	if len(r.errors) > 0 {
		sum.Errors = r.errors
	}
	r.errMu.Unlock()
	sum.judge(&cfg)
	return sum, nil
}

// planSessions makes the sessions, interleaving the transports in
// proportion, and the event nodes they expect events from.
func (r *runner) planSessions(total int) {
	cfg := &r.cfg
	kinds := make([]string, 0, len(cfg.Mix))
	for k, v := range cfg.Mix {
		if v > 0 {
			kinds = append(kinds, k)
		}
	}
	sort.Strings(kinds)
	assigned := make(map[string]int)
	users := min(total, len(cfg.Users))
	nodeOf := func(i int) int { return i % users }
	switch {
	case cfg.Mode == ModeShared || (cfg.Mode == ModePublish && cfg.Node != ""):
		r.nodes = []*eventNode{{name: cfg.Node}}
		nodeOf = func(int) int { return 0 }
	case cfg.Mode == ModeOwn:
		for _, u := range cfg.Users[:users] {
			r.nodes = append(r.nodes, &eventNode{name: cfg.NodePrefix + cfg.localpart(u), user: u})
		}
	case cfg.Mode == ModeTask:
		r.nodes = []*eventNode{{}} // the router picks the receiver
		nodeOf = func(int) int { return 0 }
	case cfg.Mode == ModeREST || cfg.Mode == ModePublish:
		for _, u := range cfg.Users[:users] {
			r.nodes = append(r.nodes, &eventNode{name: "/finesse/api/User/" + u, user: u})
		}
	}
	for i := range total {
		// The transport furthest behind its share goes next.
		kind, best := "", math.Inf(1)
		for _, k := range kinds {
			if f := float64(assigned[k]) / float64(cfg.Mix[k]); f < best && assigned[k] < cfg.Mix[k] {
				kind, best = k, f
			}
		}
		assigned[kind]++
		u := cfg.Users[i%len(cfg.Users)]
		s := &session{
			r:     r,
			idx:   i,
			kind:  kind,
			user:  u,
			local: cfg.localpart(u),
			pass:  cfg.Password,
			res:   fmt.Sprintf("%s%d", cfg.ResourcePrefix, i),
			seq:   newSeqTracker(),
			node:  -1,
		}
		if len(r.nodes) > 0 {
			s.node = nodeOf(i)
			s.stream = r.nodes[s.node].streamID(s.node, cfg.Mode)
		}
		r.sessions = append(r.sessions, s)
	}
}

// subscribeNode is the node a session subscribes to over XEP-0060 while it
// logs in ("" for none: the default subscriptions).
func (r *runner) subscribeNode(s *session) string {
	if (r.cfg.Mode == ModeOwn || r.cfg.Mode == ModeShared) && s.node >= 0 {
		return r.nodes[s.node].name
	}
	return ""
}

// setUpPublisher logs the administrator in and creates the nodes (own and
// shared modes), or prepares the HTTP publisher.
func (r *runner) setUpPublisher() error {
	cfg := &r.cfg
	switch cfg.Mode {
	case ModeOwn, ModeShared:
		local, domain, _ := strings.Cut(cfg.AdminJID, "@")
		if domain == "" {
			local = cfg.AdminJID
		}
		if i := strings.IndexByte(domain, '/'); i >= 0 {
			domain = domain[:i]
		}
		kind := cfg.AdminTransport
		if kind == "" {
			for _, k := range []string{TransportTCP, TransportWS, TransportBOSH} {
				if cfg.Mix[k] > 0 {
					kind = k
					break
				}
			}
		}
		r.admin = &session{r: r, idx: -1, kind: kind, local: strings.ToLower(local), pass: cfg.AdminPassword,
			res: cfg.ResourcePrefix + "-admin", admin: true, node: -1}
		ctx, cancel := context.WithTimeout(r.ctx, cfg.LoginTimeout)
		err := r.admin.login(ctx)
		cancel()
		if err != nil {
			if r.admin.w != nil {
				r.admin.w.close(false)
				r.admin.w = nil
			}
			return fmt.Errorf("administrator %s: %w", cfg.AdminJID, err)
		}
		xp := newXMPPPublisher(r, r.admin)
		r.pub = xp
		r.receiving.Add(1)
		go func() {
			defer r.receiving.Done()
			if err := r.admin.receive(); err != nil && !r.ending.Load() {
				r.noteError("administrator session: " + err.Error())
			}
		}()
		if err := xp.createNodes(r.ctx); err != nil {
			return err
		}
	case ModePublish:
		workers := cfg.HTTPConcurrency
		if len(r.nodes) == 1 {
			workers = 1 // one node: one request at a time keeps the order
		}
		r.pub = newHTTPPublisher(r, workers, r.publishEndpointRequest(payloadPadding(cfg.PayloadBytes)))
	case ModeREST:
		r.pub = newHTTPPublisher(r, cfg.HTTPConcurrency, r.restStateRequest)
	case ModeTask:
		r.pub = newHTTPPublisher(r, cfg.HTTPConcurrency, r.taskRequest)
	}
	return nil
}

// ramp starts the sessions at cfg.Ramp per second, at most
// cfg.Concurrency logging in at once, and returns when each is
// established or has failed.
func (r *runner) ramp() {
	cfg := &r.cfg
	sem := make(chan struct{}, cfg.Concurrency)
	begin := time.Now()
	for i, s := range r.sessions {
		if cfg.Ramp > 0 {
			at := begin.Add(time.Duration(float64(i) / cfg.Ramp * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-r.ctx.Done():
					t.Stop()
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-r.ctx.Done():
		}
		if r.ctx.Err() != nil {
			r.failed.Add(int64(len(r.sessions) - i))
			break
		}
		r.loginsDone.Add(1)
		r.receiving.Add(1)
		go r.runSession(s, sem)
	}
	r.loginsDone.Wait()
}

// runSession logs s in and then runs its receive loop until the end.
func (r *runner) runSession(s *session, sem chan struct{}) {
	defer r.receiving.Done()
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.LoginTimeout)
	err := s.login(ctx)
	cancel()
	<-sem
	if err != nil {
		r.failed.Add(1)
		r.noteError(s.kind + " login: " + errorKind(err))
		if s.w != nil {
			s.w.close(false)
		}
		r.loginsDone.Done()
		return
	}
	s.established.Store(true)
	r.established.Add(1)
	r.lastLogin.Store(time.Now().UnixNano())
	r.loginsDone.Done()
	err = s.receive()
	if !r.ending.Load() {
		r.dropped.Add(1)
		r.noteError(s.kind + " session ended: " + errorKind(err))
	}
	s.w.close(false)
}

// errorKind shortens an error for the sample: the first line, without
// the parts that differ between sessions (ports, ids).
func errorKind(err error) string {
	if err == nil {
		return "no error"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// hold keeps the sessions of an idle run for cfg.Hold.
func (r *runner) hold() {
	t := time.NewTimer(r.cfg.Hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.ctx.Done():
	}
}

// shutDown ends every session cleanly, a few at a time, within bounds.
func (r *runner) shutDown() {
	r.ending.Store(true)
	const parallel = 64
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	deadline := time.Now().Add(15 * time.Second)
	all := r.sessions
	if r.admin != nil && r.admin.w != nil {
		all = append(all[:len(all):len(all)], r.admin)
	}
	for _, s := range all {
		if s.w == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// No goodbyes once the run has hit its timeout: it is over.
			s.w.close(r.ctx.Err() == nil && time.Now().Before(deadline) && (s.established.Load() || s.admin))
		}()
	}
	wg.Wait()
	done := make(chan struct{})
	go func() {
		r.receiving.Wait()
		close(done)
	}()
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// --- events ---

// counts is a snapshot of what the sessions have received.
type counts struct {
	expected, delivered, duplicated, outOfOrder, misrouted uint64
}

func (r *runner) snapshot() counts {
	var c counts
	if r.cfg.Mode == ModeTask {
		c.delivered = r.taskDone.Load()
		c.duplicated = r.taskDups.Load()
		for _, n := range r.nodes {
			c.expected += n.ok.Load()
		}
		return c
	}
	for _, s := range r.sessions {
		if !s.established.Load() || s.node < 0 {
			continue
		}
		c.expected += r.nodes[s.node].ok.Load()
		c.delivered += s.received.Load()
		c.duplicated += s.duplicated.Load()
		c.outOfOrder += s.outOfOrder.Load()
		c.misrouted += s.misrouted.Load()
	}
	return c
}

func (c counts) minus(o counts) counts {
	return counts{
		expected:   c.expected - o.expected,
		delivered:  c.delivered - o.delivered,
		duplicated: c.duplicated - o.duplicated,
		outOfOrder: c.outOfOrder - o.outOfOrder,
		misrouted:  c.misrouted - o.misrouted,
	}
}

// publishSteps runs one step per rate (or one step at cfg.Rate) and fills
// the summary's event figures.
func (r *runner) publishSteps(sum *Summary) {
	cfg := &r.cfg
	rates := cfg.RateSteps
	stepping := len(rates) > 0
	if !stepping {
		rates = []float64{cfg.Rate}
	}
	var best *Step
	for i, rate := range rates {
		if r.ctx.Err() != nil {
			break
		}
		st := r.step(rate)
		st.Clean = st.Lost <= uint64(cfg.MaxLoss) && st.Duplicated == 0 && st.OutOfOrder == 0 && st.Misrouted == 0 &&
			st.PublishErrors == 0 && (cfg.MaxP99 <= 0 || st.P99ms <= ms(cfg.MaxP99)) && r.ctx.Err() == nil
		sum.Steps = append(sum.Steps, st)
		if st.Clean {
			best = &sum.Steps[i]
		}
		if stepping && !st.Clean {
			break
		}
	}
	if len(sum.Steps) == 0 {
		return
	}
	pick := &sum.Steps[len(sum.Steps)-1]
	if stepping {
		if best != nil {
			pick = best
			rate, dps := best.Rate, best.DeliveredPerSec
			sum.MaxCleanRate, sum.MaxCleanDeliveredPerSec = &rate, &dps
		} else {
			zero := 0.0
			sum.MaxCleanRate, sum.MaxCleanDeliveredPerSec = &zero, &zero
		}
	} else {
		sum.Steps = nil
	}
	sum.Rate = pick.Rate
	sum.Events = pick.Events
}

// step publishes at rate for cfg.Duration (or cfg.Events events), waits
// for what is due, and measures.
func (r *runner) step(rate float64) Step {
	h := new(Histogram)
	r.hist.Store(h)
	before := r.snapshot()
	pubBefore, errBefore := r.published.Load(), r.pubErrors.Load()
	toolCPU, serverCPU := r.cpu()
	begin := time.Now()

	r.schedule(rate)
	published := r.published.Load() - pubBefore
	r.drain()
	after := r.snapshot()
	end := time.Now()
	if n := r.pub.pending(); n > 0 {
		// Sent, never answered: whether the server published them is
		// unknown, so they are not expected, and they are errors.
		r.pubErrors.Add(uint64(n))
		r.noteError("publishes unanswered at the end of the drain")
	}

	d := after.minus(before)
	st := Step{Rate: rate, Events: Events{
		Published:     published,
		PublishErrors: r.pubErrors.Load() - errBefore,
		Expected:      d.expected,
		Delivered:     d.delivered,
		Duplicated:    d.duplicated,
		OutOfOrder:    d.outOfOrder,
		Misrouted:     d.misrouted,
		P50ms:         ms(h.Percentile(50)),
		P95ms:         ms(h.Percentile(95)),
		P99ms:         ms(h.Percentile(99)),
		MaxMs:         ms(h.Max()),
		MeanMs:        ms(h.Mean()),
	}}
	if d.expected > d.delivered {
		st.Lost = d.expected - d.delivered
	}
	// Delivered per second over the time events were flowing: from the
	// first publish to the end of the drain (which ends early once all
	// has arrived).
	if secs := end.Sub(begin).Seconds(); secs > 0 {
		st.DeliveredPerSec = round1(float64(d.delivered) / secs)
	}
	st.Seconds = round3(end.Sub(begin).Seconds())
	toolAfter, serverAfter := r.cpu()
	st.ToolCPUSeconds = round3(toolAfter - toolCPU)
	st.ServerCPUSecs = round3(serverAfter - serverCPU)
	return st
}

// schedule publishes at rate: event k (from 0) is due at k/rate seconds;
// events fall due to the nodes in turn. Lateness is caught up in bursts,
// so the average rate holds while the publisher keeps up.
func (r *runner) schedule(rate float64) {
	cfg := &r.cfg
	// A duration is rate × duration events; the timer, a little later,
	// only stops a publisher that cannot keep up.
	limit := int64(max(1, math.Round(cfg.Duration.Seconds()*rate)))
	var stop <-chan time.Time
	if cfg.Events > 0 {
		limit = int64(cfg.Events)
	} else {
		t := time.NewTimer(cfg.Duration + max(time.Second, cfg.Duration/10))
		defer t.Stop()
		stop = t.C
	}
	tick := time.Second / 1000
	if iv := time.Duration(float64(time.Second) / rate); iv > tick {
		tick = min(iv, 100*time.Millisecond)
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	begin := time.Now()
	var sent int64
	next := 0
	for {
		due := min(int64(time.Since(begin).Seconds()*rate)+1, limit)
		for ; sent < due; sent++ {
			n := r.nodes[next]
			n.seq++
			if err := r.pub.publish(r.ctx, next, n.seq); err != nil {
				r.publishFailed(errorKind(err))
				return
			}
			r.published.Add(1)
			next = (next + 1) % len(r.nodes)
		}
		if sent >= limit {
			return
		}
		select {
		case <-ticker.C:
		case <-stop:
			return
		case <-r.ctx.Done():
			return
		}
	}
}

// drain waits up to cfg.Drain for the publisher's answers and the
// deliveries due.
func (r *runner) drain() {
	deadline := time.NewTimer(r.cfg.Drain)
	defer deadline.Stop()
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		if r.pub.pending() == 0 {
			c := r.snapshot()
			if c.delivered >= c.expected {
				return
			}
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			return
		case <-r.ctx.Done():
			return
		}
	}
}

// cpu is the CPU time used so far by the tool and (with a PID) the server.
func (r *runner) cpu() (tool, server float64) {
	tool, _ = ownCPU()
	if r.cfg.ServerPID > 0 {
		server, _ = procCPU(r.cfg.ServerPID)
	}
	return tool, server
}

// --- progress ---

// startProgress prints a line every second, and a last one when the
// returned function is called.
func (r *runner) startProgress() func() {
	if r.cfg.Progress == nil {
		return func() {}
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var last counts
		var lastEst int64
		var lastPub uint64
		for final := false; !final; {
			select {
			case <-t.C:
			case <-stop:
				final = true // one last line, so that a short run shows one too
			}
			c := r.snapshot()
			est := r.established.Load()
			pub := r.published.Load()
			var pings uint64
			for _, s := range r.sessions {
				pings += s.pings.Load()
			}
			h := r.histogram()
			fmt.Fprintf(r.cfg.Progress, "[%5.0fs] sessions %d/%d (+%d/s) failed %d dropped %d | published %d (+%d/s) delivered %d (+%d/s) due %d | p99 %.1fms max %.1fms | pings %d\n",
				time.Since(r.start).Seconds(), est, len(r.sessions), est-lastEst, r.failed.Load(), r.dropped.Load(),
				pub, pub-lastPub, c.delivered, c.delivered-last.delivered, int64(c.expected)-int64(c.delivered),
				ms(h.Percentile(99)), ms(h.Max()), pings)
			last, lastEst, lastPub = c, est, pub
		}
	}()
	return func() {
		close(stop)
		<-done
	}
}

// --- the summary ---

// Events are the event figures of a step: what was published, what
// arrived, and how late. A Summary carries those of the step it reports;
// JSON puts them where the struct is embedded.
type Events struct {
	Published       uint64  `json:"published"`
	PublishErrors   uint64  `json:"publish_errors"`
	Expected        uint64  `json:"expected"`
	Delivered       uint64  `json:"delivered"`
	DeliveredPerSec float64 `json:"delivered_per_sec"`
	Lost            uint64  `json:"lost"`
	Duplicated      uint64  `json:"duplicated"`
	OutOfOrder      uint64  `json:"out_of_order"`
	Misrouted       uint64  `json:"misrouted"`
	P50ms           float64 `json:"p50_ms"`
	P95ms           float64 `json:"p95_ms"`
	P99ms           float64 `json:"p99_ms"`
	MaxMs           float64 `json:"max_ms"`
	MeanMs          float64 `json:"mean_ms"`
}

// Step is one rate of a run.
type Step struct {
	Rate    float64 `json:"rate"`
	Seconds float64 `json:"seconds"`
	Events
	ToolCPUSeconds float64 `json:"tool_cpu_s"`
	ServerCPUSecs  float64 `json:"server_cpu_s,omitempty"`
	Clean          bool    `json:"clean"`
}

// Summary is the outcome of a run: the JSON line finesse-load prints.
// With rate steps, the event figures are those of the highest clean step
// (or the last step when none was clean), and every step is in Steps.
type Summary struct {
	Server       string  `json:"server"`
	Mode         string  `json:"mode"`
	Transport    string  `json:"transport"`
	Sessions     int     `json:"sessions"`
	Established  int     `json:"established"`
	FailedLogins int     `json:"failed_logins"`
	Dropped      int     `json:"dropped"`
	LoginSeconds float64 `json:"login_seconds"`
	LoginsPerSec float64 `json:"logins_per_sec"`
	Rate         float64 `json:"rate"`
	Events
	// RSSKBPerSession is the growth of the server's resident memory from
	// before the first session to after the last login (after the hold,
	// in idle mode), per established session; null when not measured.
	RSSKBPerSession         *float64 `json:"rss_kb_per_session"`
	ServerRSSKB             int64    `json:"server_rss_kb,omitempty"`
	PingsAnswered           uint64   `json:"pings_answered"`
	MaxCleanRate            *float64 `json:"max_clean_rate"`
	MaxCleanDeliveredPerSec *float64 `json:"max_clean_delivered_per_sec,omitempty"`
	Steps                   []Step   `json:"steps,omitempty"`
	DurationSec             float64  `json:"duration_s"`
	// ToolCPUSeconds and ServerCPUSeconds (with a server PID) are the CPU
	// time each side used during the run: on a shared machine, which of
	// the two was busy.
	ToolCPUSeconds   float64        `json:"tool_cpu_s"`
	ServerCPUSeconds float64        `json:"server_cpu_s,omitempty"`
	TimedOut         bool           `json:"timed_out"`
	Errors           map[string]int `json:"errors,omitempty"`
	// Failures says why OK is false.
	Failures []string `json:"failures,omitempty"`
	OK       bool     `json:"ok"`
}

// judge sets OK and Failures from the thresholds.
func (s *Summary) judge(cfg *Config) {
	fail := func(format string, args ...any) { s.Failures = append(s.Failures, fmt.Sprintf(format, args...)) }
	if s.TimedOut {
		fail("the run hit its timeout of %s", cfg.Timeout)
	}
	if s.FailedLogins > 0 {
		fail("%d sessions failed to log in", s.FailedLogins)
	}
	if s.Dropped > 0 {
		fail("%d sessions ended before the run did", s.Dropped)
	}
	if cfg.Mode != ModeIdle {
		if s.MaxCleanRate != nil {
			if *s.MaxCleanRate == 0 {
				fail("no rate step was clean")
			}
		} else {
			if s.Lost > uint64(cfg.MaxLoss) {
				fail("%d events lost (at most %d allowed)", s.Lost, cfg.MaxLoss)
			}
			if s.Duplicated > 0 {
				fail("%d events duplicated", s.Duplicated)
			}
			if s.OutOfOrder > 0 {
				fail("%d events out of order", s.OutOfOrder)
			}
			if s.Misrouted > 0 {
				fail("%d events reached a session that did not expect them", s.Misrouted)
			}
			if s.PublishErrors > 0 {
				fail("%d publishes failed", s.PublishErrors)
			}
			if cfg.MaxP99 > 0 && s.P99ms > ms(cfg.MaxP99) {
				fail("p99 %.2f ms is over %.2f ms", s.P99ms, ms(cfg.MaxP99))
			}
			if s.Published == 0 {
				fail("nothing was published")
			}
		}
	}
	s.OK = len(s.Failures) == 0
}

func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }
func round1(v float64) float64   { return math.Round(v*10) / 10 }
func round3(v float64) float64   { return math.Round(v*1000) / 1000 }
