package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
)

var (
	zkOnce sync.Once
	zkProc *launch.Process
	zkErr  error
)

// apacheZK starts one Apache ZooKeeper for the package's tests (stopped by
// TestMain). Not installed: skipped loudly, or fatal when CI=true.
func apacheZK(t *testing.T) string {
	t.Helper()
	zkOnce.Do(func() {
		if zkErr = launch.ZooKeeperInstalled(); zkErr != nil {
			return
		}
		dir, err := os.MkdirTemp("", "bench-zk-")
		if err != nil {
			zkErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		zkProc, zkErr = launch.StartApacheZK(ctx, launch.ZKOptions{Dir: dir})
	})
	if zkErr != nil {
		if errors.Is(zkErr, launch.ErrNotInstalled) && os.Getenv("CI") != "true" {
			t.Skipf("SKIP: Apache ZooKeeper is not installed here (%v); install Debian's zookeeper package to run this test", zkErr)
		}
		t.Fatalf("starting Apache ZooKeeper: %v", zkErr)
	}
	return zkProc.Addr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if zkProc != nil {
		_ = zkProc.Stop()
		_ = os.RemoveAll(zkProc.Dir)
	}
	os.Exit(code)
}

// checkCounts holds a report to the accounting invariant.
func checkCounts(t *testing.T, r Report) {
	t.Helper()
	if r.Issued != r.Succeeded+r.Failed {
		t.Errorf("issued %d != succeeded %d + failed %d", r.Issued, r.Succeeded, r.Failed)
	}
	var byCode int64
	for _, n := range r.ErrorsByCode {
		byCode += n
	}
	if byCode != r.Failed || r.Errors != r.Failed {
		t.Errorf("errors by code sum to %d, errors %d, failed %d", byCode, r.Errors, r.Failed)
	}
	if h := r.Histogram(); h != nil && h.TotalCount() != r.Succeeded {
		t.Errorf("histogram holds %d latencies, want one per success (%d)", h.TotalCount(), r.Succeeded)
	}
}

// checkPhases holds a run's progress calls to their order, and the last
// one to the report's figures: what a terminal shows at the end is what
// the report says.
func checkPhases(t *testing.T, got []Progress, r Report) {
	t.Helper()
	order := map[string]int{"setup": 0, "warmup": 1, "measure": 2, "drain": 3, "cleanup": 4, "done": 5}
	last := -1
	for _, p := range got {
		o, ok := order[p.Phase]
		if !ok || o < last {
			t.Fatalf("phase %q after %v", p.Phase, got)
		}
		last = o
	}
	if len(got) < 3 || got[0].Phase != "setup" || got[len(got)-2].Phase != "cleanup" || got[len(got)-1].Phase != "done" {
		t.Fatalf("phases %v: want setup first, cleanup and done last", got)
	}
	d := got[len(got)-1]
	if d.OpsPerSec != r.OpsPerSec || d.P99Ms != r.P99Ms || d.Ops != r.Succeeded || d.Errors != r.Failed {
		t.Errorf("final progress %+v, the report says %.1f ops/s, p99 %.3f ms, %d ok, %d failed", d, r.OpsPerSec, r.P99Ms, r.Succeeded, r.Failed)
	}
}

// existing reports whether path exists on the server at addr.
func existing(t *testing.T, addr, path string) bool {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ok, _, err := c.Exists(path)
	if err != nil {
		t.Fatalf("exists %s: %v", path, err)
	}
	return ok
}

// TestRunCountsAddUpAgainstZooKeeper runs each workload briefly against a
// real server and checks that no request is lost or double-counted, using
// workloads whose outcome is known exactly.
func TestRunCountsAddUpAgainstZooKeeper(t *testing.T) {
	addr := apacheZK(t)
	tests := []struct {
		name string
		w    Workload
		cfg  Config
		// wantIssued, when >0, is the exact number of measured requests.
		wantIssued int64
		wantFailed int64
	}{
		{name: "create ops-bound closed", w: Create{}, cfg: Config{Sessions: 4, InFlight: 2, Ops: 500}, wantIssued: 500},
		{name: "create keyed open", w: Create{Keyed: true}, cfg: Config{Sessions: 2, Rate: 400, Duration: 500 * time.Millisecond, Warmup: 250 * time.Millisecond},
			wantIssued: 200},
		{name: "get", w: Get{}, cfg: Config{Sessions: 3, KeySpace: 50, Ops: 300}, wantIssued: 300},
		{name: "exists", w: Exists{}, cfg: Config{Sessions: 2, KeySpace: 20, Ops: 100}, wantIssued: 100},
		{name: "set", w: Set{}, cfg: Config{Sessions: 2, KeySpace: 20, Ops: 100}, wantIssued: 100},
		{name: "mixed", w: Mixed{ReadRatio: 0.5}, cfg: Config{Sessions: 2, InFlight: 4, KeySpace: 20, Ops: 200}, wantIssued: 200},
		{name: "multi", w: Multi{OpsPerTxn: 3}, cfg: Config{Sessions: 2, KeySpace: 20, Ops: 50}, wantIssued: 50},
		// 40 keys, 60 ops wanted: the run stops when the keys run out.
		{name: "delete runs out of keys", w: Delete{}, cfg: Config{Sessions: 2, KeySpace: 40, Ops: 60}, wantIssued: 40},
		{name: "churn", w: EphemeralChurn{}, cfg: Config{Sessions: 2, Ops: 10}, wantIssued: 10},
		{name: "lock", w: LockContention{}, cfg: Config{Sessions: 3, Ops: 30}, wantIssued: 30},
		{name: "watch fan-out", w: WatchFanout{}, cfg: Config{Sessions: 3, Ops: 20}, wantIssued: 60},
	}
	type run struct {
		name   string
		client string
		idx    int
	}
	var runs []run
	for i, tc := range tests {
		runs = append(runs, run{tc.name, ClientLean, i})
		if _, ok := tc.w.(leanWorkload); ok {
			runs = append(runs, run{tc.name + " gozk", ClientGoZK, i})
		}
	}
	for n, rn := range runs {
		tc := tests[rn.idx]
		t.Run(rn.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Client = rn.client
			cfg.Servers = []string{addr}
			cfg.Seed = 42
			cfg.Cleanup = true
			cfg.Timeout = 30 * time.Second
			top := fmt.Sprintf("/counts-%d", n)
			cfg.Root = top + "/bench"
			var phases []Progress
			cfg.Progress = func(p Progress) { phases = append(phases, p) }
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Run(ctx, cfg, tc.w)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkCounts(t, r)
			checkPhases(t, phases, r)
			if _, picks := tc.w.(interface{ picksKeys() }); (r.KeySpace > 0) != picks {
				t.Errorf("report's key space %d for %s (picks existing keys: %v)", r.KeySpace, tc.w.Name(), picks)
			}
			if left := existing(t, addr, top); left {
				t.Errorf("the run left %s behind", top)
			}
			if r.Issued != tc.wantIssued {
				t.Errorf("issued %d, want %d", r.Issued, tc.wantIssued)
			}
			if r.Failed != tc.wantFailed {
				t.Errorf("failed %d (%v), want %d; notes %q", r.Failed, r.ErrorsByCode, tc.wantFailed, r.Notes)
			}
			if want := clientOf(cfg, tc.w); r.Client != want || (want == ClientLean) != (rn.client == ClientLean && isLean(tc.w)) {
				t.Errorf("report's client %q, want %q", r.Client, want)
			}
			if r.Seed != 42 || r.Workload != tc.w.Name() {
				t.Errorf("report names seed %d workload %q, want 42 %q", r.Seed, r.Workload, tc.w.Name())
			}
			if r.Succeeded > 0 && (r.OpsPerSec <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.MaxMs < r.P999Ms) {
				t.Errorf("implausible figures: %+v", r)
			}
		})
	}
}

// TestRunCountsFailuresByCode deletes keys that are not there: every
// request fails with NONODE and is counted exactly once.
func TestRunCountsFailuresByCode(t *testing.T) {
	addr := apacheZK(t)
	for _, client := range []string{ClientLean, ClientGoZK} {
		t.Run(client, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Run(ctx, Config{Servers: []string{addr}, Sessions: 2, InFlight: 2, KeySpace: 10, Ops: 100, Seed: 7, Cleanup: true, Client: client}, missingGet{})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkCounts(t, r)
			if got, want := r.ErrorsByCode, map[string]int64{"NONODE": 100}; len(got) != 1 || got["NONODE"] != want["NONODE"] {
				t.Errorf("errors by code %v, want %v", got, want)
			}
			if r.Succeeded != 0 || r.OpsPerSec != 0 {
				t.Errorf("succeeded %d ops/s %g, want 0 0", r.Succeeded, r.OpsPerSec)
			}
			if r.Client != client {
				t.Errorf("report's client %q, want %q", r.Client, client)
			}
		})
	}
}

// isLean reports whether w can run on the lean client.
func isLean(w Workload) bool {
	_, ok := w.(leanWorkload)
	return ok
}

// TestLeanAndGoZKClientsAgree drives the same open-loop load through both
// clients against one server, alternating, where neither is the limit
// (a few hundred requests a second): the same requests are issued, none
// fails, and the latency distributions agree within what a shared machine
// allows (medians of the runs of each client; the server is warmed first).
func TestLeanAndGoZKClientsAgree(t *testing.T) {
	addr := apacheZK(t)
	cfg := Config{Servers: []string{addr}, Sessions: 4, InFlight: 2, Rate: 400, Warmup: 250 * time.Millisecond,
		Duration: time.Second, KeySpace: 100, Seed: 11, Cleanup: true, Root: "/agree"}
	type fig struct{ p50, p90 []float64 }
	figs := map[string]*fig{ClientLean: {}, ClientGoZK: {}}
	for round := range 4 {
		for _, client := range []string{ClientGoZK, ClientLean} {
			c := cfg
			c.Client = client
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			r, err := Run(ctx, c, Mixed{ReadRatio: 0.5})
			cancel()
			if err != nil {
				t.Fatalf("%s: Run: %v", client, err)
			}
			checkCounts(t, r)
			if r.Client != client {
				t.Fatalf("report's client %q, want %q", r.Client, client)
			}
			// Open loop: the pacer fixes the measured requests, 400/s for 1 s.
			if r.Issued != 400 || r.Failed != 0 {
				t.Errorf("%s round %d: issued %d, failed %d (%v), want 400 and 0", client, round, r.Issued, r.Failed, r.ErrorsByCode)
			}
			if round == 0 {
				continue // the server's warm-up
			}
			figs[client].p50 = append(figs[client].p50, r.P50Ms)
			figs[client].p90 = append(figs[client].p90, r.P90Ms)
		}
	}
	median := func(xs []float64) float64 {
		ys := append([]float64(nil), xs...)
		sort.Float64s(ys)
		return ys[len(ys)/2]
	}
	for _, q := range []struct {
		name      string
		lean, go_ []float64
	}{{"p50", figs[ClientLean].p50, figs[ClientGoZK].p50}, {"p90", figs[ClientLean].p90, figs[ClientGoZK].p90}} {
		a, b := median(q.lean), median(q.go_)
		lo, hi := min(a, b), max(a, b)
		if hi-lo > 2 && hi > 4*lo {
			t.Errorf("%s latency: lean client %.3f ms, go-zookeeper %.3f ms (runs %v and %v): the clients disagree", q.name, a, b, q.lean, q.go_)
		}
		t.Logf("%s latency: lean client %.3f ms, go-zookeeper %.3f ms", q.name, a, b)
	}
}

// missingGet reads keys that were never created.
type missingGet struct{ Get }

func (missingGet) setup(context.Context, *env) error { return nil }

// TestRunDrainBoundClosesSessions: a server that stops answering must not
// hang the run; outstanding requests are failed and still counted once.
func TestRunStopsOnContextCancel(t *testing.T) {
	addr := apacheZK(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	start := time.Now()
	r, err := Run(ctx, Config{Servers: []string{addr}, Sessions: 4, InFlight: 4, Duration: time.Minute, Seed: 3, Cleanup: true}, Create{})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("Run took %v after its context was canceled", el)
	}
	checkCounts(t, r)
	if r.Issued == 0 {
		t.Errorf("no requests issued before cancel")
	}
}

// TestSuiteAgainstZooKeeper runs a two-point suite end to end on a freshly
// launched Apache ZooKeeper (forceSync on) and a target that cannot start.
func TestSuiteAgainstZooKeeper(t *testing.T) {
	apacheZK(t) // skip/fail as the other integration tests do
	dir := t.TempDir()
	c := Config{Duration: 400 * time.Millisecond, Warmup: 100 * time.Millisecond, Seed: 11}
	c1, c4 := c, c
	c1.Sessions, c4.Sessions = 1, 4
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunSuite(ctx, SuiteConfig{
		Targets: []Target{ZooKeeperTarget(dir, ""), ZabdTarget(dir, filepath.Join(dir, "no-zabd"), "native", "")},
		Points:  []Point{{Label: "create s=1", Workload: Create{}, Config: c1}, {Label: "create s=4", Workload: Create{}, Config: c4}},
		Repeat:  2,
	})
	if err != nil {
		t.Fatalf("RunSuite: %v", err)
	}
	if _, ok := res.NotRun["zabd-native"]; !ok || len(res.Targets) != 1 {
		t.Fatalf("targets %v not run %v; want zookeeper up and zabd-native not run", res.Targets, res.NotRun)
	}
	for _, r := range res.Results {
		if r.Err != "" || len(r.Runs) != 2 {
			t.Errorf("%s on %s: %d runs, err %q", r.Point, r.Target, len(r.Runs), r.Err)
			continue
		}
		for _, run := range r.Runs {
			checkCounts(t, run)
		}
		if r.Median.Issued != r.Runs[0].Issued+r.Runs[1].Issued || r.Median.OpsPerSec <= 0 {
			t.Errorf("%s: median %+v", r.Point, r.Median)
		}
	}
	if err := res.WriteThroughputPlot(filepath.Join(dir, "t.svg"), "create"); err != nil {
		t.Error(err)
	}
}
