package datadir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
	"zabd/snapshot"
	"zabd/tree"
)

func memDir(t *testing.T) (*vfs.MemFS, Dir) {
	t.Helper()
	mem := vfs.NewMem()
	if err := mem.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := vfs.SyncDir(mem, "/"); err != nil {
		t.Fatal(err)
	}
	return mem, Open(mem, "/data")
}

func TestNextEpochNeverReuses(t *testing.T) {
	_, d := memDir(t)
	for i, tc := range []struct {
		last log.Zxid
		want uint32
	}{
		{0, 1},                  // fresh
		{log.MakeZxid(1, 9), 2}, // the log's epoch wins
		{log.MakeZxid(1, 9), 3}, // the log was cut back (a repair): the recorded 2 wins
		{log.MakeZxid(7, 1), 8}, // a snapshot or log from a later epoch
		{0, 9},                  // an emptied log still never goes back
	} {
		got, err := d.NextEpoch(tc.last)
		if err != nil || got != tc.want {
			t.Fatalf("start %d (last %s): epoch %d, %v; want %d", i, tc.last, got, err, tc.want)
		}
	}
	if e, err := d.CurrentEpoch(); e != 9 || err != nil {
		t.Fatalf("CurrentEpoch = %d, %v; want 9", e, err)
	}
}

type purgeFunc func(log.Zxid) error

func (f purgeFunc) PurgeBefore(z log.Zxid) error { return f(z) }

func TestPurgeRecorderAndCoverage(t *testing.T) {
	_, d := memDir(t)
	var purged []log.Zxid
	p := d.PurgeRecorder(purgeFunc(func(z log.Zxid) error { purged = append(purged, z); return nil }))
	if err := d.CheckLogCovers(0); err != nil {
		t.Fatalf("nothing purged yet: %v", err)
	}
	if err := p.PurgeBefore(log.MakeZxid(1, 101)); err != nil {
		t.Fatal(err)
	}
	if err := p.PurgeBefore(log.MakeZxid(1, 50)); err != nil { // never moves back
		t.Fatal(err)
	}
	if got, _ := d.PurgedBelow(); got != log.MakeZxid(1, 101) || len(purged) != 2 {
		t.Fatalf("marker %v, purges %v", got, purged)
	}
	if err := d.CheckLogCovers(log.MakeZxid(1, 100)); err != nil {
		t.Fatalf("snapshot at the purge point: %v", err)
	}
	if err := d.CheckLogCovers(log.MakeZxid(1, 50)); !errors.Is(err, ErrLogHole) {
		t.Fatalf("snapshot older than the purge point: %v, want ErrLogHole", err)
	}
	if err := d.CheckLogCovers(0); !errors.Is(err, ErrLogHole) {
		t.Fatal("no snapshot after a purge: want a refusal")
	}
}

func TestUnreadableMarker(t *testing.T) {
	mem, d := memDir(t)
	if err := vfs.WriteFile(mem, "/data/"+CurrentEpochFile, []byte("seven\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.NextEpoch(0); err == nil {
		t.Fatal("NextEpoch over a garbled currentEpoch: want an error, not a guess")
	}
}

// crashPoints are the operations a marker update makes, each failed at its
// first and second occurrence.
var crashPoints = func() []errorfs.Rule {
	var rs []errorfs.Rule
	for _, op := range []errorfs.Op{errorfs.OpRemove, errorfs.OpCreate, errorfs.OpWrite, errorfs.OpSync, errorfs.OpRename, errorfs.OpOpenDir} {
		for nth := 1; nth <= 2; nth++ {
			rs = append(rs, errorfs.Rule{Op: op, Nth: nth})
			if op == errorfs.OpWrite {
				rs = append(rs, errorfs.Rule{Op: op, Nth: nth, Torn: true, TornAt: 1})
			}
		}
	}
	return rs
}()

// A crash at any point of NextEpoch leaves the old epoch or the new one,
// never a torn file; the new one whenever NextEpoch returned it; and the
// next start after the crash never takes an epoch handed out before.
func TestNextEpochCrashSafe(t *testing.T) {
	for _, r := range crashPoints {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%v#%d torn=%v seed=%d", r.Op, r.Nth, r.Torn, seed), func(t *testing.T) {
				mem, d := memDir(t)
				if _, err := d.NextEpoch(log.MakeZxid(4, 1)); err != nil { // 5, durable
					t.Fatal(err)
				}
				faulty := Open(errorfs.Wrap(mem, r), "/data")
				got, err := faulty.NextEpoch(0)
				crashed := Open(mem.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed}), "/data")
				e, rerr := crashed.CurrentEpoch()
				if rerr != nil {
					t.Fatalf("after a crash: %v", rerr)
				}
				if e != 5 && e != 6 {
					t.Fatalf("after a crash the recorded epoch is %d, want 5 or 6", e)
				}
				if err == nil && (got != 6 || e != 6) {
					t.Fatalf("NextEpoch returned %d, nil but after a crash %d is recorded", got, e)
				}
				next, err := crashed.NextEpoch(0)
				if err != nil {
					t.Fatal(err)
				}
				if next <= 5 || (err == nil && got == 6 && next <= 6) {
					t.Fatalf("after the crash the next epoch is %d: reuses one handed out", next)
				}
			})
		}
	}
}

// The purge marker is durable before the log is purged: a crash at the
// moment the purge begins finds it.
func TestPurgeMarkerDurableBeforePurge(t *testing.T) {
	mem, d := memDir(t)
	var atPurge log.Zxid
	p := d.PurgeRecorder(purgeFunc(func(z log.Zxid) error {
		crashed := Open(mem.CrashClone(vfs.CrashOptions{}), "/data")
		var err error
		atPurge, err = crashed.PurgedBelow()
		return err
	}))
	if err := p.PurgeBefore(log.MakeZxid(2, 7)); err != nil {
		t.Fatal(err)
	}
	if atPurge != log.MakeZxid(2, 7) {
		t.Fatalf("a crash as the purge began finds the marker at %v, want %v", atPurge, log.MakeZxid(2, 7))
	}
	// A marker update that fails does not purge.
	for _, r := range crashPoints {
		_, d := memDir(t)
		called := false
		p := Open(errorfs.Wrap(d.FS, r), "/data").PurgeRecorder(purgeFunc(func(log.Zxid) error { called = true; return nil }))
		if err := p.PurgeBefore(9); err != nil && called {
			t.Fatalf("%v#%d: the marker failed (%v) but the log was purged", r.Op, r.Nth, err)
		}
	}
}

// Recover restores the newest usable snapshot and replays the log after
// it, and refuses a log purged past the snapshot.
func TestRecover(t *testing.T) {
	ctx := context.Background()
	mem, d := memDir(t)
	recs, live := logOf(t, 100)
	eng := engine.NewMemory()
	if err := eng.Append(ctx, recs); err != nil {
		t.Fatal(err)
	}
	snaps, err := engine.OpenSnapshotStore(mem, "/data/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	rec, err := d.Recover(eng, snaps, tree.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Replayed != 100 || rec.Last != recs[99].Zxid || rec.Snapshot.Path != "" {
		t.Fatalf("no snapshot: replayed %d, last %v, snapshot %q", rec.Replayed, rec.Last, rec.Snapshot.Path)
	}
	if diff := cmp.Diff(live.DescribeTree(), rec.Tree.DescribeTree()); diff != "" {
		t.Fatalf("recovered tree (-live +recovered):\n%s", diff)
	}

	// A snapshot at zxid 60, then the log purged below 61.
	at60 := tree.New(tree.Config{})
	if _, err := Replay(at60, &sliceIter{recs: recs[:60]}); err != nil {
		t.Fatal(err)
	}
	if _, err := snaps.Save(func(w io.Writer) (log.Zxid, error) {
		m, err := snapshot.Write(w, snapshot.Still(at60), snapshot.Options{})
		return m.StartZxid, err
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.PurgeRecorder(eng).PurgeBefore(recs[60].Zxid); err != nil {
		t.Fatal(err)
	}
	rec, err = d.Recover(eng, snaps, tree.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Replayed != 40 || rec.Meta.StartZxid != recs[59].Zxid {
		t.Fatalf("from the snapshot: replayed %d from %v, want 40 from %v", rec.Replayed, rec.Meta.StartZxid, recs[59].Zxid)
	}
	if diff := cmp.Diff(live.DescribeTree(), rec.Tree.DescribeTree()); diff != "" {
		t.Fatalf("recovered tree (-live +recovered):\n%s", diff)
	}
	// Without the snapshot the purged log has a hole: refused.
	infos, _ := snaps.List()
	if err := mem.Remove(infos[0].Path); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Recover(eng, snaps, tree.Config{}, nil); !errors.Is(err, ErrLogHole) {
		t.Fatalf("recover with the snapshot gone: %v, want ErrLogHole", err)
	}
}

// A full disk fails NextEpoch with ENOSPC, saying what it asked for and
// what was free, leaves no .tmp behind and the recorded epoch as it was;
// with room again the same epoch is chosen.
func TestNextEpochOnAFullDisk(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem())
	if err := efs.MkdirAll("/data", 0o755); err != nil {
		t.Fatal(err)
	}
	d := Open(efs, "/data")
	if _, err := d.NextEpoch(0); err != nil {
		t.Fatal(err)
	}
	efs.SetFree(0)
	_, err := d.NextEpoch(0)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("NextEpoch on a full disk: %v, want ENOSPC", err)
	}
	if want := "datadir: writing /data/currentEpoch.tmp: asked 2 B, 0 B free on /data: "; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to begin %q", err, want)
	}
	if names, _ := efs.List("/data"); slices.Contains(names, "currentEpoch.tmp") {
		t.Errorf("left currentEpoch.tmp behind: %v", names)
	}
	efs.SetFree(-1)
	if e, err := d.NextEpoch(0); e != 2 || err != nil {
		t.Errorf("NextEpoch with room again = %d, %v; want 2", e, err)
	}
}
