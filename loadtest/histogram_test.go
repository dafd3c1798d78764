package loadtest

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in a bucket whose highest value is at least it,
	// and within 1/64 of it.
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 30, 1<<40 + 7} {
		b := bucketOf(v)
		high := bucketHigh(b)
		if high < v || float64(high-v) > float64(v)/64+1 {
			t.Errorf("value %d: bucket %d up to %d", v, b, high)
		}
		if b > 0 && bucketHigh(b-1) >= v {
			t.Errorf("value %d: the bucket below (%d) reaches %d", v, b-1, bucketHigh(b-1))
		}
	}
}

func TestHistogramPercentilesMatchASortedSample(t *testing.T) {
	var h Histogram
	rng := rand.New(rand.NewPCG(1, 2))
	sample := make([]time.Duration, 20000)
	for i := range sample {
		// Long-tailed, from microseconds to seconds.
		sample[i] = time.Duration(rng.ExpFloat64()*float64(3*time.Millisecond)) + time.Duration(rng.IntN(50))*time.Microsecond
		h.Record(sample[i])
	}
	sort.Slice(sample, func(i, j int) bool { return sample[i] < sample[j] })
	for _, p := range []float64{50, 95, 99, 99.9, 100} {
		exact := sample[int(p/100*float64(len(sample)))-1]
		got := h.Percentile(p)
		if diff := float64(got-exact) / float64(exact); diff < -0.001 || diff > 0.02 {
			t.Errorf("p%v = %s, the sample says %s", p, got, exact)
		}
	}
	if h.Max() != sample[len(sample)-1].Truncate(time.Microsecond) {
		t.Errorf("max %s, want %s", h.Max(), sample[len(sample)-1])
	}
	if h.Count() != uint64(len(sample)) {
		t.Errorf("count %d", h.Count())
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Percentile(99) != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Error("an empty histogram reports values")
	}
	h.Record(-time.Second)
	if h.Count() != 1 || h.Max() != 0 {
		t.Errorf("a negative latency: count %d max %s", h.Count(), h.Max())
	}
}

func TestHistogramConcurrentRecordAndMerge(t *testing.T) {
	var h, total Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Record(time.Duration(g*1000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	total.Merge(&h)
	total.Merge(&h)
	if h.Count() != 8000 || total.Count() != 16000 {
		t.Errorf("counts %d %d", h.Count(), total.Count())
	}
	if h.Max() != 7999*time.Microsecond || total.Max() != h.Max() {
		t.Errorf("max %s %s", h.Max(), total.Max())
	}
	if p := total.Percentile(50); p < 3900*time.Microsecond || p > 4100*time.Microsecond {
		t.Errorf("merged p50 %s", p)
	}
}
