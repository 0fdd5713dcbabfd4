package log

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
)

const testDir = "/data/log"

// rec makes a record whose data names its zxid, so a test can see which
// record it got.
func rec(z Zxid) Record { return Record{Zxid: z, Data: []byte(fmt.Sprintf("txn-%v", z))} }

func recs(zs ...Zxid) []Record {
	out := make([]Record, len(zs))
	for i, z := range zs {
		out[i] = rec(z)
	}
	return out
}

func seq(from, n int) []Zxid {
	out := make([]Zxid, n)
	for i := range out {
		out[i] = Zxid(from + i)
	}
	return out
}

func mustOpen(t testing.TB, fsys vfs.FS, o Options) (*Log, OpenReport) {
	t.Helper()
	l, rep, err := Open(fsys, testDir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, rep
}

func mustAppendSync(t testing.TB, l *Log, rs ...Record) {
	t.Helper()
	if err := l.Append(rs...); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func readAll(t testing.TB, l *Log, from Zxid) []Record {
	t.Helper()
	it, err := l.Iter(from)
	if err != nil {
		t.Fatalf("Iter: %v", err)
	}
	defer it.Close()
	var got []Record
	for it.Next() {
		got = append(got, it.Record())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterate: %v", err)
	}
	return got
}

func TestAppendIterReopen(t *testing.T) {
	fsys := vfs.NewMem()
	l, rep := mustOpen(t, fsys, Options{SegmentBytes: 100})
	if rep.Segments != 0 || rep.TornTail {
		t.Fatalf("fresh log report: %v", rep)
	}
	want := recs(seq(1, 20)...)
	for _, r := range want {
		mustAppendSync(t, l, r)
	}
	if got := readAll(t, l, 0); !cmp.Equal(got, want) {
		t.Fatalf("iter diff (-want +got):\n%s", cmp.Diff(want, got))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, rep = mustOpen(t, fsys, Options{SegmentBytes: 100})
	if rep.Records != 20 || rep.LastZxid != 20 || rep.FirstZxid != 1 || rep.TornTail || rep.Segments < 5 {
		t.Fatalf("reopen report: %v", rep)
	}
	for _, from := range []Zxid{0, 1, 7, 20, 21} {
		var w []Record
		for _, r := range want {
			if r.Zxid >= from {
				w = append(w, r)
			}
		}
		if got := readAll(t, l, from); !cmp.Equal(got, w) {
			t.Errorf("Iter(%v) diff (-want +got):\n%s", from, cmp.Diff(w, got))
		}
	}
	if err := l.Append(rec(20)); !errors.Is(err, ErrOutOfOrder) {
		t.Errorf("Append of repeated zxid: got %v, want ErrOutOfOrder", err)
	}
	mustAppendSync(t, l, rec(21))
	if got := l.LastZxid(); got != 21 {
		t.Errorf("LastZxid = %v, want 21", got)
	}
}

// TestTruncateAfterUnsynced: records appended but not synced are written,
// cut at z and made durable by TruncateAfter.
func TestTruncateAfterUnsynced(t *testing.T) {
	for _, o := range []Options{{}, {SegmentBytes: 60}} {
		fsys := vfs.NewMem()
		l, _ := mustOpen(t, fsys, o)
		mustAppendSync(t, l, recs(seq(1, 5)...)...)
		if err := l.Append(recs(seq(6, 3)...)...); err != nil {
			t.Fatal(err)
		}
		if err := l.TruncateAfter(7); err != nil {
			t.Fatal(err)
		}
		want := recs(seq(1, 7)...)
		if l.LastZxid() != 7 || l.SyncedZxid() != 7 {
			t.Errorf("options %+v: LastZxid %v SyncedZxid %v, want 7", o, l.LastZxid(), l.SyncedZxid())
		}
		if got := readAll(t, l, 0); !cmp.Equal(got, want) {
			t.Errorf("options %+v: (-want +got):\n%s", o, cmp.Diff(want, got))
		}
		l2, _ := mustOpen(t, fsys.CrashClone(vfs.CrashOptions{}), o)
		if got := readAll(t, l2, 0); !cmp.Equal(got, want) {
			t.Errorf("options %+v: after crash (-want +got):\n%s", o, cmp.Diff(want, got))
		}
		// z at or past the end syncs what is buffered.
		mustAppendSync(t, l, rec(8))
		if err := l.Append(rec(9)); err != nil {
			t.Fatal(err)
		}
		if err := l.TruncateAfter(9); err != nil || l.SyncedZxid() != 9 {
			t.Errorf("options %+v: TruncateAfter(last) = %v, SyncedZxid %v, want nil, 9", o, err, l.SyncedZxid())
		}
	}
}
