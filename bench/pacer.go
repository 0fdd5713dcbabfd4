package bench

import (
	"sync/atomic"
	"time"
)

// pacer hands out request slots to workers and decides when the load phase
// is over. It is safe for concurrent use (atomics only).
//
// Slot numbers count every request of the run, warm-up included, from 0.
// Open loop: slot i's intended start is start + i*interval, a fixed
// schedule; closed loop: a slot's intended start is whenever a worker asks.
// A slot is measured when its intended start is at or after warmEnd.
//
// Invariant: measured <= maxMeasured once a run is over (when maxMeasured
// > 0); every slot handed out with ok=true has intended < end.
type pacer struct {
	open     bool
	start    time.Time
	interval float64 // ns between intended starts (open loop only)
	warmEnd  time.Time
	end      time.Time
	// maxMeasured bounds measured slots (0: unbounded); maxSlots bounds all
	// slots (0: unbounded; the delete workload runs out of keys).
	maxMeasured int64
	maxSlots    int64

	next     atomic.Int64 // next slot number
	measured atomic.Int64 // measured slots handed out
	done     atomic.Bool
	// exhausted is set when maxSlots stopped the run.
	exhausted atomic.Bool
}

// newPacer builds the schedule of a run starting at start.
func newPacer(start time.Time, rate float64, warmup, duration, timeout time.Duration, maxMeasured, maxSlots int64) *pacer {
	p := &pacer{
		open:        rate > 0,
		start:       start,
		warmEnd:     start.Add(warmup),
		maxMeasured: maxMeasured,
		maxSlots:    maxSlots,
	}
	if rate > 0 {
		p.interval = 1e9 / rate
	}
	if duration > 0 {
		p.end = p.warmEnd.Add(duration)
	} else {
		p.end = start.Add(timeout)
	}
	return p
}

// intended is the scheduled start of slot i in open loop.
func (p *pacer) intended(i int64) time.Time {
	return p.start.Add(time.Duration(float64(i) * p.interval))
}

// take returns the next slot for a worker asking at now, its intended start
// and whether it is measured; ok is false once the load phase is over, and
// stays false.
func (p *pacer) take(now time.Time) (slot int64, intended time.Time, measured, ok bool) {
	if p.done.Load() {
		return 0, time.Time{}, false, false
	}
	if !p.open && !now.Before(p.end) {
		p.done.Store(true)
		return 0, time.Time{}, false, false
	}
	slot = p.next.Add(1) - 1
	if p.maxSlots > 0 && slot >= p.maxSlots {
		p.exhausted.Store(true)
		p.done.Store(true)
		return 0, time.Time{}, false, false
	}
	intended = now
	if p.open {
		intended = p.intended(slot)
		if !intended.Before(p.end) {
			p.done.Store(true)
			return 0, time.Time{}, false, false
		}
	}
	measured = !intended.Before(p.warmEnd)
	if measured {
		m := p.measured.Add(1)
		if p.maxMeasured > 0 && m > p.maxMeasured {
			p.measured.Add(-1)
			p.done.Store(true)
			return 0, time.Time{}, false, false
		}
	}
	return slot, intended, measured, true
}

// slots is the number of slot numbers handed out (an upper bound on the
// requests issued; used by cleanup to know which names may exist).
func (p *pacer) slots() int64 { return p.next.Load() }
