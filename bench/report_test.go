package bench

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReportJSONHasTheScriptFields(t *testing.T) {
	r := Report{Workload: "create", Seed: 9, Sessions: 32, Issued: 10, Succeeded: 9, Failed: 1, Errors: 1,
		ErrorsByCode: map[string]int64{"NONODE": 1}, OpsPerSec: 1234.5, P50Ms: 1, P99Ms: 2, P999Ms: 3, MaxMs: 4,
		DurationS: 10, GeneratorCPUPct: 12.5}
	b, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "\n") {
		t.Errorf("JSON spans lines: %s", b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"ops_per_sec": 1234.5, "p50_ms": 1.0, "p99_ms": 2.0, "p999_ms": 3.0, "max_ms": 4.0, "errors": 1.0,
		"issued": 10.0, "succeeded": 9.0, "failed": 1.0, "seed": 9.0, "workload": "create", "sessions": 32.0,
		"duration_s": 10.0, "generator_cpu_pct": 12.5,
	}
	for k, v := range want {
		if d := cmp.Diff(v, got[k]); d != "" {
			t.Errorf("field %s (-want +got):\n%s", k, d)
		}
	}
	if _, ok := got["errors_by_code"].(map[string]any); !ok {
		t.Errorf("errors_by_code missing or not an object: %v", got["errors_by_code"])
	}
}

func TestReportJSONEmptyErrorsIsObject(t *testing.T) {
	b, err := Report{}.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"errors_by_code":{}`) {
		t.Errorf("want errors_by_code {} in %s", b)
	}
}

func TestReportFlags(t *testing.T) {
	tests := []struct {
		name        string
		r           Report
		wantLimited bool
		wantNotes   int
	}{
		{name: "quiet", r: Report{GeneratorCPUPct: 40, Mode: "open", Issued: 1000, LateStarts: 10}},
		{name: "generator hot", r: Report{GeneratorCPUPct: 95, GeneratorCores: 2}, wantLimited: true, wantNotes: 1},
		{name: "open loop fell behind", r: Report{Mode: "open", Issued: 1000, LateStarts: 11}, wantNotes: 1},
		{name: "closed loop lag ignored", r: Report{Mode: "closed", Issued: 1000, LateStarts: 500}},
		{name: "steal at the bound", r: Report{StealPct: 5}},
		{name: "shared machine", r: Report{StealPct: 5.5}, wantNotes: 1},
		{name: "steal unknown", r: Report{StealPct: -1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.r
			r.flag()
			if r.GeneratorLimited != tc.wantLimited || len(r.Notes) != tc.wantNotes {
				t.Errorf("limited %v notes %q; want %v and %d notes", r.GeneratorLimited, r.Notes, tc.wantLimited, tc.wantNotes)
			}
		})
	}
}

func TestReportText(t *testing.T) {
	r := Report{Workload: "mixed", Params: "read_ratio=0.9", Servers: []string{"127.0.0.1:1"}, Sessions: 2, InFlight: 1,
		Mode: "open", TargetRate: 100, Seed: 5, Issued: 3, Succeeded: 2, Failed: 1,
		ErrorsByCode: map[string]int64{"NONODE": 1, "BADVERSION": 0}, GeneratorCPUPct: 90, GeneratorUsPerOp: 12.5, GeneratorLimited: true,
		GeneratorCores: 2, GeneratorProcs: 1,
		ServerCPU: []ServerCPU{{Name: "pid 42", UsPerOp: 20, CorePct: 80}},
		Notes:     []string{"a note"}}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mixed (read_ratio=0.9)", "open loop at 100 req/s", "seed 5",
		"3 issued, 2 succeeded, 1 failed", "p99.9", "GENERATOR-LIMITED", " BADVERSION=0 NONODE=1", "note        a note",
		"(2 cores, GOMAXPROCS 1), 12.5 µs/op", "server CPU  20 µs/op (pid 42 20), 80% of a core"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestMedianReport(t *testing.T) {
	runs := []Report{
		{OpsPerSec: 100, P99Ms: 5, Issued: 10, Succeeded: 10, ErrorsByCode: map[string]int64{}, GeneratorCPUPct: 70},
		{OpsPerSec: 300, P99Ms: 1, Issued: 10, Succeeded: 9, Failed: 1, Errors: 1, ErrorsByCode: map[string]int64{"NONODE": 1}, GeneratorCPUPct: 90, GeneratorLimited: true},
		{OpsPerSec: 200, P99Ms: 9, Issued: 10, Succeeded: 10, ErrorsByCode: map[string]int64{}, GeneratorCPUPct: 85, GeneratorLimited: true, Notes: []string{"cleanup incomplete"}},
	}
	for i := range runs {
		runs[i].flag()
	}
	m := MedianReport(runs)
	if m.OpsPerSec != 200 || m.P99Ms != 5 || m.Issued != 30 || m.Failed != 1 || m.ErrorsByCode["NONODE"] != 1 || !m.GeneratorLimited {
		t.Errorf("median report %+v", m)
	}
	// One note for the median's condition (85%), not one per run, and the
	// other note once.
	if len(m.Notes) != 2 || !strings.Contains(m.Notes[0], "85%") || m.Notes[1] != "cleanup incomplete" {
		t.Errorf("median notes %q", m.Notes)
	}
	// The rule is the median's, as for a single run: one hot run of three
	// does not flag the cell.
	runs[0].GeneratorCPUPct, runs[2].GeneratorCPUPct = 40, 50
	if m := MedianReport(runs); m.GeneratorLimited {
		t.Errorf("cell flagged with a median generator CPU of %.0f%%", m.GeneratorCPUPct)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 1..4 = %g, want 2.5", got)
	}
}

func suiteFixture() *SuiteResult {
	cell := func(point, target string, ops, p99 float64) PointResult {
		r := Report{OpsPerSec: ops, P50Ms: p99 / 4, P90Ms: p99 / 2, P99Ms: p99, P999Ms: p99 * 2, MaxMs: p99 * 3, GeneratorCPUPct: 20, StealPct: 3}
		if target == "zabd-native" {
			r.StealPct = -1 // not measured
			r.ServerCPU = []ServerCPU{{Name: "zabd.1", Role: "follower", UsPerOp: 10, CorePct: 20}, {Name: "zabd.2", Role: "leader", UsPerOp: 30, CorePct: 60}}
			r.ServerCPUUsPerOp, r.ServerCPUPct, r.OtherCPUPct = 40, 80, -1
		} else {
			r.ServerCPU = []ServerCPU{{Name: "zookeeper", Role: "standalone", UsPerOp: 80, CorePct: 90}}
			r.ServerCPUUsPerOp, r.ServerCPUPct, r.OtherCPUPct = 80, 90, 5
		}
		return PointResult{Point: point, Target: target, Runs: []Report{r}, Median: r}
	}
	return &SuiteResult{
		Started: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC), Repeat: 1,
		Targets: []string{"zookeeper", "zabd-native"}, Baseline: "zookeeper",
		NotRun: map[string]string{"zabd-pebble": "no such engine"},
		Points: []string{"create s=1", "create s=8", "get s=8"},
		Results: []PointResult{
			cell("create s=1", "zookeeper", 1000, 4), cell("create s=1", "zabd-native", 1500, 2),
			cell("create s=8", "zookeeper", 4000, 8), cell("create s=8", "zabd-native", 2000, 16),
			cell("get s=8", "zookeeper", 20000, 1), {Point: "get s=8", Target: "zabd-native", Err: "boom"},
		},
	}
}

func TestSuiteRatiosAndTable(t *testing.T) {
	s := suiteFixture()
	tests := []struct {
		point, target, figure string
		want                  float64
		ok                    bool
	}{
		{"create s=1", "zabd-native", "ops", 1.5, true},
		{"create s=1", "zabd-native", "p99", 0.5, true},
		{"create s=8", "zabd-native", "ops", 0.5, true},
		{"create s=8", "zabd-native", "cpu", 0.5, true},
		{"get s=8", "zabd-native", "ops", 0, false},
		{"nope", "zabd-native", "ops", 0, false},
	}
	for _, tc := range tests {
		got, ok := s.Ratio(tc.point, tc.target, tc.figure)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Ratio(%s, %s, %s) = %g, %v; want %g, %v", tc.point, tc.target, tc.figure, got, ok, tc.want, tc.ok)
		}
	}
	want := strings.Join([]string{
		"| point | target | ops/s | p50 | p90 | p99 | p99.9 | max | errors | gen CPU % | steal % | server CPU µs/op | per process | server CPU % | other CPU % | ops/s vs zookeeper | p99 vs zookeeper | CPU/op vs zookeeper |",
		"|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|",
		"| create s=1 | zookeeper | 1000 | 1.00 | 2.00 | 4.00 | 8.00 | 12.00 | 0 | 20 | 3 | 80 | S 80 | 90 | 5 |  |  |  |",
		"| create s=1 | zabd-native | 1500 | 0.50 | 1.00 | 2.00 | 4.00 | 6.00 | 0 | 20 | - | 40 | F 10, L 30 | 80 | - | 1.50x | 0.50x | 0.50x |",
		"| create s=8 | zookeeper | 4000 | 2.00 | 4.00 | 8.00 | 16.00 | 24.00 | 0 | 20 | 3 | 80 | S 80 | 90 | 5 |  |  |  |",
		"| create s=8 | zabd-native | 2000 | 4.00 | 8.00 | 16.00 | 32.00 | 48.00 | 0 | 20 | - | 40 | F 10, L 30 | 80 | - | 0.50x | 2.00x | 0.50x |",
		"| get s=8 | zookeeper | 20000 | 0.25 | 0.50 | 1.00 | 2.00 | 3.00 | 0 | 20 | 3 | 80 | S 80 | 90 | 5 |  |  |  |",
		"| get s=8 | zabd-native | failed | | | | | | | | | | | | | | | |",
		"",
	}, "\n")
	if d := cmp.Diff(want, s.Table()); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
}

func TestSuiteMarkdownAndPlots(t *testing.T) {
	s := suiteFixture()
	dir := t.TempDir()
	tp, lp := filepath.Join(dir, "t.svg"), filepath.Join(dir, "l.svg")
	if err := s.WriteThroughputPlot(tp, "create"); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteLatencyPlot(lp, "create s=8"); err != nil {
		t.Fatal(err)
	}
	// Three runs in one cell: its spread is drawn.
	c := &s.Results[1]
	c.Runs = append(c.Runs, c.Median, c.Median)
	c.Runs[1].OpsPerSec, c.Runs[2].OpsPerSec = 1200, 1800
	op, pp := filepath.Join(dir, "o.svg"), filepath.Join(dir, "p.svg")
	if err := s.WritePointsPlot(op, "ops"); err != nil {
		t.Fatal(err)
	}
	if err := s.WritePointsPlot(pp, "p99"); err != nil {
		t.Fatal(err)
	}
	svg := map[string]string{}
	for _, p := range []string{tp, lp, op, pp} {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "zabd-native") {
			t.Errorf("%s: not an SVG naming the targets (err %v)", p, err)
		}
		svg[p] = string(b)
	}
	// Ticks where the points are (sessions 1 and 8), none between.
	for _, want := range []string{">1</text>", ">8</text>", "median of 1, min-max"} {
		if !strings.Contains(svg[tp], want) {
			t.Errorf("throughput plot lacks %q", want)
		}
	}
	if strings.Contains(svg[tp], ">4</text>") {
		t.Errorf("throughput plot has a tick at 4 sessions, where no point is")
	}
	// Every point named on the points plots; latency ticks as plain numbers.
	for _, pt := range s.Points {
		if !strings.Contains(svg[op], ">"+pt+"</text>") || !strings.Contains(svg[pp], ">"+pt+"</text>") {
			t.Errorf("points plots lack point %q", pt)
		}
	}
	for _, want := range []string{">1</text>", ">2</text>", ">10</text>"} {
		if !strings.Contains(svg[pp], want) {
			t.Errorf("p99 plot lacks the tick label %q", want)
		}
	}
	if strings.Contains(svg[pp], "e+") || strings.Contains(svg[lp], "e+") {
		t.Errorf("latency axes labelled with exponents")
	}
	if err := s.WritePointsPlot(pp, "p50"); err == nil {
		t.Errorf("a points plot of an unknown figure: no error")
	}
	if err := s.WriteThroughputPlot(tp, "delete"); err == nil {
		t.Errorf("plot of a workload with no points: no error")
	}
	// Two noisy cells on different targets: one line for the condition.
	for _, i := range []int{0, 3} {
		r := &s.Results[i]
		r.Median.OtherCPUPct = float64(25 + i)
		r.Median.flag()
		r.Median.Notes = append(r.Median.Notes, "cleanup incomplete")
	}
	var b strings.Builder
	if err := s.WriteMarkdown(&b, MarkdownMeta{Command: "zabctl bench suite --out x", Plots: []string{"t.svg"}}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "used more than 20% of a core"); n != 1 {
		t.Errorf("the shared-machine condition is listed %d times, want once:\n%s", n, b.String())
	}
	for _, want := range []string{"- Other processes on this machine used more than 20% of a core: noisy: create s=1 on zookeeper (25%), create s=8 on zabd-native (28%).",
		"- create s=1 on zookeeper: cleanup incomplete"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
	for _, want := range []string{"2026-01-02 03:04 UTC", "```\nzabctl bench suite --out x\n```", "**zabd-pebble not run:** no such engine",
		"| create s=1 | zabd-native | 1500 |", "get s=8 on zabd-native: boom", "![t.svg](t.svg)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRunSuiteNoTargetStarts(t *testing.T) {
	boom := errors.New("boom")
	res, err := RunSuite(context.Background(), SuiteConfig{
		Targets: []Target{{Name: "x", Start: func(context.Context) (*Started, error) { return nil, boom }}},
		Points:  StandardPoints(time.Second, 0),
	})
	if err == nil || res.NotRun["x"] != "boom" {
		t.Errorf("err %v not run %v; want an error and x listed", err, res.NotRun)
	}
}

func TestStandardPointsAreBounded(t *testing.T) {
	var total time.Duration
	for _, p := range StandardPoints(3*time.Second, time.Second) {
		if p.Config.Duration <= 0 || p.Config.Seed == 0 {
			t.Errorf("%s: unbounded or unseeded: %+v", p.Label, p.Config)
		}
		total += p.Config.Duration + p.Config.Warmup
	}
	if total > 30*time.Second {
		t.Errorf("standard points take %v per target and repeat, want a short suite", total)
	}
}
