package log

import (
	"errors"
	"math"
	"path/filepath"
	"testing"

	"zabd/log/vfs"
)

// FuzzLogOpen writes arbitrary bytes as the only segment file and opens the
// log. Open must not panic; it either fails with ErrCorrupt or
// ErrUnsupportedVersion, or opens a log whose records all iterate cleanly,
// that accepts a new record, and that reopens with no further repair.
// Seeds: testdata/fuzz/FuzzLogOpen (from the golden v1 file).
func FuzzLogOpen(f *testing.F) {
	f.Fuzz(fuzzLogOpen)
}

func fuzzLogOpen(t *testing.T, data []byte) {
	{
		fsys := vfs.NewMem()
		if err := fsys.MkdirAll(testDir, 0o755); err != nil {
			t.Fatal(err)
		}
		name := SegmentName(MakeZxid(1, 1))
		if err := vfs.WriteFile(fsys, filepath.Join(testDir, name), data); err != nil {
			t.Fatal(err)
		}
		l, rep, err := Open(fsys, testDir, Options{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Open: unexpected error kind: %v", err)
			}
			return
		}
		it, err := l.Iter(0)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for it.Next() {
			n++
		}
		if it.Err() != nil || n != rep.Records {
			t.Fatalf("opened with %v but iterating gave %d records, err %v", rep, n, it.Err())
		}
		if last := l.LastZxid(); last < math.MaxUint64 {
			if err := l.Append(Record{Zxid: last + 1, Data: []byte("x")}); err != nil {
				t.Fatalf("Append after open: %v", err)
			}
			n++
		}
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		l2, rep2, err := Open(fsys.CrashClone(vfs.CrashOptions{}), testDir, Options{})
		if err != nil {
			t.Fatalf("reopen after %v: %v", rep, err)
		}
		if rep2.TornTail || rep2.Records != n {
			t.Fatalf("reopen: %v, want %d records and no repair", rep2, n)
		}
		l2.Close()
	}
}
