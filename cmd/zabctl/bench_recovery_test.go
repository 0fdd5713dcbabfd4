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

// TestBenchRecoveryCommand runs `zabctl bench recovery` on a tiny data set
// against zabd alone and checks the JSON line and the written report.
func TestBenchRecoveryCommand(t *testing.T) {
	bin := zktest.BuildZabd(t)
	out := t.TempDir()
	r := zabctl(t, "", "bench", "recovery", "--zabd", bin, "--no-zookeeper", "--znodes", "300", "--ops-per-txn", "100",
		"--restarts", "2", "--work-dir", t.TempDir(), "--out", out, "--json", "--ready-timeout", "1m", "--load-timeout", "1m")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var rep bench.RecoveryReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last stdout line is not the JSON report: %v\n%s", err, r.stdout)
	}
	if len(rep.Results) != 1 || rep.Results[0].Target != "zabd-native" || len(rep.Results[0].Runs) != 2 || rep.Results[0].MedianMs <= 0 {
		t.Fatalf("report = %+v, want zabd-native with 2 timed restarts", rep)
	}
	md, _ := filepath.Glob(filepath.Join(out, "*-recovery.md"))
	if len(md) != 1 {
		t.Fatalf("report files in %s: %v, want one -recovery.md", out, md)
	}
	b, err := os.ReadFile(md[0])
	if err != nil || !strings.Contains(string(b), "| zabd-native | ") {
		t.Errorf("markdown report: %v\n%s", err, b)
	}
}

func TestBenchRecoveryNoTargets(t *testing.T) {
	r := zabctl(t, "", "bench", "recovery", "--no-zookeeper")
	if r.code != exitUsage || !strings.Contains(r.stderr, "no targets") {
		t.Fatalf("exit %d stderr %q, want usage error naming no targets", r.code, r.stderr)
	}
}
