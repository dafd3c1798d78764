package agent

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/finesse-notify/finesse-notify/finesse"
	"github.com/finesse-notify/finesse-notify/finesse/directory"
	"github.com/finesse-notify/finesse-notify/pubsub"
	"github.com/finesse-notify/finesse-notify/server/servertest"
)

// record is one Publish call.
type record struct {
	node   string
	update finesse.Update
}

// recorder is a Publisher that keeps every Update and wakes waiters.
type recorder struct {
	mu      sync.Mutex
	records []record
	// published gets a token after every Publish (it never blocks: one
	// token is enough to make a waiter look again).
	published chan struct{}
}

func newRecorder() *recorder { return &recorder{published: make(chan struct{}, 1)} }

func (p *recorder) Publish(node string, u finesse.Update) (pubsub.Published, error) {
	u.Data = bytes.Clone(u.Data)
	p.mu.Lock()
	p.records = append(p.records, record{node: node, update: u})
	p.mu.Unlock()
	select {
	case p.published <- struct{}{}:
	default:
	}
	return pubsub.Published{Node: node, ItemID: "item", Deliveries: 1}, nil
}

func (p *recorder) all() []record {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]record(nil), p.records...)
}

func (p *recorder) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.records)
}

// since returns the records published after the first n.
func (p *recorder) since(n int) []record { return p.all()[n:] }

// waitFor waits until some record satisfies match and returns it. The
// deadline only bounds a broken test; nothing is timed.
func (p *recorder) waitFor(t *testing.T, what string, match func(record) bool) record {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, rec := range p.all() {
			if match(rec) {
				return rec
			}
		}
		select {
		case <-p.published:
		case <-deadline:
			t.Fatalf("no notification %s; published: %v", what, p.all())
		}
	}
}

// fixedTime is the clock of the byte-exact tests.
var fixedTime = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

type fixture struct {
	r     *Registry
	pub   *recorder
	clock *servertest.Clock
	dir   *directory.Directory
}

func newFixture(t *testing.T, dir *directory.Directory, mutate func(*Config)) *fixture {
	t.Helper()
	if dir == nil {
		dir = directory.Default()
	}
	f := &fixture{pub: newRecorder(), clock: servertest.NewClock(fixedTime), dir: dir}
	cfg := Config{Directory: dir, Publisher: f.pub, Now: f.clock.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	f.r = New(cfg)
	t.Cleanup(f.r.Close)
	return f
}

// must applies a state request that has to succeed.
func (f *fixture) must(t *testing.T, id string, req StateRequest) {
	t.Helper()
	if err := f.r.SetState(id, req); err != nil {
		t.Fatalf("SetState(%s, %+v): %v", id, req, err)
	}
}

func (f *fixture) mustMedia(t *testing.T, id string, mrd int, req MediaRequest) {
	t.Helper()
	if err := f.r.SetMedia(id, mrd, req); err != nil {
		t.Fatalf("SetMedia(%s, %d, %+v): %v", id, mrd, req, err)
	}
}

// login signs id in with its directory extension.
func (f *fixture) login(t *testing.T, id string) {
	t.Helper()
	u, _ := f.dir.User(id)
	f.must(t, id, StateRequest{State: StateLogin, Extension: u.Extension})
}

func (f *fixture) state(t *testing.T, id string) (State, int) {
	t.Helper()
	s, rc, ok := f.r.State(id)
	if !ok {
		t.Fatalf("State(%s): unknown user", id)
	}
	return s, rc
}

// wellFormed fails unless doc parses as one XML element.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	depth, roots := 0, 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, doc)
		}
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		t.Fatalf("%d root elements in %s", roots, doc)
	}
}

// field returns the text of the first element name in doc ("" if none).
func field(doc []byte, name string) string {
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == name {
			var s string
			if err := d.DecodeElement(&s, &se); err != nil {
				return ""
			}
			return s
		}
	}
}

func parseDir(t *testing.T, yaml string) *directory.Directory {
	t.Helper()
	d, err := directory.Parse([]byte(strings.TrimSpace(yaml)))
	if err != nil {
		t.Fatalf("directory: %v", err)
	}
	return d
}
