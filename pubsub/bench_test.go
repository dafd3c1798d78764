package pubsub_test

import (
	"fmt"
	"testing"

	"github.com/finesse-notify/finesse-notify/pubsub"
)

// BenchmarkPublish publishes a Finesse-sized notification to one node with
// 1 to 10,000 bare-JID subscribers, each an available session on an
// in-memory transport that counts and drops what it is sent. It reports
// the cost per delivery: the fan-out's own work and the send queue's, not
// a network's.
//
//	go test -run '^$' -bench Publish -benchmem ./pubsub/
func BenchmarkPublish(b *testing.B) {
	payload := []byte(`<notification xmlns='http://jabber.org/protocol/pubsub'>` +
		`&lt;Update&gt;&lt;data&gt;&lt;user&gt;&lt;dialogs&gt;/finesse/api/User/1001/Dialogs&lt;/dialogs&gt;` +
		`&lt;extension&gt;3001&lt;/extension&gt;&lt;firstName&gt;Alice&lt;/firstName&gt;&lt;lastName&gt;Adams&lt;/lastName&gt;` +
		`&lt;loginId&gt;1001&lt;/loginId&gt;&lt;loginName&gt;1001&lt;/loginName&gt;&lt;pendingState&gt;&lt;/pendingState&gt;` +
		`&lt;roles&gt;&lt;role&gt;Agent&lt;/role&gt;&lt;/roles&gt;&lt;state&gt;READY&lt;/state&gt;` +
		`&lt;stateChangeTime&gt;2026-11-21T10:00:00.000Z&lt;/stateChangeTime&gt;&lt;teamId&gt;1&lt;/teamId&gt;` +
		`&lt;teamName&gt;Team A&lt;/teamName&gt;&lt;uri&gt;/finesse/api/User/1001&lt;/uri&gt;&lt;/user&gt;&lt;/data&gt;` +
		`&lt;event&gt;PUT&lt;/event&gt;&lt;requestId&gt;&lt;/requestId&gt;&lt;source&gt;/finesse/api/User/1001&lt;/source&gt;&lt;/Update&gt;` +
		`</notification>`)
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h := newHarness(b, n, pubsub.Config{Resolver: func(string) bool { return true }})
			for i := range n {
				user := fmt.Sprintf("u%d", i)
				h.login(b, user, "desk", prio(0)).Discard()
				if _, err := h.ps.Subscribe("/finesse/api/Team/1/Users", bare(user)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			deliveries := 0
			for b.Loop() {
				res, err := h.ps.Publish("/finesse/api/Team/1/Users", "", payload)
				if err != nil {
					b.Fatal(err)
				}
				deliveries += res.Deliveries
			}
			b.StopTimer()
			if deliveries != n*b.N {
				b.Fatalf("%d deliveries, want %d", deliveries, n*b.N)
			}
			allocs := testing.AllocsPerRun(20, func() { h.ps.Publish("/finesse/api/Team/1/Users", "", payload) })
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(deliveries), "ns/delivery")
			b.ReportMetric(allocs/float64(n), "allocs/delivery")
		})
	}
}
