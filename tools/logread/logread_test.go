package logread

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/engine/badger"
	"zabd/engine/datadir"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/tools/logread/datadirtest"
)

func readAll(t *testing.T, d *DataDir, from log.Zxid) ([]log.Zxid, Summary, error) {
	t.Helper()
	var got []log.Zxid
	sum, err := d.Records(from, func(r Record) error {
		got = append(got, r.Zxid)
		return nil
	})
	return got, sum, err
}

// TestOpenFindsTheEngine: the ENGINE marker, a dir from before it (the
// one engine subdirectory), --engine over both, and the refusals; Open
// creates nothing.
func TestOpenFindsTheEngine(t *testing.T) {
	txns := datadirtest.History()
	for _, kind := range []string{"native", "pebble", "badger"} {
		dir := t.TempDir()
		datadirtest.Write(t, dir, kind, txns, datadirtest.Options{})
		before := enginetest.DirState(t, dir)
		d, err := Open(dir, Options{})
		if err != nil || d.Engine != kind {
			t.Fatalf("%s: Open: %v, %v", kind, d, err)
		}
		os.Remove(filepath.Join(dir, engine.MarkerFile))
		if d, err := Open(dir, Options{}); err != nil || d.Engine != kind {
			t.Errorf("%s without ENGINE: %v, %v", kind, d, err)
		}
		got, sum, err := readAll(t, d, 0)
		if err != nil || len(got) != len(txns) || sum.First != datadirtest.Zxid(txns, 0) || sum.Last != datadirtest.Zxid(txns, len(txns)-1) {
			t.Errorf("%s: read %d records %v, %v", kind, len(got), sum, err)
		}
		delete(before, engine.MarkerFile)
		if d := cmp.Diff(before, enginetest.DirState(t, dir)); d != "" {
			t.Errorf("%s: the data dir changed (-before +after):\n%s", kind, d)
		}
	}
	empty := t.TempDir()
	if _, err := Open(empty, Options{}); !errors.Is(err, ErrNotDataDir) {
		t.Errorf("empty dir: %v, want ErrNotDataDir", err)
	}
	if _, err := Open(filepath.Join(empty, "none"), Options{}); err == nil {
		t.Error("missing dir opened")
	}
	if _, err := Open(empty, Options{Engine: "rocks"}); err == nil || !strings.Contains(err.Error(), "unknown engine") {
		t.Errorf("unknown engine: %v", err)
	}
	if names, _ := os.ReadDir(empty); len(names) != 0 {
		t.Errorf("Open created %v", names)
	}
}

// TestLive: a held data dir is seen as live with its holder; badger's
// store held by its engine is refused with ErrBadgerLive at once (no
// retries), and the store is untouched.
func TestLive(t *testing.T) {
	dir := t.TempDir()
	datadirtest.Write(t, dir, "badger", datadirtest.History(), datadirtest.Options{})
	l, err := datadir.Acquire(dir, datadir.Options{Owner: "zabd, clients on 127.0.0.1:2181"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	e, err := badger.Open(filepath.Join(dir, "badger"), badger.Options{MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Live.Held || d.Live.Holder.PID != os.Getpid() || !strings.Contains(d.Live.String(), "zabd, clients on 127.0.0.1:2181") {
		t.Errorf("Live = %+v (%v), want held by this process", d.Live, d.Live)
	}
	_, sum, err := readAll(t, d, 0)
	if !errors.Is(err, ErrBadgerLive) || sum.Retries != 0 || strings.Contains(err.Error(), "\n") {
		t.Errorf("badger beside its engine: %v (retries %d), want ErrBadgerLive on one line, no retry", err, sum.Retries)
	}
}

// TestRecordsRetriesLive: a read that fails beside a running server is
// started again after the last record handed out, so each record is
// handed out once; without a server the failure is reported at once.
func TestRecordsRetriesLive(t *testing.T) {
	dir := t.TempDir()
	txns := datadirtest.History()
	datadirtest.Write(t, dir, "native", txns, datadirtest.Options{})
	boom := errors.New("file removed under the reader")
	for _, tc := range []struct {
		name        string
		live        bool
		failAt      []int // handed-out counts at which a read fails (once each)
		wantErr     bool
		wantRetries int
	}{
		{"not live: reported", false, []int{5}, true, 0},
		{"live: read again", true, []int{5}, false, 1},
		{"live: twice", true, []int{3, 9}, false, 2},
		{"live: fails three times", true, []int{2, 2, 2}, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Open(dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			d.Live.Held = tc.live
			pending := append([]int(nil), tc.failAt...)
			d.failRead = func(n int) error {
				if len(pending) > 0 && pending[0] == n {
					pending = pending[1:]
					return boom
				}
				return nil
			}
			got, sum, err := readAll(t, d, 0)
			if (err != nil) != tc.wantErr || sum.Retries != tc.wantRetries {
				t.Fatalf("err %v, retries %d; want error %v, retries %d", err, sum.Retries, tc.wantErr, tc.wantRetries)
			}
			for i := 1; i < len(got); i++ {
				if got[i] <= got[i-1] {
					t.Fatalf("records out of order or repeated: %v", got)
				}
			}
			if !tc.wantErr && len(got) != len(txns) {
				t.Errorf("handed out %d records, want %d", len(got), len(txns))
			}
		})
	}
}

// TestSnapshotsReadOnly: listing, meta and a whole read of the snapshots;
// a data dir without a snapshot directory has none (and gets none).
func TestSnapshotsReadOnly(t *testing.T) {
	dir := t.TempDir()
	txns := datadirtest.History()
	datadirtest.Write(t, dir, "pebble", txns, datadirtest.Options{SnapshotsAt: []log.Zxid{datadirtest.Zxid(txns, 8), datadirtest.Zxid(txns, 2)}})
	d, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := d.Snapshots()
	if err != nil || len(snaps) != 2 || snaps[0].Start != datadirtest.Zxid(txns, 2) {
		t.Fatalf("Snapshots: %v, %v", snaps, err)
	}
	m, err := d.SnapshotMeta(snaps[1])
	if err != nil || m.EndZxid != datadirtest.Zxid(txns, 8) {
		t.Errorf("SnapshotMeta: %+v, %v", m, err)
	}
	tr, _, err := d.LoadSnapshot(snaps[1])
	if err != nil || tr.NodeCount() != 7 {
		t.Errorf("LoadSnapshot: %d nodes, %v; want 7", tr.NodeCount(), err)
	}
	os.RemoveAll(filepath.Join(dir, "snapshot"))
	if snaps, err := d.Snapshots(); err != nil || len(snaps) != 0 {
		t.Errorf("no snapshot dir: %v, %v", snaps, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshot")); !os.IsNotExist(err) {
		t.Error("Snapshots created the snapshot dir")
	}
}

// Progress hears of every record handed out, in order: on the native log
// with the fraction of its bytes read so far (never falling, at most 1),
// on pebble and badger with -1 (they cannot tell).
func TestProgress(t *testing.T) {
	for _, kind := range []string{"native", "pebble", "badger"} {
		dir := t.TempDir()
		txns := datadirtest.History()
		datadirtest.Write(t, dir, kind, txns, datadirtest.Options{})
		d, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var zxids []log.Zxid
		var fracs []float64
		d.Progress = func(r Record, f float64) { zxids = append(zxids, r.Zxid); fracs = append(fracs, f) }
		sum, err := d.Records(0, func(Record) error { return nil })
		if err != nil || len(zxids) != sum.Records || sum.Records != len(txns) {
			t.Fatalf("%s: %d progress calls for %d records (%v)", kind, len(zxids), sum.Records, err)
		}
		for i, f := range fracs {
			switch {
			case kind != "native" && f != -1:
				t.Fatalf("%s: fraction %v, want -1", kind, f)
			case kind == "native" && (f < 0 || f > 1 || i > 0 && f < fracs[i-1]):
				t.Fatalf("native: fractions %v", fracs)
			}
		}
	}
}
