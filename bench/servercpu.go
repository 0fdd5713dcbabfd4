package bench

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ProcCPU is one server process's CPU time so far, as a target's CPU
// function reports it.
type ProcCPU struct {
	Name string        // e.g. "zookeeper.2", "zabd-native"
	Role string        // "leader", "follower", "standalone"; "" when unknown
	CPU  time.Duration // user+system since the process started
}

// ServerCPU is one server process's CPU use over a run's measured phase.
type ServerCPU struct {
	Name string `json:"name"`
	Role string `json:"role,omitempty"` // at the start of the measured phase
	// UsPerOp is the process's CPU time (user+system) in µs per measured
	// success (all servers' successes, so the figures of an ensemble's
	// members add up to the ensemble's cost of one operation).
	UsPerOp float64 `json:"us_per_op"`
	// CorePct is its CPU time over the phase's wall time, in % of one core.
	CorePct float64 `json:"core_pct"`
}

// cpuSampler takes the servers' CPU at the start of the measured phase
// (warm-up end) and at its end, for Run.
//
// Concurrency: the opening sample is taken on a goroutine of its own;
// stop waits for it, and result is called after stop, by the same
// goroutine.
type cpuSampler struct {
	fn     func() ([]ProcCPU, error)
	cancel context.CancelFunc
	began  chan struct{} // closed once the opening sample is taken or abandoned
	t0     time.Time
	s0, s1 []ProcCPU
	wall   time.Duration // between the samples
	err    error
	// The machine's busy CPU time and this process's own, at each sample
	// (for the share of other processes); machineOK when both were read.
	busy0, busy1, gen0, gen1 time.Duration
	machineOK                bool
}

// startCPUSampler takes the opening sample of fn once clock reaches at
// (nil fn: nothing is measured).
func startCPUSampler(ctx context.Context, clock Clock, at time.Time, fn func() ([]ProcCPU, error)) *cpuSampler {
	s := &cpuSampler{fn: fn, began: make(chan struct{})}
	if fn == nil {
		close(s.began)
		return s
	}
	ctx, s.cancel = context.WithCancel(ctx)
	go func() {
		defer close(s.began)
		if err := clock.SleepUntil(ctx, at); err != nil {
			s.err = fmt.Errorf("the measured phase never began")
			return
		}
		s.t0 = clock.Now()
		b, okB := machineBusy()
		g, okG := processCPU()
		s.busy0, s.gen0, s.machineOK = b, g, okB && okG
		s.s0, s.err = fn()
	}()
	return s
}

// stop takes the closing sample (abandoning the opening one if it was
// not taken yet).
func (s *cpuSampler) stop(clock Clock) {
	if s.fn == nil {
		return
	}
	s.cancel()
	<-s.began
	if s.err != nil {
		return
	}
	s.wall = clock.Now().Sub(s.t0)
	s.s1, s.err = s.fn()
	b, okB := machineBusy()
	g, okG := processCPU()
	s.busy1, s.gen1, s.machineOK = b, g, s.machineOK && okB && okG
}

// result is each process's use per op of ops successes; nil when not
// measured, with a note saying why when it was asked for.
func (s *cpuSampler) result(ops int64) ([]ServerCPU, string) {
	switch {
	case s.fn == nil:
		return nil, ""
	case s.err != nil:
		return nil, fmt.Sprintf("server CPU not measured: %v", s.err)
	case ops <= 0 || s.wall <= 0:
		return nil, ""
	}
	return s.perProcess(ops)
}

// otherPct is the CPU the machine spent on neither the servers nor this
// process between the samples, in % of one core; -1 when unknown.
func (s *cpuSampler) otherPct(servers []ServerCPU) float64 {
	if s.fn == nil || s.err != nil || !s.machineOK || s.wall <= 0 || len(servers) == 0 {
		return -1
	}
	_, serverPct := sumCPU(servers)
	pct := 100*(s.busy1-s.busy0-(s.gen1-s.gen0)).Seconds()/s.wall.Seconds() - serverPct
	return max(pct, 0)
}

func (s *cpuSampler) perProcess(ops int64) ([]ServerCPU, string) {
	before := map[string]ProcCPU{}
	for _, p := range s.s0 {
		before[p.Name] = p
	}
	var out []ServerCPU
	for _, p := range s.s1 {
		b, ok := before[p.Name]
		if !ok || p.CPU < b.CPU {
			return nil, fmt.Sprintf("server CPU not measured: %s was not running through the measured phase", p.Name)
		}
		d := p.CPU - b.CPU
		out = append(out, ServerCPU{Name: p.Name, Role: b.Role,
			UsPerOp: float64(d.Microseconds()) / float64(ops), CorePct: 100 * d.Seconds() / s.wall.Seconds()})
	}
	return out, ""
}

// sumCPU is the summed µs/op and % of a core of procs.
func sumCPU(procs []ServerCPU) (usPerOp, corePct float64) {
	for _, p := range procs {
		usPerOp += p.UsPerOp
		corePct += p.CorePct
	}
	return usPerOp, corePct
}

// roleLetter abbreviates a role for tables: L(eader), F(ollower),
// O(bserver), S(tandalone), ? unknown.
func roleLetter(role string) string {
	switch role {
	case "leader":
		return "L"
	case "follower":
		return "F"
	case "observer":
		return "O"
	case "standalone":
		return "S"
	}
	return "?"
}

// perProcess is "L 60, F 26, F 26": each process's µs/op with its role.
func perProcess(procs []ServerCPU) string {
	parts := make([]string, len(procs))
	for i, p := range procs {
		who := roleLetter(p.Role)
		if p.Role == "" {
			who = p.Name // a process named by the caller (zabctl bench --server-pid)
		}
		parts[i] = fmt.Sprintf("%s %.0f", who, p.UsPerOp)
	}
	return strings.Join(parts, ", ")
}

// ServerCPUSummary is a one-line account of the servers' CPU per op, or
// "-" when it was not measured.
func (r Report) ServerCPUSummary() string {
	if len(r.ServerCPU) == 0 {
		return "-"
	}
	us, pct := sumCPU(r.ServerCPU)
	return fmt.Sprintf("%.0f µs/op (%s), %.0f%% of a core", us, perProcess(r.ServerCPU), pct)
}
