package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeProc is a Restartable whose "server" becomes ready readyAfter its
// exec, on the fake clock. Attempts started in [hangFrom, hangTo) after
// the exec are never answered (a connection the server holds); exitAfter
// > 0 makes the process exit that long after the exec.
type fakeProc struct {
	clk        *fakeClock
	readyAfter time.Duration
	hangFrom   time.Duration
	hangTo     time.Duration
	exitAfter  time.Duration
	wrongRead  bool

	execAt  time.Time
	execs   int
	kills   int
	stops   int
	done    chan struct{}
	started int // attempts started
}

func (f *fakeProc) Exec() error {
	f.execs++
	f.execAt = f.clk.Now()
	f.done = make(chan struct{})
	return nil
}

func (f *fakeProc) Done() <-chan struct{} {
	if f.exitAfter > 0 && f.clk.Now().Sub(f.execAt) >= f.exitAfter {
		select {
		case <-f.done:
		default:
			close(f.done)
		}
	}
	return f.done
}

func (f *fakeProc) Stop() error { f.stops++; return nil }
func (f *fakeProc) Kill() error { f.kills++; return nil }

// start answers at once (the fake clock does not move during an
// attempt), from the time the attempt starts.
func (f *fakeProc) start(ctx context.Context, timeout time.Duration) <-chan error {
	f.started++
	ch := make(chan error, 1)
	since := f.clk.Now().Sub(f.execAt)
	switch {
	case since >= f.hangFrom && since < f.hangTo:
		// never answered
	case since < f.readyAfter:
		ch <- errNotServing
	case f.wrongRead:
		ch <- fmt.Errorf("%w: getData: no node", ErrWrongRead)
	default:
		ch <- nil
	}
	return ch
}

func TestPollRestart(t *testing.T) {
	const ms = time.Millisecond
	tests := []struct {
		name         string
		proc         fakeProc
		interval     time.Duration
		bound        time.Duration
		wantTook     time.Duration
		wantAttempts int
		wantErr      string // substring; "" for success
		wantKills    int
	}{
		{name: "ready at once", proc: fakeProc{readyAfter: 0}, interval: 10 * ms, bound: time.Second,
			wantTook: 0, wantAttempts: 1},
		// Attempts at 0, 10, 20, 30 ms: the one at 30 is the first at or
		// after 25 ms.
		{name: "ready between ticks", proc: fakeProc{readyAfter: 25 * ms}, interval: 10 * ms, bound: time.Second,
			wantTook: 30 * ms, wantAttempts: 4},
		{name: "ready on a tick", proc: fakeProc{readyAfter: 2 * time.Second}, interval: 10 * ms, bound: time.Minute,
			wantTook: 2 * time.Second, wantAttempts: 201},
		// The attempts started in [0, 50ms) are held forever; the ones
		// after them still see the server ready at 100 ms.
		{name: "held connections do not stall", proc: fakeProc{readyAfter: 100 * ms, hangTo: 50 * ms}, interval: 10 * ms,
			bound: time.Second, wantTook: 100 * ms, wantAttempts: 11},
		{name: "never ready", proc: fakeProc{readyAfter: time.Hour}, interval: 10 * ms, bound: 100 * ms,
			wantErr: "no first read within 100ms", wantAttempts: 10, wantTook: 100 * ms, wantKills: 1},
		{name: "exits before ready", proc: fakeProc{readyAfter: time.Hour, exitAfter: 35 * ms}, interval: 10 * ms, bound: time.Second,
			wantErr: "exited before serving", wantAttempts: 5, wantTook: 40 * ms, wantKills: 1},
		{name: "wrong data ends at once", proc: fakeProc{readyAfter: 20 * ms, wrongRead: true}, interval: 10 * ms, bound: time.Second,
			wantErr: "answered wrongly", wantAttempts: 3, wantTook: 20 * ms, wantKills: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			p := tc.proc
			p.clk = clk
			took, attempts, err := pollRestart(context.Background(), clk, &p, p.start, tc.interval, 5*time.Second, tc.bound)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("err = %v, want nil", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if took != tc.wantTook || attempts != tc.wantAttempts {
				t.Errorf("took %v after %d attempts, want %v after %d", took, attempts, tc.wantTook, tc.wantAttempts)
			}
			if p.execs != 1 || p.kills != tc.wantKills {
				t.Errorf("execs %d kills %d, want 1 and %d", p.execs, p.kills, tc.wantKills)
			}
		})
	}
}

func TestPollRestartBoundsPendingAttempts(t *testing.T) {
	clk := newFakeClock()
	p := fakeProc{clk: clk, readyAfter: time.Hour, hangTo: time.Hour}
	_, attempts, err := pollRestart(context.Background(), clk, &p, p.start, 10*time.Millisecond, 5*time.Second, time.Second)
	if err == nil {
		t.Fatalf("err = nil, want a timeout")
	}
	if attempts != maxPendingAttempts || p.started != maxPendingAttempts {
		t.Errorf("%d attempts (%d started) with all held, want the bound %d", attempts, p.started, maxPendingAttempts)
	}
}

func TestPollRestartCancelled(t *testing.T) {
	clk := newFakeClock()
	p := fakeProc{clk: clk, readyAfter: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := pollRestart(ctx, clk, &p, p.start, 10*time.Millisecond, 5*time.Second, time.Minute)
	if !errors.Is(err, context.Canceled) || p.kills != 1 {
		t.Fatalf("err %v kills %d, want context.Canceled and the process killed", err, p.kills)
	}
}

func TestRecoveryResultSummarize(t *testing.T) {
	tests := []struct {
		runs             []float64
		median, min, max float64
	}{
		{[]float64{300, 100, 200}, 200, 100, 300},
		{[]float64{40, 10, 30, 20}, 25, 10, 40},
		{[]float64{7}, 7, 7, 7},
		{nil, 0, 0, 0},
	}
	for _, tc := range tests {
		r := RecoveryResult{}
		for _, ms := range tc.runs {
			r.Runs = append(r.Runs, RestartRun{TookMs: ms})
		}
		r.summarize()
		got := []float64{r.MedianMs, r.MinMs, r.MaxMs}
		if diff := cmp.Diff([]float64{tc.median, tc.min, tc.max}, got); diff != "" {
			t.Errorf("runs %v: median/min/max (-want +got):\n%s", tc.runs, diff)
		}
		// summarize must not reorder the runs themselves.
		for i, ms := range tc.runs {
			if r.Runs[i].TookMs != ms {
				t.Errorf("runs reordered: %v", r.Runs)
			}
		}
	}
}

func TestRecoveryReportRatioAndTable(t *testing.T) {
	rep := &RecoveryReport{Baseline: "zookeeper", Znodes: 2000, ValueBytes: 100, OpsPerTxn: 1000, Restarts: 3, Cores: 2, PollMs: 10}
	rep.Results = []RecoveryResult{
		{Target: "zookeeper", NodeCount: 2005, Txns: 5, LoadS: 1, LoadZnodesPerSec: 2000, DataDirBytes: 64 << 20,
			Runs: []RestartRun{{TookMs: 1000}, {TookMs: 1200, ServerLog: []string{"Snapshot loaded in 5 ms"}}, {TookMs: 800}}},
		{Target: "zabd-native", NodeCount: 2005, Txns: 5, LoadS: 0.1, LoadZnodesPerSec: 20000, DataDirBytes: 1 << 20,
			Runs: []RestartRun{{TookMs: 100}, {TookMs: 300}, {TookMs: 200}}},
		{Target: "zabd-pebble", Err: "did not start: unknown engine \"pebble\"\nlog tail"},
	}
	for i := range rep.Results {
		rep.Results[i].summarize()
	}
	if got, ok := rep.Ratio("zabd-native"); !ok || got != 0.2 {
		t.Errorf("Ratio(zabd-native) = %v, %v; want 0.2 (200/1000)", got, ok)
	}
	if _, ok := rep.Ratio("zabd-pebble"); ok {
		t.Errorf("Ratio of a failed target: ok, want not ok")
	}
	table := rep.Table()
	for _, want := range []string{
		"| zookeeper | 2005 | 5 | 64.0 MiB | 1.0 s | 2000 znodes/s | 0 | **1000 ms** | 800 | 1200 | 1000, 1200, 800 |  |",
		"| zabd-native | 2005 | 5 | 1.0 MiB | 0.1 s | 20000 znodes/s | 0 | **200 ms** | 100 | 300 | 100, 300, 200 | 0.20x |",
		"| zabd-pebble | failed: did not start: unknown engine \"pebble\" … log tail |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	var md strings.Builder
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Recovery", "restart 2: Snapshot loaded in 5 ms", "**zabd-pebble:** did not start"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
}

func TestParseSrvr(t *testing.T) {
	tests := []struct {
		in    string
		nodes int64
		zxid  string
		txns  int64
	}{
		{"Zookeeper version: 3.8.0\nLatency min/avg/max: 0/0.0/0\nZxid: 0x1e\nMode: standalone\nNode count: 20026\n", 20026, "0x1e", 30},
		{"Zxid: 0x10000001e\nMode: standalone\nNode count: 5\n", 5, "0x10000001e", 30},
		{"This ZooKeeper instance is not currently serving requests\n", -1, "", -1},
	}
	for _, tc := range tests {
		n, z, x := parseSrvr(tc.in)
		if n != tc.nodes || z != tc.zxid || x != tc.txns {
			t.Errorf("parseSrvr(%q) = %d, %q, %d; want %d, %q, %d", tc.in, n, z, x, tc.nodes, tc.zxid, tc.txns)
		}
	}
}

func TestRecoveryConfigValidate(t *testing.T) {
	ok := RecoveryConfig{}.withDefaults()
	if err := ok.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if ok.Znodes != 1_000_000 || ok.ValueBytes != 100 || ok.OpsPerTxn != 1000 {
		t.Errorf("defaults = %d znodes, %d bytes, %d per txn; want 1000000, 100, 1000", ok.Znodes, ok.ValueBytes, ok.OpsPerTxn)
	}
	bad := []RecoveryConfig{
		{Znodes: -1}, {OpsPerTxn: 20000}, {OpsPerTxn: 5000, ValueBytes: 1000}, {Root: "x"}, {Restarts: -2},
	}
	for _, rc := range bad {
		if err := rc.withDefaults().validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("validate(%+v) = %v, want ErrConfig", rc, err)
		}
	}
	if got, want := ok.leafPath(123456), "/zabrecovery/p123/n456"; got != want {
		t.Errorf("leafPath = %q, want %q", got, want)
	}
	if got, want := ok.probePath(), "/zabrecovery/p999/n999"; got != want {
		t.Errorf("probePath = %q, want %q", got, want)
	}
}

func TestSuiteMarkdownWithRecoveryAndPlot(t *testing.T) {
	rec := &RecoveryReport{Baseline: "zookeeper", Znodes: 1000, ValueBytes: 100, OpsPerTxn: 1000, Restarts: 2, Cores: 2, PollMs: 10}
	rec.Results = []RecoveryResult{
		{Target: "zookeeper", Runs: []RestartRun{{TookMs: 900}, {TookMs: 1100}}},
		{Target: "zabd-native", Runs: []RestartRun{{TookMs: 40}, {TookMs: 60}}},
	}
	for i := range rec.Results {
		rec.Results[i].summarize()
	}
	s := &SuiteResult{Targets: []string{"zookeeper"}, Baseline: "zookeeper", Repeat: 1, Recovery: rec}
	var b strings.Builder
	if err := s.WriteMarkdown(&b, MarkdownMeta{Command: "zabctl bench suite"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "## Recovery") || !strings.Contains(b.String(), "**50 ms**") {
		t.Errorf("suite report lacks the recovery section:\n%s", b.String())
	}
	path := t.TempDir() + "/r.svg"
	if err := rec.WriteRecoveryPlot(path); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(svg), "<svg") || !strings.Contains(string(svg), "zabd-native") {
		t.Errorf("recovery plot: %v, %d bytes, want an SVG naming the targets", err, len(svg))
	}
	if err := (&RecoveryReport{}).WriteRecoveryPlot(path); err == nil {
		t.Errorf("plot of an empty report: want an error")
	}
}
