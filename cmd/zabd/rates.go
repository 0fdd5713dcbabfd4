package main

import (
	"sync"
	"time"

	"zabd/engine"
)

// rateWindow turns the engine's running totals into recent rates for mntr:
// fsyncs/s and txns/s over the last window, sampled once a second.
// Safe for concurrent use.
type rateWindow struct {
	mu      sync.Mutex
	samples []rateSample // oldest first, at most keep
	keep    int
}

type rateSample struct {
	at              time.Time
	fsyncs, records uint64
}

func newRateWindow(window time.Duration, every time.Duration) *rateWindow {
	return &rateWindow{keep: int(window/every) + 1}
}

func (r *rateWindow) add(at time.Time, s engine.Stats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.samples = append(r.samples, rateSample{at: at, fsyncs: s.Fsyncs, records: s.Records})
	if len(r.samples) > r.keep {
		r.samples = append(r.samples[:0], r.samples[len(r.samples)-r.keep:]...)
	}
}

// rates returns fsyncs/s and records/s between the oldest and newest
// samples, zero until there are two.
func (r *rateWindow) rates() (fsyncsPerSec, recordsPerSec float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.samples) < 2 {
		return 0, 0
	}
	a, b := r.samples[0], r.samples[len(r.samples)-1]
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return 0, 0
	}
	return float64(b.fsyncs-a.fsyncs) / secs, float64(b.records-a.records) / secs
}

// sampleEvery feeds w from st until stop closes.
func (r *rateWindow) sampleEvery(every time.Duration, st engine.StatsReporter, stop <-chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	r.add(time.Now(), st.Stats())
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			r.add(now, st.Stats())
		}
	}
}
