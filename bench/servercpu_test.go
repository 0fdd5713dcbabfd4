package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeCPU hands out successive samples.
type fakeCPU struct {
	samples [][]ProcCPU
	err     error
	calls   int
}

func (f *fakeCPU) fn() ([]ProcCPU, error) {
	if f.err != nil {
		return nil, f.err
	}
	s := f.samples[min(f.calls, len(f.samples)-1)]
	f.calls++
	return s, nil
}

func TestCPUSampler(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name     string
		samples  [][]ProcCPU
		err      error
		ops      int64
		skipOpen bool // the run ends before the measured phase
		want     []ServerCPU
		wantNote string
	}{
		{name: "ensemble", ops: 1000, samples: [][]ProcCPU{
			{{"zabd.1", "follower", 100 * ms}, {"zabd.2", "leader", 200 * ms}},
			{{"zabd.1", "", 130 * ms}, {"zabd.2", "", 300 * ms}},
		}, want: []ServerCPU{
			{Name: "zabd.1", Role: "follower", UsPerOp: 30, CorePct: 3},
			{Name: "zabd.2", Role: "leader", UsPerOp: 100, CorePct: 10},
		}},
		{name: "restarted process", ops: 10, samples: [][]ProcCPU{
			{{"zabd.1", "leader", 500 * ms}}, {{"zabd.1", "leader", 10 * ms}},
		}, wantNote: "zabd.1 was not running through the measured phase"},
		{name: "no successes", ops: 0, samples: [][]ProcCPU{{{"zk", "standalone", 0}}, {{"zk", "standalone", ms}}}},
		{name: "cannot read", ops: 10, err: errors.New("no /proc"), wantNote: "server CPU not measured: no /proc"},
		{name: "never began", ops: 10, skipOpen: true, samples: [][]ProcCPU{{{"zk", "", 0}}},
			wantNote: "the measured phase never began"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The fake clock's SleepUntil jumps to the warm-up's end at
			// once; a cancelled context stands for a run that ended first.
			clk := newFakeClock()
			f := &fakeCPU{samples: tc.samples, err: tc.err}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.skipOpen {
				cancel()
			}
			defer cancel()
			s := startCPUSampler(ctx, clk, clk.Now().Add(time.Second), f.fn)
			<-s.began
			clk.advance(time.Second)
			s.stop(clk)
			got, note := s.result(tc.ops)
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("result (-want +got):\n%s", d)
			}
			if !strings.Contains(note, tc.wantNote) || (tc.wantNote == "" && note != "") {
				t.Errorf("note %q, want %q", note, tc.wantNote)
			}
		})
	}
	if got, _ := (&cpuSampler{}).result(10); got != nil {
		t.Errorf("unasked sampler measured %v", got)
	}
}

func TestMedianServerCPU(t *testing.T) {
	run := func(us ...float64) Report {
		r := Report{}
		for i, u := range us {
			r.ServerCPU = append(r.ServerCPU, ServerCPU{Name: string(rune('a' + i)), Role: "follower", UsPerOp: u, CorePct: 2 * u})
			r.ServerCPUUsPerOp += u
		}
		return r
	}
	m := MedianReport([]Report{run(1, 10), run(3, 30), run(2, 20)})
	want := []ServerCPU{{Name: "a", Role: "follower", UsPerOp: 2, CorePct: 4}, {Name: "b", Role: "follower", UsPerOp: 20, CorePct: 40}}
	if d := cmp.Diff(want, m.ServerCPU); d != "" || m.ServerCPUUsPerOp != 22 {
		t.Errorf("medians (-want +got):\n%s; total %g, want 22", d, m.ServerCPUUsPerOp)
	}
	if got := medianServerCPU([]Report{run(1, 10), run(3)}); got != nil {
		t.Errorf("runs measuring different processes: %v, want nil", got)
	}
	if got := run(60, 26).ServerCPUSummary(); got != "86 µs/op (F 60, F 26), 172% of a core" {
		t.Errorf("summary %q", got)
	}
	if got := (Report{}).ServerCPUSummary(); got != "-" {
		t.Errorf("summary of an unmeasured run %q", got)
	}
}
