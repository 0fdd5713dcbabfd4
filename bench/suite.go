package bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"zabd/bench/launch"
)

// Target is one server under test in a suite: Start brings it up (bounded
// by ctx).
type Target struct {
	Name  string // "zookeeper", "zabd-native", "zookeeper-3", ...
	Start func(ctx context.Context) (*Started, error)
}

// Started is a target Start brought up.
type Started struct {
	// Servers are the client addresses; session i of a point uses
	// Servers[i%len(Servers)].
	Servers []string
	Stop    func() error
	// CPU, when set, is each server process's CPU time so far; the suite
	// samples it around each point's measured phase (Config.ServerCPU).
	CPU func() ([]ProcCPU, error)
	// RSS, when set, is the server processes' resident memory in bytes,
	// summed (the large-tree benchmark reads it).
	RSS func() (int64, error)
	// Ensemble is set when the target is an ensemble: the suite's failover
	// and catch-up phases act on its members.
	Ensemble *launch.Ensemble
}

// Point is one measurement of a suite: a workload at one configuration.
// Config.Servers is filled in per target.
type Point struct {
	Label    string // e.g. "create s=32"
	Workload Workload
	Config   Config
}

// pointCleanup has each run of a suite point delete the znodes it made
// (not measured), so every repeat meets the tree the first one did. The
// suite runs repeat by repeat, and left in place the creates of the
// earlier repeats (about 450k znodes per repeat on ZooKeeper, twice that
// on zabd) slowed ZooKeeper down in the fourth and fifth of five (its gets
// 36k -> 9k ops/s, creates 16k -> 0.2k, its JVM at 190% of a core), which
// made the medians measure the tree's growth. Deleting a run's creates
// takes about as long as making them did, hence the bound.
func pointCleanup(c *Config) {
	c.Cleanup = true
	c.CleanupTimeout = 5 * time.Minute
}

// StandardPoints is the `make bench` set: create at 1, 8 and 32 sessions
// (the throughput-vs-sessions curve), then get and mixed (90% reads) at 32
// sessions, each warmup + d long, closed loop, fixed seeds, 100-byte values
// (the size the storage targets are stated in). Each session keeps one
// request outstanding, except in "create s=32 x8": 32 sessions with 8
// each, as asynchronous clients do, which measures the server's peak write
// throughput rather than its round trip (the way the ZooKeeper paper's
// throughput figures were taken, with clients keeping requests
// outstanding). Every run deletes its znodes afterwards (pointCleanup).
func StandardPoints(d, warmup time.Duration) []Point {
	base := Config{Duration: d, Warmup: warmup, KeySpace: 1000, ValueBytes: 100}
	pointCleanup(&base)
	var ps []Point
	for i, s := range []int{1, 8, 32} {
		c := base
		c.Sessions, c.Seed = s, int64(101+i)
		ps = append(ps, Point{Label: fmt.Sprintf("create s=%d", s), Workload: Create{}, Config: c})
	}
	peak := base
	peak.Sessions, peak.InFlight, peak.Seed = 32, 8, 104
	ps = append(ps, Point{Label: "create s=32 x8", Workload: Create{}, Config: peak})
	g := base
	g.Sessions, g.Seed = 32, 201
	ps = append(ps, Point{Label: "get s=32", Workload: Get{}, Config: g})
	m := base
	m.Sessions, m.Seed = 32, 301
	ps = append(ps, Point{Label: "mixed r=0.9 s=32", Workload: Mixed{ReadRatio: 0.9}, Config: m})
	return ps
}

// ClusterPoints is the ensemble set (`zabctl bench suite --cluster N`):
// create, set, and mixed (90% reads) at 32 and 128 sessions, one request
// outstanding each, spread evenly over the members (session i on member
// i mod N, so writes arrive through followers as well as the leader and
// reads are served by every member), each warmup + d long, closed loop,
// fixed seeds, 100-byte values. Every run deletes its znodes afterwards
// (pointCleanup).
func ClusterPoints(d, warmup time.Duration) []Point {
	base := Config{Duration: d, Warmup: warmup, KeySpace: 1000, ValueBytes: 100}
	pointCleanup(&base)
	var ps []Point
	for i, w := range []struct {
		label string
		w     Workload
	}{{"create", Create{}}, {"set", Set{}}, {"mixed r=0.9", Mixed{ReadRatio: 0.9}}} {
		for j, sessions := range []int{32, 128} {
			c := base
			c.Sessions, c.Seed = sessions, int64(401+10*i+j)
			ps = append(ps, Point{Label: fmt.Sprintf("%s s=%d", w.label, sessions), Workload: w.w, Config: c})
		}
	}
	return ps
}

// SuiteConfig says what a suite runs.
type SuiteConfig struct {
	Targets []Target // the first one that starts is the baseline of the ratios
	Points  []Point
	Repeat  int       // runs per point and target (default 1); figures are medians
	Log     io.Writer // one line per run; nil for none
	// Prewarm, when positive, runs every point's workload in turn on each
	// target before the points, this long in all, unmeasured: a JVM's JIT
	// compiler then has compiled the hot paths before the first figure is
	// taken (on 2 cores, three ZooKeeper JVMs keep improving for a minute).
	Prewarm time.Duration
	// Failover and CatchUp, when set, run after the points on the targets
	// that are ensembles (Started.Ensemble), in that order.
	Failover *FailoverConfig
	CatchUp  *CatchUpConfig
}

// PointResult is one (point, target) cell of a suite.
type PointResult struct {
	Point  string   `json:"point"`
	Target string   `json:"target"`
	Runs   []Report `json:"runs"`
	// Median holds the per-figure medians of Runs (each figure separately).
	Median Report `json:"median"`
	Err    string `json:"error,omitempty"`
}

// SuiteResult is a whole suite, in point order then target order.
type SuiteResult struct {
	Started  time.Time         `json:"started"`
	Took     time.Duration     `json:"took_ns"`
	Repeat   int               `json:"repeat"`
	PrewarmS float64           `json:"prewarm_s,omitempty"`
	Targets  []string          `json:"targets"` // those that started, baseline first
	NotRun   map[string]string `json:"not_run,omitempty"`
	Points   []string          `json:"points"`
	Results  []PointResult     `json:"results"`
	Baseline string            `json:"baseline"`
	// Versions are the programs measured and measuring, as each names
	// itself ("zabd 3.8.4-zabd (commit 1a2b3c4, go1.26.8)"), so a report
	// says which commit its figures belong to. Set by the caller.
	Versions []string `json:"versions,omitempty"`
	// LargeTree is the large-tree benchmark run after the points, if any.
	LargeTree *LargeTreeReport `json:"large_tree,omitempty"`
	// Recovery is the restart benchmark run after the points, if any.
	Recovery *RecoveryReport `json:"recovery,omitempty"`
	// Failover and CatchUp are the ensembles' benchmarks, if any.
	Failover *FailoverReport `json:"failover,omitempty"`
	CatchUp  *CatchUpReport  `json:"catch_up,omitempty"`
}

// RunSuite starts every target, then runs every point on every target,
// repetition by repetition with the targets interleaved (so slow drift of
// a shared machine hits all of them alike), and stops the targets. A
// target that does not start is listed in NotRun; the suite goes on
// without it. It fails only when no target starts.
func RunSuite(ctx context.Context, sc SuiteConfig) (*SuiteResult, error) {
	if sc.Repeat <= 0 {
		sc.Repeat = 1
	}
	logf := func(format string, a ...any) {
		if sc.Log != nil {
			fmt.Fprintf(sc.Log, format+"\n", a...)
		}
	}
	res := &SuiteResult{Started: time.Now(), Repeat: sc.Repeat, PrewarmS: sc.Prewarm.Seconds(), NotRun: map[string]string{}}
	type live struct {
		name string
		*Started
	}
	var up []live
	for _, t := range sc.Targets {
		logf("starting %s", t.Name)
		st, err := t.Start(ctx)
		if err != nil {
			res.NotRun[t.Name] = err.Error()
			logf("%s not run: %v", t.Name, err)
			continue
		}
		defer func() {
			if err := st.Stop(); err != nil {
				logf("stopping %s: %v", t.Name, err)
			}
		}()
		up = append(up, live{t.Name, st})
		res.Targets = append(res.Targets, t.Name)
	}
	if len(up) == 0 {
		return res, fmt.Errorf("bench: suite: no target started: %v", res.NotRun)
	}
	res.Baseline = up[0].name
	if sc.Prewarm > 0 && len(sc.Points) > 0 {
		each := sc.Prewarm / time.Duration(len(sc.Points))
		for _, t := range up {
			var ops int64
			for _, p := range sc.Points {
				cfg := p.Config
				cfg.Servers, cfg.Duration, cfg.Warmup, cfg.Root = t.Servers, each, 0, "/zabprewarm"
				r, err := Run(ctx, cfg, p.Workload)
				if err != nil {
					logf("prewarm of %s, %s: %v", t.name, p.Label, err)
					continue
				}
				ops += r.Succeeded
			}
			logf("prewarm of %s: %.0f s, %d requests (not measured)", t.name, sc.Prewarm.Seconds(), ops)
		}
	}
	cells := make([][]PointResult, len(sc.Points))
	for i, p := range sc.Points {
		res.Points = append(res.Points, p.Label)
		cells[i] = make([]PointResult, len(up))
		for j, t := range up {
			cells[i][j] = PointResult{Point: p.Label, Target: t.name}
		}
	}
	for rep := range sc.Repeat {
		for i, p := range sc.Points {
			for j, t := range up {
				if ctx.Err() != nil {
					return res, ctx.Err()
				}
				cfg := p.Config
				cfg.Servers = t.Servers
				cfg.ServerCPU = t.CPU
				r, err := Run(ctx, cfg, p.Workload)
				c := &cells[i][j]
				if err != nil {
					c.Err = err.Error()
					logf("%s on %s (run %d/%d): %v", p.Label, t.name, rep+1, sc.Repeat, err)
					continue
				}
				c.Runs = append(c.Runs, r)
				logf("%-18s %-14s run %d/%d: %9.1f ops/s  p99 %7.3f ms  errors %d  generator %3.0f%%  steal %3.0f%%  other %3.0f%%  server CPU %s",
					p.Label, t.name, rep+1, sc.Repeat, r.OpsPerSec, r.P99Ms, r.Errors, r.GeneratorCPUPct, r.StealPct, r.OtherCPUPct, r.ServerCPUSummary())
			}
		}
	}
	for i := range cells {
		for j := range cells[i] {
			c := &cells[i][j]
			if len(c.Runs) > 0 {
				c.Median = MedianReport(c.Runs)
			}
			res.Results = append(res.Results, *c)
		}
	}
	var ens []EnsembleTarget
	for _, t := range up {
		if t.Ensemble != nil {
			ens = append(ens, EnsembleTarget{Name: t.name, Ensemble: t.Ensemble})
		}
	}
	if sc.Failover != nil && len(ens) > 0 {
		fc := *sc.Failover
		if fc.Log == nil {
			fc.Log = sc.Log
		}
		rep, err := RunFailover(ctx, fc, ens)
		if err != nil {
			logf("failover: %v", err)
		}
		res.Failover = rep
	}
	if sc.CatchUp != nil && len(ens) > 0 && ctx.Err() == nil {
		cc := *sc.CatchUp
		if cc.Log == nil {
			cc.Log = sc.Log
		}
		rep, err := RunCatchUp(ctx, cc, ens)
		if err != nil {
			logf("catch-up: %v", err)
		}
		res.CatchUp = rep
	}
	res.Took = time.Since(res.Started)
	return res, ctx.Err()
}

// MedianReport returns runs[0] with each figure replaced by its median over
// runs; counts are summed. GeneratorLimited and the condition notes are
// the medians' own (the rule a single run is held to), and the runs'
// other notes are kept once each.
func MedianReport(runs []Report) Report {
	m := runs[0]
	m.hist = nil
	m.Notes = nil
	fig := func(get func(Report) float64) float64 {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = get(r)
		}
		return median(v)
	}
	m.OpsPerSec = fig(func(r Report) float64 { return r.OpsPerSec })
	m.P50Ms = fig(func(r Report) float64 { return r.P50Ms })
	m.P90Ms = fig(func(r Report) float64 { return r.P90Ms })
	m.P99Ms = fig(func(r Report) float64 { return r.P99Ms })
	m.P999Ms = fig(func(r Report) float64 { return r.P999Ms })
	m.MaxMs = fig(func(r Report) float64 { return r.MaxMs })
	m.MeanMs = fig(func(r Report) float64 { return r.MeanMs })
	m.DurationS = fig(func(r Report) float64 { return r.DurationS })
	m.GeneratorCPUPct = fig(func(r Report) float64 { return r.GeneratorCPUPct })
	m.StealPct = fig(func(r Report) float64 { return r.StealPct })
	m.ServerCPUUsPerOp = fig(func(r Report) float64 { return r.ServerCPUUsPerOp })
	m.ServerCPUPct = fig(func(r Report) float64 { return r.ServerCPUPct })
	m.ServerCPU = medianServerCPU(runs)
	m.OtherCPUPct = fig(func(r Report) float64 { return r.OtherCPUPct })
	m.Issued, m.Succeeded, m.Failed, m.Errors = 0, 0, 0, 0
	m.ErrorsByCode = map[string]int64{}
	m.LateStarts = int64(fig(func(r Report) float64 { return float64(r.LateStarts) }))
	m.GeneratorLimited = false
	var other []string
	for _, r := range runs {
		m.Issued += r.Issued
		m.Succeeded += r.Succeeded
		m.Failed += r.Failed
		m.Errors += r.Errors
		for k, v := range r.ErrorsByCode {
			m.ErrorsByCode[k] += v
		}
		flagged := map[string]bool{}
		for _, c := range r.conditions() {
			flagged[c.note] = true
		}
		for _, n := range r.Notes {
			if !flagged[n] {
				other = append(other, n)
			}
		}
	}
	issued := m.Issued
	m.Issued /= int64(len(runs)) // conditions judge one run's share of late starts
	m.flag()
	m.Issued = issued
	m.Notes = append(m.Notes, dedupe(other)...)
	return m
}

// medianServerCPU is the per-process medians of runs' server CPU, when
// every run measured the same processes in the same order; else nil.
func medianServerCPU(runs []Report) []ServerCPU {
	first := runs[0].ServerCPU
	for _, r := range runs {
		if len(r.ServerCPU) != len(first) || len(first) == 0 {
			return nil
		}
		for i := range first {
			if r.ServerCPU[i].Name != first[i].Name {
				return nil
			}
		}
	}
	out := make([]ServerCPU, len(first))
	for i := range first {
		us, pct := make([]float64, len(runs)), make([]float64, len(runs))
		for j, r := range runs {
			us[j], pct[j] = r.ServerCPU[i].UsPerOp, r.ServerCPU[i].CorePct
		}
		out[i] = ServerCPU{Name: first[i].Name, Role: first[i].Role, UsPerOp: median(us), CorePct: median(pct)}
	}
	return out
}

// median of v (v is reordered); 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// cell finds the (point, target) result.
func (s *SuiteResult) cell(point, target string) (PointResult, bool) {
	for _, r := range s.Results {
		if r.Point == point && r.Target == target {
			return r, len(r.Runs) > 0
		}
	}
	return PointResult{}, false
}

// Ratio is target's figure over the baseline's at point: throughput for
// "ops", p99 latency for "p99", the servers' CPU per op for "cpu" (so >1
// means more throughput, or a slower p99, or more CPU per op). ok is false
// when either side is missing or zero.
func (s *SuiteResult) Ratio(point, target, figure string) (float64, bool) {
	a, ok1 := s.cell(point, target)
	b, ok2 := s.cell(point, s.Baseline)
	if !ok1 || !ok2 {
		return 0, false
	}
	get := func(r Report) float64 { return r.OpsPerSec }
	switch figure {
	case "p99":
		get = func(r Report) float64 { return r.P99Ms }
	case "cpu":
		get = func(r Report) float64 { return r.ServerCPUUsPerOp }
	}
	if get(b.Median) == 0 {
		return 0, false
	}
	return get(a.Median) / get(b.Median), true
}

// MarkdownMeta is what the report says about how it was made.
type MarkdownMeta struct {
	Title   string
	Command string   // the exact command line
	Host    string   // a line about the machine
	Setup   []string // lines about how the servers were set up
	Plots   []string // relative paths of plot images
}

// WriteMarkdown writes the suite's report: how it was run, the table of
// median figures with ratios to the baseline, generator CPU, notes, plots.
func (s *SuiteResult) WriteMarkdown(w io.Writer, meta MarkdownMeta) error {
	var b strings.Builder
	title := meta.Title
	if title == "" {
		title = "zabd benchmark"
	}
	fmt.Fprintf(&b, "# %s, %s\n\n", title, s.Started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Command:\n\n```\n%s\n```\n\n", meta.Command)
	if meta.Host != "" {
		fmt.Fprintf(&b, "Machine: %s.  \n", meta.Host)
	}
	if len(s.Versions) > 0 {
		fmt.Fprintf(&b, "Versions: %s.  \n", strings.Join(s.Versions, "; "))
	}
	for _, l := range meta.Setup {
		fmt.Fprintf(&b, "%s  \n", l)
	}
	fmt.Fprintf(&b, "Targets: %s; ratios are against %s. Figures are medians of %d run(s) per cell; ", strings.Join(s.Targets, ", "), s.Baseline, s.Repeat)
	b.WriteString("latency in ms from request to reply, closed loop; generator CPU is the load generator's own use in % of one core (flagged when it may have limited the figure); ")
	b.WriteString("server CPU is each server process's user+system time (/proc/PID/stat, 10 ms resolution; for ZooKeeper the JVM) from the end of warm-up until the last measured request finished, " +
		"divided by the measured successes of all sessions (so an ensemble's members add up to its cost per op), and in % of one core over that time; " +
		"other CPU is what the machine's other processes used meanwhile (/proc/stat's busy time minus the servers and the generator), the gauge of a shared machine. ")
	if s.PrewarmS > 0 {
		fmt.Fprintf(&b, "Before the points each target ran every point's workload in turn, %.0f s in all, not measured, so a JVM's JIT had compiled its hot paths. ", s.PrewarmS)
	}
	fmt.Fprintf(&b, "The suite took %s.\n\n", s.Took.Round(time.Second))
	for _, name := range sortedNames(s.NotRun) {
		fmt.Fprintf(&b, "- **%s not run:** %s (full message in the JSON)\n", name, mdEscape(shortErr(s.NotRun[name])))
	}
	if len(s.NotRun) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(s.Table())
	s.writeNotes(&b)
	if s.LargeTree != nil {
		b.WriteString("\n")
		if err := s.LargeTree.WriteMarkdown(&b); err != nil {
			return err
		}
	}
	if s.Recovery != nil {
		b.WriteString("\n")
		if err := s.Recovery.WriteMarkdown(&b); err != nil {
			return err
		}
	}
	if s.Failover != nil {
		b.WriteString("\n")
		if err := s.Failover.WriteMarkdown(&b); err != nil {
			return err
		}
	}
	if s.CatchUp != nil {
		b.WriteString("\n")
		if err := s.CatchUp.WriteMarkdown(&b); err != nil {
			return err
		}
	}
	if len(meta.Plots) > 0 {
		b.WriteString("\n")
		for _, p := range meta.Plots {
			fmt.Fprintf(&b, "![%s](%s)\n\n", p, p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Table is the Markdown table of median figures, one row per (point,
// target), with throughput, p99 and server CPU per op ratios to the
// baseline. The server CPU columns: the servers' CPU (user+system, all
// their processes) per op, each process's share with its role (L leader,
// F follower, S standalone), and their CPU in % of one core.
func (s *SuiteResult) Table() string {
	var b strings.Builder
	base := s.Baseline
	fmt.Fprintf(&b, "| point | target | ops/s | p50 | p90 | p99 | p99.9 | max | errors | gen CPU %% | steal %% | server CPU µs/op | per process | server CPU %% | other CPU %% | ops/s vs %s | p99 vs %s | CPU/op vs %s |\n", base, base, base)
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|\n")
	for _, r := range s.Results {
		if len(r.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | %s | failed | | | | | | | | | | | | | | | |\n", r.Point, r.Target)
			continue
		}
		steal := "-"
		if m := r.Median.StealPct; m >= 0 {
			steal = fmt.Sprintf("%.0f", m)
		}
		m := r.Median
		cpu := fmt.Sprintf("%.0f", m.GeneratorCPUPct)
		if m.GeneratorLimited {
			cpu += " (limit?)"
		}
		srvCPU, procs, srvPct, other := "-", "-", "-", "-"
		if m.OtherCPUPct >= 0 && m.ServerCPUUsPerOp > 0 {
			other = fmt.Sprintf("%.0f", m.OtherCPUPct)
		}
		if m.ServerCPUUsPerOp > 0 {
			srvCPU, srvPct = fmt.Sprintf("%.0f", m.ServerCPUUsPerOp), fmt.Sprintf("%.0f", m.ServerCPUPct)
			if len(m.ServerCPU) > 0 {
				procs = perProcess(m.ServerCPU)
			}
		}
		ops, p99, cpuRatio := "", "", ""
		if r.Target != base {
			if v, ok := s.Ratio(r.Point, r.Target, "ops"); ok {
				ops = fmt.Sprintf("%.2fx", v)
			}
			if v, ok := s.Ratio(r.Point, r.Target, "p99"); ok {
				p99 = fmt.Sprintf("%.2fx", v)
			}
			if v, ok := s.Ratio(r.Point, r.Target, "cpu"); ok {
				cpuRatio = fmt.Sprintf("%.2fx", v)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Point, r.Target, m.OpsPerSec, m.P50Ms, m.P90Ms, m.P99Ms, m.P999Ms, m.MaxMs, m.Errors, cpu, steal,
			srvCPU, procs, srvPct, other, ops, p99, cpuRatio)
	}
	return b.String()
}

// writeNotes lists, after the table, each condition that makes figures
// doubtful once, with the cells it holds for (judged on the medians, the
// same rule for every target), then each cell's errors and other notes.
func (s *SuiteResult) writeNotes(b *strings.Builder) {
	var lines []string
	for _, h := range conditionHeads {
		var cells []string
		for _, r := range s.Results {
			if len(r.Runs) == 0 {
				continue
			}
			for _, c := range r.Median.conditions() {
				if c.kind == h.kind {
					cells = append(cells, fmt.Sprintf("%s on %s (%s)", r.Point, r.Target, c.value))
				}
			}
		}
		if len(cells) > 0 {
			lines = append(lines, fmt.Sprintf("%s: %s.", h.head, strings.Join(cells, ", ")))
		}
	}
	for _, r := range s.Results {
		if r.Err != "" {
			lines = append(lines, fmt.Sprintf("%s on %s: %s", r.Point, r.Target, r.Err))
		}
		if len(r.Runs) == 0 {
			continue
		}
		flagged := map[string]bool{}
		for _, c := range r.Median.conditions() {
			flagged[c.note] = true
		}
		for _, n := range dedupe(r.Median.Notes) {
			if !flagged[n] {
				lines = append(lines, fmt.Sprintf("%s on %s: %s", r.Point, r.Target, n))
			}
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("\nNotes:\n\n")
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
}

func sortedNames(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
