package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zabd/bench"
	"zabd/net/zktest"
)

// TestBenchSuiteCluster is the smoke test of the cluster bench path:
// `zabctl bench suite --cluster 3` on a zabd ensemble alone, every phase
// cut to a token size (short points, no prewarm, one leader kill, one
// catch-up of 300 txns), checking the report's sections and the JSON.
func TestBenchSuiteCluster(t *testing.T) {
	bin := zktest.BuildZabd(t)
	out := t.TempDir()
	r := zabctl(t, "", "bench", "suite", "--cluster", "3", "--zabd", bin, "--no-zookeeper", "--out", out, "--work-dir", t.TempDir(),
		"--point-duration", "200ms", "--warmup", "100ms", "--prewarm", "0", "--failover-kills", "1", "--failover-rate", "100", "--failover-settle", "300ms",
		"--catchup-txns", "300", "--catchup-runs", "1")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	js, _ := filepath.Glob(filepath.Join(out, "*.json"))
	if len(js) != 1 {
		t.Fatalf("JSON reports in %s: %v, want one", out, js)
	}
	b, err := os.ReadFile(js[0])
	if err != nil {
		t.Fatal(err)
	}
	var res bench.SuiteResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Versions) != 2 || !strings.HasPrefix(res.Versions[0], "zabd 3.8.4-zabd (commit ") || !strings.HasPrefix(res.Versions[1], "zabctl ") {
		t.Errorf("versions %q: want the measured zabd's --version and zabctl's", res.Versions)
	}
	if len(res.Targets) != 1 || res.Targets[0] != "zabd-native-x3" || len(res.Results) != 6 {
		t.Fatalf("targets %v, %d results; want zabd-native-x3 with the 6 cluster points", res.Targets, len(res.Results))
	}
	for _, c := range res.Results {
		if len(c.Runs) != 1 || c.Median.OpsPerSec <= 0 {
			t.Errorf("%s: %d runs, %v ops/s, error %q", c.Point, len(c.Runs), c.Median.OpsPerSec, c.Err)
			continue
		}
		// Three processes measured, one of them leading; 10 ms of CPU
		// resolution may leave a short point's figure at 0.
		var leaders int
		for _, p := range c.Median.ServerCPU {
			if p.Role == "leader" {
				leaders++
			}
		}
		if len(c.Median.ServerCPU) != 3 || leaders != 1 {
			t.Errorf("%s: server CPU %+v, want 3 members, one leader", c.Point, c.Median.ServerCPU)
		}
	}
	if f := res.Failover; f == nil || len(f.Results) != 1 || len(f.Results[0].Runs) != 1 || f.Results[0].MedianMs <= 0 {
		t.Errorf("failover: %+v\n%s", f, r.stderr)
	} else if run := f.Results[0].Runs[0]; run.NewLeader == run.Killed || run.NewLeader == 0 {
		t.Errorf("failover run %+v: want a new leader", run)
	}
	if c := res.CatchUp; c == nil || len(c.Results) != 1 || len(c.Results[0].Runs) != 1 || c.Results[0].MedianMs <= 0 {
		t.Errorf("catch-up: %+v\n%s", c, r.stderr)
	} else if run := c.Results[0].Runs[0]; run.Txns < 300 || run.ServingMs > run.SyncedMs {
		t.Errorf("catch-up run %+v: want >= 300 txns behind, serving no later than synced", run)
	}
	md, _ := filepath.Glob(filepath.Join(out, "*.md"))
	if len(md) != 1 {
		t.Fatalf("markdown reports: %v", md)
	}
	mb, _ := os.ReadFile(md[0])
	for _, want := range []string{"3-member ensembles", "tickTime 200 ms", "| create s=128 | zabd-native-x3 |", "## Failover", "## Catch-up"} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("markdown lacks %q:\n%s", want, mb)
		}
	}
}
