package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// runSmallRecovery measures one target on a small data set: 2000 znodes,
// 500 creates per multi (so several txns), two timed restarts, every
// step bounded.
func runSmallRecovery(t *testing.T, target RecoveryTarget) RecoveryResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var log strings.Builder
	rep, err := RunRecovery(ctx, RecoveryConfig{
		Znodes: 2000, OpsPerTxn: 500, Sessions: 4, Restarts: 2,
		LoadTimeout: time.Minute, ReadyTimeout: time.Minute, Log: &log,
	}, []RecoveryTarget{target})
	if err != nil {
		t.Fatalf("RunRecovery: %v\n%s", err, log.String())
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	res := rep.Results[0]
	if res.Err != "" {
		t.Fatalf("%s: %s\n%s", res.Target, res.Err, log.String())
	}
	t.Logf("%s:\n%s", res.Target, rep.Table())
	// 2000 leaves + 2 parents + the root, plus the server's own /zookeeper
	// nodes.
	if res.NodeCount < 2003 || res.NodeCount > 2010 {
		t.Errorf("srvr node count after the load = %d, want 2003 plus the system nodes", res.NodeCount)
	}
	// root + 1 multi of parents + 4 multis of leaves + 4 sessions.
	if res.Txns < 6 {
		t.Errorf("txns after the load = %d, want at least 6", res.Txns)
	}
	if len(res.Runs) != 2 {
		t.Fatalf("%d timed restarts, want 2", len(res.Runs))
	}
	for i, run := range res.Runs {
		if run.TookMs <= 0 || run.TookMs > 60_000 || run.Attempts < 1 {
			t.Errorf("restart %d: %.1f ms after %d attempts", i+1, run.TookMs, run.Attempts)
		}
	}
	if res.MedianMs < res.MinMs || res.MedianMs > res.MaxMs || res.LoadS <= 0 || res.DataDirBytes <= 0 {
		t.Errorf("summary: median %v min %v max %v load %vs data %d bytes", res.MedianMs, res.MinMs, res.MaxMs, res.LoadS, res.DataDirBytes)
	}
	return res
}

func wantServerLog(t *testing.T, res RecoveryResult, substr string) {
	t.Helper()
	for i, run := range res.Runs {
		if !strings.Contains(strings.Join(run.ServerLog, "\n"), substr) {
			t.Errorf("restart %d: server log lines %q lack %q", i+1, run.ServerLog, substr)
		}
	}
}

func TestRecoveryZabd(t *testing.T) {
	bin := zktest.BuildZabd(t)
	res := runSmallRecovery(t, ZabdRecoveryTarget(t.TempDir(), bin, "native"))
	wantServerLog(t, res, "msg=recovered")
}

func TestRecoveryApacheZooKeeper(t *testing.T) {
	zktest.RequireInstalled(t, "zookeeper", launch.ZooKeeperInstalled())
	res := runSmallRecovery(t, ZooKeeperRecoveryTarget(t.TempDir(), "1g"))
	wantServerLog(t, res, "Snapshot loaded in")
}

// TestRecoveryReportsEngineThatFails: an engine zabd does not accept is a
// result with an error, not a failed benchmark.
func TestRecoveryReportsEngineThatFails(t *testing.T) {
	bin := zktest.BuildZabd(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := RunRecovery(ctx, RecoveryConfig{Znodes: 10, Restarts: 1},
		[]RecoveryTarget{ZabdRecoveryTarget(t.TempDir(), bin, "no-such-engine")})
	if err != nil {
		t.Fatalf("RunRecovery: %v", err)
	}
	if r := rep.Results[0]; r.Err == "" || !strings.Contains(r.Err, "did not start") || len(r.Runs) != 0 {
		t.Fatalf("result for an unknown engine = %+v, want 'did not start' and no runs", r)
	}
}
