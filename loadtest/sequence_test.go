package loadtest

import "testing"

func TestSeqTracker(t *testing.T) {
	tr := newSeqTracker()
	steps := []struct {
		seq  uint64
		want arrival
	}{
		{1, arrivalInOrder},
		{2, arrivalInOrder},
		{2, arrivalDuplicate},
		{5, arrivalInOrder}, // 3 and 4 missing for now
		{4, arrivalOutOfOrder},
		{5, arrivalDuplicate},
		{3, arrivalOutOfOrder}, // closes the gap
		{6, arrivalInOrder},
		{1, arrivalDuplicate},
		{9, arrivalInOrder}, // 7 and 8 never come
	}
	for i, st := range steps {
		if got := tr.add(st.seq); got != st.want {
			t.Errorf("step %d: add(%d) = %v, want %v", i, st.seq, got, st.want)
		}
	}
	if m := tr.missing(); m != 2 {
		t.Errorf("missing %d, want 2 (7 and 8)", m)
	}
	if tr.next != 7 || len(tr.ahead) != 1 {
		t.Errorf("next %d ahead %v", tr.next, tr.ahead)
	}
}

func TestSeqTrackerInOrderKeepsNoMap(t *testing.T) {
	tr := newSeqTracker()
	for s := uint64(1); s <= 100000; s++ {
		if tr.add(s) != arrivalInOrder {
			t.Fatalf("add(%d) not in order", s)
		}
	}
	if tr.ahead != nil || tr.missing() != 0 {
		t.Errorf("ahead %v missing %d", tr.ahead, tr.missing())
	}
}

func TestSeqTrackerWritesOffAHugeGap(t *testing.T) {
	tr := newSeqTracker()
	tr.add(1)
	// Number 2 never comes; more than maxAhead come after it.
	for s := uint64(3); s <= maxAhead+3; s++ {
		tr.add(s)
	}
	if len(tr.ahead) > maxAhead {
		t.Errorf("%d remembered, bound %d", len(tr.ahead), maxAhead)
	}
	if tr.next <= 2 {
		t.Errorf("the gap was not written off: next %d", tr.next)
	}
	if tr.add(maxAhead+4) != arrivalInOrder {
		t.Error("the stream does not go on after the write-off")
	}
}
