package log

import (
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

// TestSyncThroughOverlapsAppends appends, flushes and syncs with up to two
// SyncThrough calls running beside the next Append and Flush, over
// segments small enough to roll every few records (a roll waits for the
// syncs in flight): every record synced is readable, durable across a
// crash, and SyncedZxid ends at the last one.
func TestSyncThroughOverlapsAppends(t *testing.T) {
	for _, prealloc := range []bool{false, true} {
		mem := vfs.NewMem()
		l, _ := mustOpen(t, mem, Options{SegmentBytes: 120, Preallocate: prealloc})
		const n = 200
		slots := make(chan struct{}, 2)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for z := Zxid(1); z <= n; z++ {
			if err := l.Append(rec(z)); err != nil {
				t.Fatal(err)
			}
			p, err := l.Flush()
			if err != nil {
				t.Fatal(err)
			}
			if p.Last() != z && p.Last() != 0 {
				t.Fatalf("Flush after record %v: point covers %v", z, p.Last())
			}
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- l.SyncThrough(p)
				<-slots
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("prealloc %v: SyncThrough: %v", prealloc, err)
			}
		}
		want := recs(seq(1, n)...)
		if got := l.SyncedZxid(); got != n {
			t.Errorf("prealloc %v: SyncedZxid = %v, want %v", prealloc, got, n)
		}
		if got := readAll(t, l, 0); !cmp.Equal(got, want) {
			t.Errorf("prealloc %v: records (-want +got):\n%s", prealloc, cmp.Diff(want, got))
		}
		crashed := mem.CrashClone(vfs.CrashOptions{})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l2, _ := mustOpen(t, crashed, Options{SegmentBytes: 120, Preallocate: prealloc})
		if got := readAll(t, l2, 0); !cmp.Equal(got, want) {
			t.Errorf("prealloc %v: after a crash (-want +got):\n%s", prealloc, cmp.Diff(want, got))
		}
		l2.Close()
	}
}

// TestNoSpaceWaitsForPendingSync: a write that finds the disk full while
// an earlier batch's SyncPoint is pending rolls back only to that batch's
// end, after its sync: the pending batch is never cut from under its sync.
func TestNoSpaceWaitsForPendingSync(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	l, _ := mustOpen(t, efs, Options{SegmentBytes: 1 << 10})
	mustAppendSync(t, l, recs(1, 2)...)
	if err := l.Append(rec(3)); err != nil {
		t.Fatal(err)
	}
	p3, err := l.Flush()
	if err != nil {
		t.Fatal(err)
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpWrite, PathContains: "log.", Err: errorfs.ErrNoSpace})
	flushed := make(chan error, 1)
	go func() {
		if err := l.Append(rec(4)); err != nil {
			flushed <- err
			return
		}
		_, err := l.Flush() // finds the disk full, waits for p3's sync, rolls back
		flushed <- err
	}()
	if err := l.SyncThrough(p3); err != nil {
		t.Fatalf("SyncThrough of record 3: %v", err)
	}
	if err := <-flushed; !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Flush of record 4 on a full disk: got %v, want ErrNoSpace", err)
	}
	want := recs(1, 2, 3)
	if got := readAll(t, l, 0); !cmp.Equal(got, want) {
		t.Errorf("records (-want +got):\n%s", cmp.Diff(want, got))
	}
	if got := l.SyncedZxid(); got != 3 {
		t.Errorf("SyncedZxid = %v, want 3", got)
	}
	crashed := mem.CrashClone(vfs.CrashOptions{})
	l2, _ := mustOpen(t, crashed, Options{SegmentBytes: 1 << 10})
	defer l2.Close()
	if got := readAll(t, l2, 0); !cmp.Equal(got, want) {
		t.Errorf("after a crash (-want +got):\n%s", cmp.Diff(want, got))
	}
	efs.ClearRules()
	mustAppendSync(t, l, rec(4))
	if got, want := readAll(t, l, 0), recs(1, 2, 3, 4); !cmp.Equal(got, want) {
		t.Errorf("after space came back (-want +got):\n%s", cmp.Diff(want, got))
	}
	l.Close()
}

// TestSyncThroughFailureIsSticky: a failed fdatasync through a point fails
// the log for good, and a later point's sync reports that failure too.
func TestSyncThroughFailureIsSticky(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem())
	l, _ := mustOpen(t, efs, Options{})
	defer l.Close()
	mustAppendSync(t, l, rec(1))
	if err := l.Append(rec(2)); err != nil {
		t.Fatal(err)
	}
	p2, err := l.Flush()
	if err != nil {
		t.Fatal(err)
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 1})
	if err := l.SyncThrough(p2); !errors.Is(err, ErrSyncFailed) || !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("SyncThrough: got %v, want ErrSyncFailed wrapping the injected error", err)
	}
	if err := l.Append(rec(3)); !errors.Is(err, ErrSyncFailed) {
		t.Errorf("Append after the failure: got %v, want ErrSyncFailed", err)
	}
	if got := l.SyncedZxid(); got != 1 {
		t.Errorf("SyncedZxid = %v, want 1", got)
	}
}

// syncedFS tells, on synced, of every Sync that returned on a handle from
// OpenReadWrite (the handles SyncThrough opens).
type syncedFS struct {
	vfs.FS
	synced chan error
}

type syncedFile struct {
	vfs.File
	fs *syncedFS
}

func (s *syncedFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := s.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return syncedFile{f, s}, nil
}

func (f syncedFile) Sync() error {
	err := f.File.Sync()
	f.fs.synced <- err
	return err
}

// TestSyncThroughDecidesInOrder: the fdatasync through a later point
// returns nil first, then the one through an earlier point fails. The
// later one must not publish or report success: a description opened after
// another saw a writeback error is not told of it, so its nil proves
// nothing about the earlier pages.
func TestSyncThroughDecidesInOrder(t *testing.T) {
	efs := errorfs.Wrap(vfs.NewMem())
	sfs := &syncedFS{FS: efs, synced: make(chan error, 4)}
	l, _ := mustOpen(t, sfs, Options{})
	defer l.Close()
	mustAppendSync(t, l, rec(1))
	var points []SyncPoint
	for _, z := range []Zxid{2, 3} {
		if err := l.Append(rec(z)); err != nil {
			t.Fatal(err)
		}
		p, err := l.Flush()
		if err != nil {
			t.Fatal(err)
		}
		points = append(points, p)
	}
	later := make(chan error, 1)
	go func() { later <- l.SyncThrough(points[1]) }()
	if err := <-sfs.synced; err != nil {
		t.Fatalf("the fdatasync through record 3: %v", err)
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 1})
	if err := l.SyncThrough(points[0]); !errors.Is(err, ErrSyncFailed) {
		t.Fatalf("SyncThrough of record 2: got %v, want ErrSyncFailed", err)
	}
	if err := <-later; !errors.Is(err, ErrSyncFailed) {
		t.Errorf("SyncThrough of record 3 after record 2's failed: got %v, want ErrSyncFailed", err)
	}
	if got := l.SyncedZxid(); got != 1 {
		t.Errorf("SyncedZxid = %v, want 1", got)
	}
	if got, want := readAll(t, l, 0), recs(1); !cmp.Equal(got, want) {
		t.Errorf("records (-want +got):\n%s", cmp.Diff(want, got))
	}
}
