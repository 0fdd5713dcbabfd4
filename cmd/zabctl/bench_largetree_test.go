package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zabd/bench"
	"zabd/bench/launch"
	"zabd/net/zktest"
)

// TestBenchSuiteLargeTree runs a small suite with the large-tree
// benchmark on Apache ZooKeeper and zabd: both load the tree, are
// measured on it, and report their RSS; zabd reports its longest GC
// pause, ZooKeeper has none to report; the Markdown report has the
// section.
func TestBenchSuiteLargeTree(t *testing.T) {
	zktest.RequireInstalled(t, "zookeeper", launch.ZooKeeperInstalled())
	bin := zktest.BuildZabd(t)
	out := t.TempDir()
	r := zabctl(t, "", "bench", "suite", "--zabd", bin, "--out", out, "--work-dir", t.TempDir(),
		"--point-duration", "100ms", "--warmup", "50ms", "--recovery-znodes", "0",
		"--large-tree", "3000", "--large-tree-duration", "300ms", "--large-tree-zk-heap", "256m")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	js, _ := filepath.Glob(filepath.Join(out, "*.json"))
	mds, _ := filepath.Glob(filepath.Join(out, "*.md"))
	if len(js) != 1 || len(mds) != 1 {
		t.Fatalf("reports in %s: %v %v, want one JSON and one Markdown", out, js, mds)
	}
	b, err := os.ReadFile(js[0])
	if err != nil {
		t.Fatal(err)
	}
	var res bench.SuiteResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	lt := res.LargeTree
	if lt == nil || len(lt.Results) != 2 || lt.Baseline != "zookeeper" {
		t.Fatalf("large tree %+v: want zookeeper (baseline) and zabd-native", lt)
	}
	for _, c := range lt.Results {
		if len(c.Runs) != 1 {
			t.Errorf("%s: %d runs, error %q", c.Target, len(c.Runs), c.Err)
			continue
		}
		m := c.Median
		if m.LoadOpsPerSec <= 0 || m.Create.Succeeded <= 0 || m.Create.Failed != 0 || m.RSSBytes < 1<<20 {
			t.Errorf("%s: load %.0f ops/s, %d creates (%d failed), RSS %d bytes", c.Target, m.LoadOpsPerSec, m.Create.Succeeded, m.Create.Failed, m.RSSBytes)
		}
		if wantGC := c.Target != "zookeeper"; (m.GCPauseMaxMs >= 0) != wantGC {
			t.Errorf("%s: GC pause %.2f ms (zabd reports one, ZooKeeper none)", c.Target, m.GCPauseMaxMs)
		}
	}
	md, err := os.ReadFile(mds[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "## Large tree") || !strings.Contains(string(md), "| zabd-native |") || !strings.Contains(r.stdout, "RSS") {
		t.Errorf("the report lacks the large-tree section:\n%s", md)
	}
}
