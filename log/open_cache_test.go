package log

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"zabd/log/vfs"
)

// cachedLog writes n records in small segments, closes the log and returns
// its filesystem and the records.
func cachedLog(t *testing.T, n int) (*vfs.MemFS, []Record) {
	t.Helper()
	fsys := vfs.NewMem()
	l, _ := mustOpen(t, fsys, Options{SegmentBytes: 300})
	all := recs(seq(1, n)...)
	mustAppendSync(t, l, all...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fsys, all
}

// iterFrom reads every record from from, and reports whether the iterator
// had Open's buffers.
func iterFrom(t *testing.T, l *Log, from Zxid) ([]Record, bool) {
	t.Helper()
	it, err := l.Iter(from)
	if err != nil {
		t.Fatalf("Iter: %v", err)
	}
	defer it.Close()
	cached := it.cache != nil
	var got []Record
	for it.Next() {
		got = append(got, it.Record())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterate from %v: %v", from, err)
	}
	return got, cached
}

func TestFirstIterReadsOpenBuffers(t *testing.T) {
	fsys, all := cachedLog(t, 100)
	for _, tc := range []struct {
		name  string
		bytes int64 // Options.openCacheBytes
	}{
		{"all cached", 0},
		{"newest segments cached", 900},
		{"segment bigger than bound", 10},
	} {
		for _, from := range []Zxid{0, 1, 37, 99, 100, 101} {
			l, rep := mustOpen(t, fsys, Options{SegmentBytes: 300, openCacheBytes: tc.bytes})
			if rep.Segments < 5 {
				t.Fatalf("%d segments, want several", rep.Segments)
			}
			got, cached := iterFrom(t, l, from)
			if want := tc.bytes != 10; cached != want {
				t.Errorf("%s: from %v: iterator took Open's buffers: %v, want %v", tc.name, from, cached, want)
			}
			fresh, _ := mustOpen(t, fsys, Options{SegmentBytes: 300, ReadOnly: true, openCacheBytes: -1})
			want, freshCached := iterFrom(t, fresh, from)
			if freshCached {
				t.Fatalf("a log opened with openCacheBytes -1 lent buffers")
			}
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("%s: from %v: cached iteration differs from a file read (-file +cached):\n%s", tc.name, from, d)
			}
			var written []Record
			for _, r := range all {
				if r.Zxid >= from {
					written = append(written, r)
				}
			}
			if d := cmp.Diff(written, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("%s: from %v: (-written +got):\n%s", tc.name, from, d)
			}
			// Only the first Iter gets the buffers; the second reads files.
			again, cachedAgain := iterFrom(t, l, from)
			if cachedAgain || !cmp.Equal(again, got, cmpopts.EquateEmpty()) {
				t.Errorf("%s: from %v: second Iter cached=%v, %d records, want files and %d", tc.name, from, cachedAgain, len(again), len(got))
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			fresh.Close()
		}
	}
}

func TestAppendAfterOpenDropsOpenBuffers(t *testing.T) {
	fsys, all := cachedLog(t, 60)
	l, _ := mustOpen(t, fsys, Options{SegmentBytes: 300})
	defer l.Close()
	extra := rec(61)
	mustAppendSync(t, l, extra)
	got, cached := iterFrom(t, l, 0)
	if cached {
		t.Errorf("Iter after Append took Open's buffers")
	}
	if d := cmp.Diff(append(all, extra), got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// An iterator reading Open's buffers when PurgeBefore removes segments it
// has passed goes on from the files, from where it was.
func TestPurgeWhileIteratingOpenBuffers(t *testing.T) {
	fsys, all := cachedLog(t, 60)
	l, _ := mustOpen(t, fsys, Options{SegmentBytes: 300})
	defer l.Close()
	it, err := l.Iter(0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []Record
	for len(got) < 25 && it.Next() {
		got = append(got, it.Record())
	}
	if err := l.PurgeBefore(got[len(got)-1].Zxid); err != nil {
		t.Fatal(err)
	}
	if it.Next() {
		got = append(got, it.Record())
	}
	if it.mem != nil || it.cur != nil {
		t.Fatalf("iterator still holds Open's buffers after the first Next following a purge")
	}
	for it.Next() {
		got = append(got, it.Record())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(all, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// An iterator reading Open's buffers when TruncateAfter cuts the log yields
// nothing above the cut that it had not yielded before.
func TestTruncateWhileIteratingOpenBuffers(t *testing.T) {
	fsys, _ := cachedLog(t, 60)
	l, _ := mustOpen(t, fsys, Options{SegmentBytes: 300})
	defer l.Close()
	it, err := l.Iter(0)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	for i := 0; i < 10 && it.Next(); i++ {
	}
	if err := l.TruncateAfter(30); err != nil {
		t.Fatal(err)
	}
	n := 10
	for it.Next() {
		if z := it.Record().Zxid; z > 30 {
			t.Fatalf("iterator yielded %v after the log was cut at 30", z)
		}
		n++
	}
	if it.Err() == nil && n != 30 {
		t.Errorf("clean end after %d records, want 30", n)
	}
}
