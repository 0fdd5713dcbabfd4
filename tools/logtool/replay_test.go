package logtool

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"zabd/log"
	"zabd/tools/logread"
	"zabd/tools/logread/datadirtest"
	"zabd/tree"
)

// describe is a tree's whole state as text, for comparing trees.
func describe(t *tree.Tree) string { return t.DescribeTree() }

// Replay to every zxid of the known history, on every engine, with and
// without snapshots to start from, gives exactly the tree the txns up to
// it make; the snapshot used is the newest that ended at or before it.
func TestReplayEveryZxid(t *testing.T) {
	for _, kind := range kinds {
		for _, snaps := range [][]log.Zxid{nil, {log.MakeZxid(1, 5), log.MakeZxid(2, 2)}} {
			d, txns := historyDir(t, kind, datadirtest.Options{SnapshotsAt: snaps})
			for i := range txns {
				z := datadirtest.Zxid(txns, i)
				got, res, err := Replay(d, ReplayOptions{To: Bound{Zxid: z}})
				if err != nil {
					t.Fatalf("%s, snapshots %v: replay to %v: %v", kind, snaps, z, err)
				}
				if want := describe(datadirtest.TreeAt(txns, z)); describe(got) != want {
					t.Fatalf("%s, snapshots %v: replay to %v:\n%s\nwant\n%s", kind, snaps, z, describe(got), want)
				}
				if res.Zxid != z || res.LogLast < z {
					t.Errorf("%s: replay to %v says %+v", kind, z, res)
				}
				var wantSnap log.Zxid
				for _, s := range snaps {
					if s <= z {
						wantSnap = s
					}
				}
				if res.StartZxid != wantSnap || (wantSnap == 0) != (res.Snapshot == "") {
					t.Errorf("%s: replay to %v started from snapshot %q at %v, want the one at %v", kind, z, res.Snapshot, res.StartZxid, wantSnap)
				}
			}
		}
	}
}

// A time means the last txn stamped at or before it; a zxid with no txn
// of its own (past an epoch's end) the last txn before it; nothing the
// end of the log.
func TestReplayTargets(t *testing.T) {
	d, txns := historyDir(t, "native", datadirtest.Options{})
	last := datadirtest.Zxid(txns, len(txns)-1)
	for _, tc := range []struct {
		name string
		to   Bound
		want log.Zxid
	}{
		{"time between txns 6 and 7", Bound{Time: datadirtest.Base.Add(6500 * time.Millisecond)}, datadirtest.Zxid(txns, 6)},
		{"time of a txn", Bound{Time: datadirtest.Base.Add(3 * time.Second)}, datadirtest.Zxid(txns, 3)},
		{"time after the last txn", Bound{Time: datadirtest.Base.Add(time.Hour)}, last},
		{"zxid past epoch 1's end", Bound{Zxid: log.MakeZxid(1, 15)}, log.MakeZxid(1, 10)},
		{"the end of the log", Bound{}, last},
	} {
		got, res, err := Replay(d, ReplayOptions{To: tc.to})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Zxid != tc.want || describe(got) != describe(datadirtest.TreeAt(txns, tc.want)) {
			t.Errorf("%s: state after %v, want after %v", tc.name, res.Zxid, tc.want)
		}
	}
	if _, _, err := Replay(d, ReplayOptions{To: Bound{Zxid: log.MakeZxid(2, 50)}}); err == nil {
		t.Error("replay past the end of the log was not refused")
	}
	if _, _, err := Replay(d, ReplayOptions{To: Bound{Time: datadirtest.Base.Add(-time.Second)}}); !errors.Is(err, ErrBeforeHistory) {
		t.Errorf("a time before the first txn: %v, want ErrBeforeHistory", err)
	}
}

// A state the data dir no longer holds is refused, not guessed: the log
// purged below it and no snapshot ending at or before it.
func TestReplayPurged(t *testing.T) {
	txns := datadirtest.History()
	dir := t.TempDir()
	// Epoch 1 is gone from the log; the only snapshot is at 2/2.
	var skip = map[log.Zxid]bool{}
	for _, txn := range txns {
		if log.Zxid(txn.Zxid).Epoch() == 1 {
			skip[log.Zxid(txn.Zxid)] = true
		}
	}
	datadirtest.Write(t, dir, "native", txns, datadirtest.Options{SnapshotsAt: []log.Zxid{log.MakeZxid(2, 2)},
		PurgedBelow: log.MakeZxid(2, 1), Skip: skip})
	d, err := logread.Open(dir, logread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Replay(d, ReplayOptions{To: Bound{Zxid: log.MakeZxid(1, 5)}}); !errors.Is(err, ErrBeforeHistory) {
		t.Errorf("replay to a purged zxid: %v, want ErrBeforeHistory", err)
	}
	got, _, err := Replay(d, ReplayOptions{To: Bound{Zxid: log.MakeZxid(2, 4)}})
	if err != nil || describe(got) != describe(datadirtest.TreeAt(txns, log.MakeZxid(2, 4))) {
		t.Errorf("replay to 2/4 from the snapshot at 2/2: %v", err)
	}
}

// The replayed state written as a snapshot reads back as the same tree,
// and the text and JSON listings are byte for byte what they were.
func TestReplayOutputs(t *testing.T) {
	d, txns := historyDir(t, "native", datadirtest.Options{})
	z := log.MakeZxid(2, 3)
	got, _, err := Replay(d, ReplayOptions{To: Bound{Zxid: z}})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "past.snap")
	if _, err := WriteSnapshot(p, got); err != nil {
		t.Fatal(err)
	}
	back, m, err := logread.ReadSnapshotFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if describe(back) != describe(datadirtest.TreeAt(txns, z)) || m.StartZxid != z || m.EndZxid != z {
		t.Errorf("the snapshot written reads back as\n%s (start %v end %v)", describe(back), m.StartZxid, m.EndZxid)
	}
	if _, err := WriteSnapshot(p, got); err == nil {
		t.Error("WriteSnapshot replaced an existing file")
	}
	for _, tc := range []struct {
		name string
		o    PrintOptions
	}{{"replay_print.golden", PrintOptions{DataLimit: 3}}, {"replay_print_json.golden", PrintOptions{JSON: true}}} {
		var buf bytes.Buffer
		if err := PrintTree(&buf, got, tc.o); err != nil {
			t.Fatal(err)
		}
		golden(t, tc.name, buf.Bytes())
	}
}
