package bench

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestPercentilesOfKnownDistribution(t *testing.T) {
	h := newHist()
	// 1..1000 ms, one each: p50 = 500ms, p90 = 900, p99 = 990, p99.9 = 999.
	for i := 1; i <= 1000; i++ {
		recordLatency(h, time.Duration(i)*time.Millisecond)
	}
	got := percentilesOf(h, 1000*time.Millisecond)
	want := Percentiles{P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000, Mean: 500.5, Count: 1000}
	// 3 significant digits: within 0.1% of the true value.
	approx := cmpopts.EquateApprox(0.001, 0)
	if d := cmp.Diff(want, got, approx); d != "" {
		t.Errorf("percentiles (-want +got):\n%s", d)
	}
}

func TestPercentilesEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		vals []time.Duration
		max  time.Duration
		want Percentiles
	}{
		{name: "empty", want: Percentiles{}},
		{name: "one value", vals: []time.Duration{3 * time.Millisecond}, max: 3 * time.Millisecond,
			want: Percentiles{P50: 3, P90: 3, P99: 3, P999: 3, Max: 3, Mean: 3, Count: 1}},
		{name: "below 1us clamps to 1us", vals: []time.Duration{0, 500 * time.Nanosecond},
			want: Percentiles{P50: 0.001, P90: 0.001, P99: 0.001, P999: 0.001, Max: 0.001, Mean: 0.001, Count: 2}},
		{name: "above 60s clamps to 60s, exact max kept", vals: []time.Duration{2 * time.Minute}, max: 2 * time.Minute,
			want: Percentiles{P50: 60000, P90: 60000, P99: 60000, P999: 60000, Max: 120000, Mean: 60000, Count: 1}},
		{name: "percentiles never exceed the exact max", vals: []time.Duration{1234567 * time.Microsecond}, max: 1234567 * time.Microsecond,
			want: Percentiles{P50: 1234.567, P90: 1234.567, P99: 1234.567, P999: 1234.567, Max: 1234.567, Mean: 1234.567, Count: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHist()
			for _, v := range tc.vals {
				recordLatency(h, v)
			}
			got := percentilesOf(h, tc.max)
			if d := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0.001, 0)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestMergeEqualsRecordingTogether: merging per-worker histograms gives
// the same figures as one histogram that saw every value.
func TestMergeEqualsRecordingTogether(t *testing.T) {
	all := newHist()
	parts := []*hdrhistogram.Histogram{newHist(), newHist(), newHist()}
	x := uint64(1)
	for i := range 30000 {
		x = splitmix64(x)
		d := time.Duration(x%5_000_000) * time.Microsecond / 100 // 0..50ms
		recordLatency(all, d)
		recordLatency(parts[i%3], d)
	}
	merged := mergeHists(parts[0], nil, parts[1], parts[2])
	if !merged.Equals(all) {
		t.Fatalf("merged histogram differs from the one that saw every value")
	}
	if d := cmp.Diff(percentilesOf(all, 0), percentilesOf(merged, 0)); d != "" {
		t.Errorf("(-together +merged):\n%s", d)
	}
}

func TestRecorderMergeSumsCounts(t *testing.T) {
	a, b := newRecorder(false), newRecorder(false)
	now := time.Unix(10, 0)
	for i, r := range []*recorder{a, b, a, a, b} {
		r.issue(true)
		var err error
		if i == 1 {
			err = zk.ErrNoNode
		}
		r.done(true, time.Duration(i+1)*time.Millisecond, 0, now.Add(time.Duration(i)*time.Second), err)
		r.issue(false)
		r.done(false, time.Millisecond, 0, now, zk.ErrNodeExists)
	}
	tot := mergeRecorders([]*recorder{a, b})
	want := counts{Issued: 5, Succeeded: 4, Failed: 1}
	if tot.measured != want || tot.warm != (counts{Issued: 5, Failed: 5}) {
		t.Errorf("measured %+v warm %+v, want %+v and 5 failed warm-ups", tot.measured, tot.warm, want)
	}
	if d := cmp.Diff(map[string]int64{"NONODE": 1}, tot.errs); d != "" {
		t.Errorf("errs (-want +got):\n%s", d)
	}
	if tot.max != 5*time.Millisecond || !tot.lastEnd.Equal(now.Add(4*time.Second)) || tot.hist.TotalCount() != 4 {
		t.Errorf("max %v lastEnd %v count %d", tot.max, tot.lastEnd, tot.hist.TotalCount())
	}
}

func TestCodeName(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{zk.ErrNoNode, "NONODE"},
		{fmt.Errorf("wrapped: %w", zk.ErrNodeExists), "NODEEXISTS"},
		{zk.ErrBadVersion, "BADVERSION"},
		{zk.ErrConnectionClosed, "CONNECTIONLOSS"},
		{zk.ErrNoServer, "CONNECTIONLOSS"},
		{zk.ErrClosing, "CLOSING"},
		{zk.ErrSessionExpired, "SESSIONEXPIRED"},
		{errors.New("unknown error: -7"), "OPERATIONTIMEOUT"},
		{errors.New("unknown error: -127"), "THROTTLEDOP"},
		{errors.New("unknown error: -999"), "CODE(-999)"},
		{ErrEventTimeout, "TIMEOUT"},
		{errors.New("something else"), "OTHER"},
	}
	for _, tc := range tests {
		if got := CodeName(tc.err); got != tc.want {
			t.Errorf("CodeName(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
