package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPacerOpenLoopSchedule(t *testing.T) {
	start := time.Unix(100, 0)
	// 1000/s: one slot per ms; 3ms warm-up, 5ms measured.
	p := newPacer(start, 1000, 3*time.Millisecond, 5*time.Millisecond, time.Minute, 0, 0)
	type slot struct {
		Slot     int64
		AtMs     float64
		Measured bool
	}
	var got []slot
	for range 100 { // bounded; the schedule ends after 8 slots
		s, at, m, ok := p.take(start.Add(time.Hour)) // "now" is irrelevant in open loop
		if !ok {
			break
		}
		got = append(got, slot{s, float64(at.Sub(start)) / 1e6, m})
	}
	want := []slot{{0, 0, false}, {1, 1, false}, {2, 2, false}, {3, 3, true}, {4, 4, true}, {5, 5, true}, {6, 6, true}, {7, 7, true}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("schedule (-want +got):\n%s", d)
	}
	if _, _, _, ok := p.take(start); ok {
		t.Errorf("take after the end: ok, want done for good")
	}
}

func TestPacerFractionalRateHasNoDrift(t *testing.T) {
	start := time.Unix(0, 0)
	p := newPacer(start, 3, 0, time.Hour, time.Minute, 0, 0) // 333.33ms apart
	var last time.Time
	for range 3001 {
		_, at, _, ok := p.take(start)
		if !ok {
			t.Fatalf("schedule ended early")
		}
		last = at
	}
	if got, want := last.Sub(start), 1000*time.Second; got != want {
		t.Errorf("slot 3000 at %v, want %v", got, want)
	}
}

func TestPacerBounds(t *testing.T) {
	start := time.Unix(0, 0)
	tests := []struct {
		name                    string
		rate                    float64
		warmup, duration        time.Duration
		maxMeasured, maxSlots   int64
		now                     time.Duration // closed loop: when each take asks
		wantSlots, wantMeasured int
		wantExhausted           bool
	}{
		{name: "closed, count bound", maxMeasured: 5, duration: 0, wantSlots: 5, wantMeasured: 5},
		{name: "closed, warm-up then count", warmup: time.Second, maxMeasured: 4, now: 2 * time.Second, wantSlots: 4, wantMeasured: 4},
		{name: "closed, past end", duration: time.Second, now: 2 * time.Second, wantSlots: 0},
		{name: "open, count bound before end", rate: 100, duration: time.Second, maxMeasured: 10, wantSlots: 10, wantMeasured: 10},
		{name: "open, keys run out", rate: 100, duration: time.Second, maxSlots: 7, wantSlots: 7, wantMeasured: 7, wantExhausted: true},
		{name: "open, duration bound", rate: 100, duration: 250 * time.Millisecond, wantSlots: 25, wantMeasured: 25},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPacer(start, tc.rate, tc.warmup, tc.duration, time.Minute, tc.maxMeasured, tc.maxSlots)
			var slots, measured int
			for range 10000 {
				_, _, m, ok := p.take(start.Add(tc.now))
				if !ok {
					break
				}
				slots++
				if m {
					measured++
				}
			}
			if slots != tc.wantSlots || measured != tc.wantMeasured || p.exhausted.Load() != tc.wantExhausted {
				t.Errorf("got %d slots, %d measured, exhausted %v; want %d, %d, %v",
					slots, measured, p.exhausted.Load(), tc.wantSlots, tc.wantMeasured, tc.wantExhausted)
			}
		})
	}
}

// TestWorkerOpenLoopMeasuresFromIntendedStart drives one worker with a
// fake clock: 100 req/s, every request takes 2ms except request 3, which
// stalls for 55ms. The requests scheduled during the stall start late and
// their latency includes the wait (no coordinated omission).
func TestWorkerOpenLoopMeasuresFromIntendedStart(t *testing.T) {
	clock := newFakeClock()
	p := newPacer(clock.Now(), 100, 0, 100*time.Millisecond, time.Minute, 0, 0)
	rec := newRecorder(false)
	var lats []time.Duration
	op := func(_ context.Context, slot int64) error {
		if slot == 3 {
			clock.advance(55 * time.Millisecond)
		} else {
			clock.advance(2 * time.Millisecond)
		}
		return nil
	}
	// Wrap the recorder's view: re-derive each latency from the schedule.
	runWorker(context.Background(), clock, p, rec, func(ctx context.Context, slot int64) error {
		intended := p.intended(slot)
		err := op(ctx, slot)
		lats = append(lats, clock.Now().Sub(intended))
		return err
	})
	want := []time.Duration{2, 2, 2, 55, 47, 39, 31, 23, 15, 7}
	for i := range want {
		want[i] *= time.Millisecond
	}
	// slots 4..: intended 40,50,.. ms; slot 3 ends at 85ms, so slot 4 runs
	// 85-87 (latency 47), slot 5 87-89 (39), ... until caught up.
	if d := cmp.Diff(want, lats); d != "" {
		t.Errorf("latencies (-want +got):\n%s", d)
	}
	if rec.measured.Issued != 10 || rec.measured.Succeeded != 10 {
		t.Errorf("recorded %+v, want 10 issued and succeeded", rec.measured)
	}
	if got, want := rec.max, 55*time.Millisecond; got != want {
		t.Errorf("max latency %v, want %v", got, want)
	}
	// Slots 4..9 started late (by 45, 37, 29, 21, 13, 5 ms).
	if rec.late != 6 || rec.maxLag != 45*time.Millisecond {
		t.Errorf("late %d max lag %v, want 6 and 45ms", rec.late, rec.maxLag)
	}
}

// TestWorkerClosedLoopMeasuresServiceTime: closed loop has no schedule;
// latency is the service time and the stall only delays what follows.
func TestWorkerClosedLoopMeasuresServiceTime(t *testing.T) {
	clock := newFakeClock()
	p := newPacer(clock.Now(), 0, 10*time.Millisecond, 30*time.Millisecond, time.Minute, 0, 0)
	rec := newRecorder(false)
	n := 0
	runWorker(context.Background(), clock, p, rec, func(context.Context, int64) error {
		n++
		clock.advance(4 * time.Millisecond)
		if n%3 == 0 {
			return errors.New("boom")
		}
		return nil
	})
	// Requests start at 0,4,...,36ms: 10 in all, 3 in warm-up (0,4,8).
	if rec.warm.Issued != 3 || rec.measured.Issued != 7 {
		t.Fatalf("warm %+v measured %+v, want 3 and 7 issued", rec.warm, rec.measured)
	}
	// Failures: requests 3, 6, 9 (1-based): one in warm-up, two measured.
	if rec.warm.Failed != 1 || rec.measured.Failed != 2 || rec.errs["OTHER"] != 2 {
		t.Errorf("warm %+v measured %+v errs %v", rec.warm, rec.measured, rec.errs)
	}
	if rec.max != 4*time.Millisecond || rec.hist.TotalCount() != 5 {
		t.Errorf("max %v count %d, want 4ms and 5", rec.max, rec.hist.TotalCount())
	}
}

// TestWorkerDoesNotCountUnsentRequests: a cancel during the wait for an
// intended start leaves nothing issued.
func TestWorkerDoesNotCountUnsentRequests(t *testing.T) {
	clock := newFakeClock()
	p := newPacer(clock.Now(), 10, 0, time.Second, time.Minute, 0, 0)
	rec := newRecorder(false)
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	runWorker(ctx, clock, p, rec, func(context.Context, int64) error {
		n++
		if n == 4 {
			cancel()
		}
		return nil
	})
	if rec.measured.Issued != 4 || rec.measured.Succeeded != 4 {
		t.Errorf("measured %+v, want 4 issued and succeeded", rec.measured)
	}
}
