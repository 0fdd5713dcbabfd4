package bench

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOrderedHosts(t *testing.T) {
	h := &orderedHosts{}
	if err := h.Init(nil); err == nil {
		t.Fatalf("Init(nil): want an error")
	}
	if err := h.Init([]string{"b:1", "a:1", "c:1"}); err != nil || h.Len() != 3 {
		t.Fatalf("Init: %v, Len %d", err, h.Len())
	}
	type next struct {
		server string
		retry  bool
	}
	var got []next
	for range 7 {
		s, r := h.Next()
		got = append(got, next{s, r})
	}
	// In the order given; retryStart once every server was tried without
	// a connection.
	want := []next{{"b:1", false}, {"a:1", false}, {"c:1", false}, {"b:1", true}, {"a:1", false}, {"c:1", false}, {"b:1", true}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(next{})); d != "" {
		t.Errorf("Next (-want +got):\n%s", d)
	}
	h.Connected()
	if s, r := h.Next(); s != "a:1" || r {
		t.Errorf("after Connected: Next = %s, %v; want a:1 without retry", s, r)
	}
}

func TestFailoverConfigValidate(t *testing.T) {
	if err := (FailoverConfig{}).withDefaults().validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	for name, fc := range map[string]FailoverConfig{
		"kills":  {Kills: -1},
		"rate":   {Rate: -5},
		"root":   {Root: "x/"},
		"writer": {Writers: 100000},
	} {
		if err := fc.withDefaults().validate(); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: validate = %v, want ErrConfig", name, err)
		}
	}
	if err := (CatchUpConfig{}).withDefaults().validate(); err != nil {
		t.Errorf("catch-up defaults: %v", err)
	}
	if err := (CatchUpConfig{Txns: -1}).withDefaults().validate(); !errors.Is(err, ErrConfig) {
		t.Errorf("catch-up txns -1: %v, want ErrConfig", err)
	}
}

func TestFailoverReportTable(t *testing.T) {
	zk := FailoverResult{Target: "zookeeper-x3", Runs: []FailoverRun{
		{WriteMs: 900, LeaderMs: 850, LoadWriteMs: 1100, RejoinMs: 2000},
		{WriteMs: 1300, LeaderMs: 1250, LoadWriteMs: -1, RejoinMs: 1500},
		{WriteMs: 1000, LeaderMs: 950, LoadWriteMs: 2100, RejoinMs: 1700},
	}}
	zb := FailoverResult{Target: "zabd-native-x3", Runs: []FailoverRun{{WriteMs: 150, LeaderMs: 120, LoadWriteMs: 1000, RejoinMs: 700}}}
	bad := FailoverResult{Target: "zabd-pebble-x3", Err: "kill 1: boom\nlog tail\nlast word"}
	for _, r := range []*FailoverResult{&zk, &zb, &bad} {
		r.summarize()
	}
	if zk.MedianMs != 1000 || zk.MinMs != 900 || zk.MaxMs != 1300 || zk.LeaderMedian != 950 || zk.LoadMedian != 1600 || zk.RejoinMedian != 1700 {
		t.Errorf("summary %+v", zk)
	}
	rep := &FailoverReport{Kills: 3, Writers: 8, Rate: 500, Value: 100, SettleS: 2, ProbeMs: 5, Baseline: "zookeeper-x3",
		Results: []FailoverResult{zk, zb, bad}}
	if v, ok := rep.Ratio("zabd-native-x3"); !ok || v != 0.15 {
		t.Errorf("Ratio = %g, %v; want 0.15", v, ok)
	}
	if _, ok := rep.Ratio("zabd-pebble-x3"); ok {
		t.Errorf("Ratio of a failed target: ok")
	}
	want := strings.Join([]string{
		"| target | kill → write acknowledged, median | min | max | runs (ms) | kill → new leader, all serving (median) | load's first write (median) | rejoin (median) | vs zookeeper-x3 |",
		"|---|--:|--:|--:|---|--:|--:|--:|--:|",
		"| zookeeper-x3 | **1000 ms** | 900 | 1300 | 900, 1300, 1000 | 950 ms | 1600 ms | 1700 ms |  |",
		"| zabd-native-x3 | **150 ms** | 150 | 150 | 150 | 120 ms | 1000 ms | 700 ms | 0.15x |",
		"| zabd-pebble-x3 | failed: kill 1: boom … last word | | | | | | | |",
		"",
	}, "\n")
	if d := cmp.Diff(want, rep.Table()); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"## Failover", "8 sessions write (setData of 100 bytes", "every 5 ms", "**zabd-pebble-x3:** kill 1: boom"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("markdown lacks %q:\n%s", w, b.String())
		}
	}
}

func TestCatchUpReportTable(t *testing.T) {
	zk := CatchUpResult{Target: "zookeeper-x3", Runs: []CatchUpRun{
		{Txns: 200271, LoadS: 40, UpMs: 400, ServingMs: 2000, SyncedMs: 2100, ServerLog: []string{"Getting a snapshot from leader 0x3"}},
		{Txns: 200271, LoadS: 44, UpMs: 500, ServingMs: 2900, SyncedMs: 3000},
		{Txns: 200272, LoadS: 42, UpMs: 450, ServingMs: 2400, SyncedMs: 2500},
	}}
	zb := CatchUpResult{Target: "zabd-native-x3", Runs: []CatchUpRun{{Txns: 200271, LoadS: 20, UpMs: 60, ServingMs: 900, SyncedMs: 1000}}}
	zk.summarize()
	zb.summarize()
	rep := &CatchUpReport{Txns: 200000, Runs: 3, Sessions: 32, InFlight: 4, Value: 100, PollMs: 10, Baseline: "zookeeper-x3",
		Results: []CatchUpResult{zk, zb}}
	want := strings.Join([]string{
		"| target | txns behind | load | restart → synced, median | min | max | runs (ms) | → up (median) | → serving (median) | vs zookeeper-x3 |",
		"|---|--:|--:|--:|--:|--:|---|--:|--:|--:|",
		"| zookeeper-x3 | 200271, 200272 | 42.0 s | **2500 ms** | 2100 | 3000 | 2100, 3000, 2500 | 450 ms | 2400 ms |  |",
		"| zabd-native-x3 | 200271 | 20.0 s | **1000 ms** | 1000 | 1000 | 1000 | 60 ms | 900 ms | 0.40x |",
		"",
	}, "\n")
	if d := cmp.Diff(want, rep.Table()); d != "" {
		t.Errorf("table (-want +got):\n%s", d)
	}
	var b strings.Builder
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"## Catch-up", "200000 creates of 100 bytes", "run 1: Getting a snapshot from leader 0x3"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("markdown lacks %q:\n%s", w, b.String())
		}
	}
	for id, line := range map[int]string{
		2: `time=x level=INFO msg="zab: syncing 2 (last 0x100000001) in epoch 1: DIFF after 0x100000001 (the learner has what the leader has)" myid=3`,
		1: `INFO org.apache.zookeeper.server.quorum.LearnerHandler - Synchronizing with Learner sid: 1 maxCommittedLog=0x0`,
		3: `INFO LearnerHandler - Sending DIFF zxid=0x3000013f4  for peer sid: 3`,
	} {
		if !leaderSyncLog(id).MatchString(line) {
			t.Errorf("leaderSyncLog(%d) misses %q", id, line)
		}
		if leaderSyncLog(id + 10).MatchString(line) {
			t.Errorf("leaderSyncLog(%d) matches %q", id+10, line)
		}
	}
}
