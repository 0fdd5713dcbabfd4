package bench

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: latencies are recorded in microseconds from 1µs to 60s
// with 3 significant digits; longer ones are clamped to 60s (and the exact
// maximum is kept apart, see recorder.max).
const (
	histMinMicros = 1
	histMaxMicros = 60_000_000
	histSigFigs   = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// recordLatency adds d to h, clamped to the histogram's range.
func recordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < histMinMicros {
		us = histMinMicros
	}
	if us > histMaxMicros {
		us = histMaxMicros
	}
	_ = h.RecordValue(us) // cannot fail: us is within range
}

// Percentiles are latency figures in milliseconds.
type Percentiles struct {
	P50, P90, P99, P999, Max, Mean float64
	Count                          int64
}

// percentilesOf reads the standard figures off h. max is the exact maximum
// when known (>0); otherwise h's approximate one is used.
func percentilesOf(h *hdrhistogram.Histogram, max time.Duration) Percentiles {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	p := Percentiles{Count: h.TotalCount()}
	if p.Count == 0 {
		return p
	}
	p.P50 = ms(h.ValueAtQuantile(50))
	p.P90 = ms(h.ValueAtQuantile(90))
	p.P99 = ms(h.ValueAtQuantile(99))
	p.P999 = ms(h.ValueAtQuantile(99.9))
	p.Mean = h.Mean() / 1000
	if max > 0 {
		// The histogram reports the top of a value's bucket; no percentile
		// can exceed the exact maximum.
		p.Max = float64(max.Microseconds()) / 1000
		p.P50, p.P90 = min(p.P50, p.Max), min(p.P90, p.Max)
		p.P99, p.P999 = min(p.P99, p.Max), min(p.P999, p.Max)
	} else {
		p.Max = ms(h.Max())
	}
	return p
}

// mergeHists sums histograms into a new one; nil entries are skipped.
func mergeHists(hs ...*hdrhistogram.Histogram) *hdrhistogram.Histogram {
	out := newHist()
	for _, h := range hs {
		if h != nil {
			out.Merge(h)
		}
	}
	return out
}

// counts are one phase's tallies.
// Invariant: Issued == Succeeded + Failed whenever no request is in flight.
type counts struct {
	Issued, Succeeded, Failed int64
}

func (c *counts) add(o counts) {
	c.Issued += o.Issued
	c.Succeeded += o.Succeeded
	c.Failed += o.Failed
}

// recorder collects the outcomes of a group of workers. mu guards every
// field; workers of one group share it (contention is per group, not
// global), and the progress reporter reads it.
type recorder struct {
	mu       sync.Mutex
	hist     *hdrhistogram.Histogram // measured successes
	interval *hdrhistogram.Histogram // all successes since last progress read; nil when no progress
	measured counts
	warm     counts
	errs     map[string]int64 // measured failures by code name
	warmErrs map[string]int64
	max      time.Duration // exact maximum measured latency
	lastEnd  time.Time     // completion time of the last measured request
	late     int64         // measured requests started more than lateAfter after their intended start
	maxLag   time.Duration
	// since last progress read (all phases)
	ivOps, ivErrs int64
}

// lateAfter is how far behind its intended start an open-loop request must
// start to count as late.
const lateAfter = time.Millisecond

func newRecorder(progress bool) *recorder {
	r := &recorder{hist: newHist(), errs: map[string]int64{}, warmErrs: map[string]int64{}}
	if progress {
		r.interval = newHist()
	}
	return r
}

// issue counts a request before it is sent; done must follow exactly once.
func (r *recorder) issue(measured bool) {
	r.mu.Lock()
	if measured {
		r.measured.Issued++
	} else {
		r.warm.Issued++
	}
	r.mu.Unlock()
}

// done records the outcome of a request issued with issue(measured).
// lat is measured from the intended start, lag is how late it was sent.
func (r *recorder) done(measured bool, lat, lag time.Duration, end time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ivOps++
	if measured && end.After(r.lastEnd) {
		r.lastEnd = end
	}
	if err != nil {
		r.ivErrs++
		code := CodeName(err)
		if measured {
			r.measured.Failed++
			r.errs[code]++
		} else {
			r.warm.Failed++
			r.warmErrs[code]++
		}
		return
	}
	if r.interval != nil {
		recordLatency(r.interval, lat)
	}
	if !measured {
		r.warm.Succeeded++
		return
	}
	r.measured.Succeeded++
	recordLatency(r.hist, lat)
	if lat > r.max {
		r.max = lat
	}
	if lag > lateAfter {
		r.late++
	}
	if lag > r.maxLag {
		r.maxLag = lag
	}
}

// readInterval returns and resets the since-last-read figures.
func (r *recorder) readInterval(into *hdrhistogram.Histogram) (ops, errs int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.interval != nil {
		into.Merge(r.interval)
		r.interval.Reset()
	}
	ops, errs = r.ivOps, r.ivErrs
	r.ivOps, r.ivErrs = 0, 0
	return ops, errs
}
