package bench

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"zabd/bench/launch"
)

// LargeTreeConfig is the large-tree benchmark: each target starts empty,
// gets Znodes znodes through the client protocol, then is measured
// creating more with Sessions x InFlight outstanding while the tree is
// that large; its memory is read after. Zero fields take the defaults.
type LargeTreeConfig struct {
	Znodes     int64         `json:"znodes"`      // default 1,000,000
	ValueBytes int           `json:"value_bytes"` // default 100
	Sessions   int           `json:"sessions"`    // default 32
	InFlight   int           `json:"in_flight"`   // default 8
	Warmup     time.Duration `json:"warmup_ns"`   // of the measured creates (default 2s)
	Duration   time.Duration `json:"duration_ns"` // of the measured creates (default 10s)
	Runs       int           `json:"runs"`        // fresh loads per target, taking turns (default 1); figures are medians
	Log        io.Writer     `json:"-"`           // one line per step; nil for none
}

func (lc LargeTreeConfig) withDefaults() LargeTreeConfig {
	if lc.Znodes <= 0 {
		lc.Znodes = 1_000_000
	}
	if lc.ValueBytes <= 0 {
		lc.ValueBytes = 100
	}
	if lc.Sessions <= 0 {
		lc.Sessions = 32
	}
	if lc.InFlight <= 0 {
		lc.InFlight = 8
	}
	if lc.Warmup <= 0 {
		lc.Warmup = 2 * time.Second
	}
	if lc.Duration <= 0 {
		lc.Duration = 10 * time.Second
	}
	if lc.Runs <= 0 {
		lc.Runs = 1
	}
	return lc
}

// LargeTreeRun is one fresh load and measurement of one target.
type LargeTreeRun struct {
	LoadS         float64 `json:"load_s"`
	LoadOpsPerSec float64 `json:"load_ops_per_sec"`
	// Create is the measured creates on the large tree.
	Create Report `json:"create"`
	// RSSBytes is the server's resident memory right after the load, the
	// tree holding exactly Znodes (and what serving the load cost).
	RSSBytes int64 `json:"rss_bytes"`
	// GCPauseMaxMs is zabd's longest collector pause since its start
	// (mntr's zk_gc_pause_max_ms); -1 where the server has no such figure.
	GCPauseMaxMs float64 `json:"gc_pause_max_ms"`
}

// LargeTreeResult is one target's runs and their medians.
type LargeTreeResult struct {
	Target string         `json:"target"`
	Runs   []LargeTreeRun `json:"runs"`
	Median LargeTreeRun   `json:"median"`
	Err    string         `json:"error,omitempty"`
}

// LargeTreeReport is the large-tree benchmark's outcome.
type LargeTreeReport struct {
	Config   LargeTreeConfig   `json:"config"`
	Setup    string            `json:"setup,omitempty"` // how the targets were started (heap sizes ...)
	Baseline string            `json:"baseline"`
	Results  []LargeTreeResult `json:"results"`
	Took     time.Duration     `json:"took_ns"`
}

// RunLargeTree runs the large-tree benchmark on each target in turn, run
// by run. A target that fails keeps its error; the others go on.
func RunLargeTree(ctx context.Context, lc LargeTreeConfig, targets []Target) (*LargeTreeReport, error) {
	lc = lc.withDefaults()
	began := time.Now()
	rep := &LargeTreeReport{Config: lc}
	logf := func(format string, a ...any) {
		if lc.Log != nil {
			fmt.Fprintf(lc.Log, format+"\n", a...)
		}
	}
	rep.Results = make([]LargeTreeResult, len(targets))
	for i, t := range targets {
		rep.Results[i].Target = t.Name
	}
	for run := range lc.Runs {
		for i, t := range targets {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			r, err := largeTreeRun(ctx, lc, t, logf)
			res := &rep.Results[i]
			if err != nil {
				res.Err = err.Error()
				logf("large tree on %s (run %d/%d): %v", t.Name, run+1, lc.Runs, err)
				continue
			}
			res.Runs = append(res.Runs, r)
			logf("large tree on %-12s run %d/%d: loaded %d znodes in %.1f s; creates x%d %8.1f ops/s p99 %.1f ms p99.9 %.1f ms, server %.1f µs/op; RSS %.0f MiB; GC pause max %.2f ms",
				t.Name, run+1, lc.Runs, lc.Znodes, r.LoadS, lc.InFlight, r.Create.OpsPerSec, r.Create.P99Ms, r.Create.P999Ms,
				r.Create.ServerCPUUsPerOp, float64(r.RSSBytes)/(1<<20), r.GCPauseMaxMs)
		}
	}
	for i := range rep.Results {
		res := &rep.Results[i]
		if len(res.Runs) == 0 {
			continue
		}
		if rep.Baseline == "" {
			rep.Baseline = res.Target
		}
		res.Median = medianLargeTreeRun(res.Runs)
	}
	rep.Took = time.Since(began)
	return rep, nil
}

func largeTreeRun(ctx context.Context, lc LargeTreeConfig, t Target, logf func(string, ...any)) (LargeTreeRun, error) {
	var r LargeTreeRun
	st, err := t.Start(ctx)
	if err != nil {
		return r, fmt.Errorf("starting: %w", err)
	}
	defer func() {
		if err := st.Stop(); err != nil {
			logf("stopping %s: %v", t.Name, err)
		}
	}()
	load := Config{Servers: st.Servers, Sessions: lc.Sessions, InFlight: lc.InFlight, Ops: lc.Znodes,
		ValueBytes: lc.ValueBytes, Root: "/large", Seed: 1, Cleanup: false, Timeout: time.Hour}
	lr, err := Run(ctx, load, Create{})
	if err != nil {
		return r, fmt.Errorf("loading %d znodes: %w", lc.Znodes, err)
	}
	if lr.Succeeded < lc.Znodes || lr.Failed > 0 {
		return r, fmt.Errorf("loading %d znodes: %d created, %d failed (%v)", lc.Znodes, lr.Succeeded, lr.Failed, lr.ErrorsByCode)
	}
	r.LoadS = lr.DurationS
	r.LoadOpsPerSec = lr.OpsPerSec
	// Memory is read with the tree at exactly Znodes on every server,
	// before the measured creates grow it by what each server manages.
	if st.RSS != nil {
		if r.RSSBytes, err = st.RSS(); err != nil {
			return r, err
		}
	}
	measure := Config{Servers: st.Servers, Sessions: lc.Sessions, InFlight: lc.InFlight, Warmup: lc.Warmup, Duration: lc.Duration,
		ValueBytes: lc.ValueBytes, Root: "/measured", Seed: 2, Cleanup: false, ServerCPU: st.CPU}
	if r.Create, err = Run(ctx, measure, Create{}); err != nil {
		return r, fmt.Errorf("creates on the large tree: %w", err)
	}
	r.GCPauseMaxMs = -1
	if out, err := launch.FourLetter(st.Servers[0], "mntr", 5*time.Second); err == nil {
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "zk_gc_pause_max_ms\t"); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					r.GCPauseMaxMs = f
				}
			}
		}
	}
	return r, nil
}

// medianLargeTreeRun takes each figure's median over runs.
func medianLargeTreeRun(runs []LargeTreeRun) LargeTreeRun {
	pick := func(f func(LargeTreeRun) float64) float64 {
		vs := make([]float64, len(runs))
		for i, r := range runs {
			vs[i] = f(r)
		}
		return median(vs)
	}
	creates := make([]Report, len(runs))
	for i, r := range runs {
		creates[i] = r.Create
	}
	return LargeTreeRun{
		LoadS:         pick(func(r LargeTreeRun) float64 { return r.LoadS }),
		LoadOpsPerSec: pick(func(r LargeTreeRun) float64 { return r.LoadOpsPerSec }),
		Create:        MedianReport(creates),
		RSSBytes:      int64(pick(func(r LargeTreeRun) float64 { return float64(r.RSSBytes) })),
		GCPauseMaxMs:  pick(func(r LargeTreeRun) float64 { return r.GCPauseMaxMs }),
	}
}

// Table is the Markdown table of the medians, with each figure's ratio to
// the baseline's.
func (r *LargeTreeReport) Table() string {
	var base *LargeTreeRun
	for i := range r.Results {
		if r.Results[i].Target == r.Baseline && len(r.Results[i].Runs) > 0 {
			base = &r.Results[i].Median
		}
	}
	ratio := func(v, b float64) string {
		if base == nil || b <= 0 {
			return ""
		}
		return fmt.Sprintf(" (%.2fx)", v/b)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| target | load | creates x%d on the tree | p99 | p99.9 | server CPU/create | RSS | longest GC pause |\n", r.Config.InFlight)
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, res := range r.Results {
		if len(res.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | failed: %s | | | | | | |\n", res.Target, mdEscape(shortErr(res.Err)))
			continue
		}
		m := res.Median
		gc := "n/a"
		if m.GCPauseMaxMs >= 0 {
			gc = fmt.Sprintf("%.2f ms", m.GCPauseMaxMs)
		}
		var bm LargeTreeRun
		if base != nil {
			bm = *base
		}
		fmt.Fprintf(&b, "| %s | %.1f s | %.0f ops/s%s | %.1f ms%s | %.1f ms%s | %.1f µs%s | %.0f MiB%s | %s |\n",
			res.Target, m.LoadS,
			m.Create.OpsPerSec, ratio(m.Create.OpsPerSec, bm.Create.OpsPerSec),
			m.Create.P99Ms, ratio(m.Create.P99Ms, bm.Create.P99Ms),
			m.Create.P999Ms, ratio(m.Create.P999Ms, bm.Create.P999Ms),
			m.Create.ServerCPUUsPerOp, ratio(m.Create.ServerCPUUsPerOp, bm.Create.ServerCPUUsPerOp),
			float64(m.RSSBytes)/(1<<20), ratio(float64(m.RSSBytes), float64(bm.RSSBytes)), gc)
	}
	return b.String()
}

// WriteMarkdown writes the large-tree section of a report.
func (r *LargeTreeReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## Large tree: creates and memory with a million znodes\n\n")
	c := r.Config
	fmt.Fprintf(&b, "Each server started empty (forceSync on) and got %d znodes of %d bytes (sequential children of one parent) from %d sessions x %d in flight; "+
		"then %d sessions x %d in flight created more for %v after a %v warm-up, measured (ratios to %s). RSS is the server's resident memory "+
		"read right after the load (the tree at exactly that size on every server); the longest GC pause is zabd's own figure since its start (mntr's zk_gc_pause_max_ms, the upper bound of its histogram bucket). "+
		"%d fresh load(s) per server, servers taking turns; figures are medians. %s The benchmark took %s.\n\n",
		c.Znodes, c.ValueBytes, c.Sessions, c.InFlight, c.Sessions, c.InFlight, c.Duration, c.Warmup, r.Baseline,
		c.Runs, r.Setup, r.Took.Round(time.Second))
	b.WriteString(r.Table())
	var errs [][2]string
	for _, res := range r.Results {
		errs = append(errs, [2]string{res.Target, res.Err})
	}
	writeErrorNotes(&b, errs)
	_, err := io.WriteString(w, b.String())
	return err
}
