package loadtest

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records latencies in microseconds into log-linear buckets, as
// HDR histograms do: exact below 128 µs, and above that 64 buckets per
// power of two, so a reported percentile is within 1.6% of the truth. It
// is safe for concurrent use without locks: recording is two atomic adds
// (and a compare-and-swap while the maximum grows), so thousands of
// sessions can record into one histogram.
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	total  atomic.Uint64
	sumUS  atomic.Uint64
	maxUS  atomic.Uint64
}

const (
	histLinear    = 128 // values below are their own bucket
	histSubBucket = 64  // buckets per power of two above
	histMaxShift  = 40  // 2^47 µs is over four years
	histBuckets   = histLinear + histMaxShift*histSubBucket
)

// bucketOf maps a value in µs to its bucket.
func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	shift := bits.Len64(us) - 7 // us>>shift is in [64, 127]
	if shift > histMaxShift {
		return histBuckets - 1
	}
	return histLinear + (shift-1)*histSubBucket + int(us>>shift) - histSubBucket
}

// bucketHigh is the highest value in µs that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	shift := uint((i-histLinear)/histSubBucket + 1)
	mantissa := uint64((i-histLinear)%histSubBucket + histSubBucket)
	return (mantissa+1)<<shift - 1
}

// Record adds one latency. Negative values (clocks are the same here, but
// a value can be stamped after it is read on another CPU) count as zero.
func (h *Histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[bucketOf(us)].Add(1)
	h.total.Add(1)
	h.sumUS.Add(us)
	for {
		m := h.maxUS.Load()
		if us <= m || h.maxUS.CompareAndSwap(m, us) {
			return
		}
	}
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max is the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.maxUS.Load()) * time.Microsecond }

// Mean is the average of the values recorded.
func (h *Histogram) Mean() time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sumUS.Load()/n) * time.Microsecond
}

// Percentile returns the value at or below which p percent of the values
// fall (the bucket's highest value, never above the maximum); 0 when
// nothing was recorded.
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	// The ceiling of the rank, forgiving the rounding of p/100*n (99.9%
	// of 20000 is 19980.000000000004 in floating point).
	rank := max(uint64(math.Ceil(p/100*float64(n)-1e-9)), 1)
	max := h.maxUS.Load()
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), max)) * time.Microsecond
		}
	}
	return time.Duration(max) * time.Microsecond
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	h.sumUS.Add(o.sumUS.Load())
	for {
		m, om := h.maxUS.Load(), o.maxUS.Load()
		if om <= m || h.maxUS.CompareAndSwap(m, om) {
			return
		}
	}
}
