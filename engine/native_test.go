package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

const dir = "/data/log"

// gateFS holds the next fsync of a log segment, once armed, until the test
// releases it, so a test can queue appends behind a sync in flight.
type gateFS struct {
	vfs.FS
	match   string // gate files whose path contains it; "log." by default
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
	// returned hears of every ungated sync of a matching file once it
	// returned (its error); dropped when full.
	returned chan error
}

func newGateFS(inner vfs.FS) *gateFS {
	return &gateFS{FS: inner, match: "log.", entered: make(chan struct{}), release: make(chan struct{}), returned: make(chan error, 64)}
}

type gateFile struct {
	vfs.File
	g    *gateFS
	name string
}

func (g *gateFS) Create(name string) (vfs.File, error) {
	f, err := g.FS.Create(name)
	if err != nil {
		return nil, err
	}
	return gateFile{f, g, name}, nil
}

func (g *gateFS) OpenAppend(name string) (vfs.File, error) {
	f, err := g.FS.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return gateFile{f, g, name}, nil
}

func (g *gateFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := g.FS.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return gateFile{f, g, name}, nil
}

func (f gateFile) Sync() error {
	if !strings.Contains(f.name, f.g.match) {
		return f.File.Sync()
	}
	if f.g.armed.CompareAndSwap(true, false) {
		f.g.entered <- struct{}{}
		<-f.g.release
		return f.File.Sync()
	}
	err := f.File.Sync()
	select {
	case f.g.returned <- err:
	default:
	}
	return err
}

// drainReturned forgets the syncs that returned so far.
func (g *gateFS) drainReturned() {
	for {
		select {
		case <-g.returned:
		default:
			return
		}
	}
}

func mustOpenNative(t *testing.T, fsys vfs.FS, o engine.NativeOptions) *engine.Native {
	t.Helper()
	e, err := engine.OpenNative(fsys, dir, o)
	if err != nil {
		t.Fatalf("OpenNative: %v", err)
	}
	return e
}

// TestGroupCommit holds the flusher inside an fsync, queues 63 appends from
// concurrent writers behind it, and checks that they all become durable
// with one more fsync, in order, and are invisible until then.
func TestGroupCommit(t *testing.T) {
	g := newGateFS(vfs.NewMem())
	e := mustOpenNative(t, g, engine.NativeOptions{SyncsInFlight: 1})
	defer e.Close()
	ctx := context.Background()
	if err := e.Append(ctx, enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	first := e.AppendAsync(enginetest.Recs(2, 1))
	<-g.entered // the flusher is now inside the fsync for record 2

	const writers = 63
	var (
		mu       sync.Mutex
		next     log.Zxid = 3
		enqueued sync.WaitGroup
		acked    sync.WaitGroup
		errs     = make(chan error, writers)
	)
	for w := 0; w < writers; w++ {
		enqueued.Add(1)
		acked.Add(1)
		go func() {
			defer acked.Done()
			mu.Lock()
			done := e.AppendAsync(enginetest.Recs(next, 1))
			next++
			mu.Unlock()
			enqueued.Done()
			if err := <-done; err != nil {
				errs <- err
			}
		}()
	}
	enqueued.Wait()
	if got := e.LastZxid(); got != 1 {
		t.Errorf("LastZxid while record 2 is being synced = %v, want 1", got)
	}
	if got := enginetest.ReadAll(t, e, 0); len(got) != 1 {
		t.Errorf("Iter while record 2 is being synced saw %d records, want 1", len(got))
	}
	if err := e.TruncateAfter(1); !errors.Is(err, engine.ErrBusy) {
		t.Errorf("TruncateAfter with appends queued: got %v, want ErrBusy", err)
	}
	close(g.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	acked.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	want := enginetest.Recs(1, 2+writers)
	if got := enginetest.ReadAll(t, e, 0); !cmp.Equal(got, want) {
		t.Errorf("records (-want +got):\n%s", cmp.Diff(want, got))
	}
	st := e.Stats()
	if st.Fsyncs != 3 || st.Records != 2+writers {
		t.Errorf("stats %+v: want 3 fsyncs (record 1, record 2, then the %d queued) for %d records", st, writers, 2+writers)
	}
	if st.RecordsPerFsync() != float64(2+writers)/3 {
		t.Errorf("RecordsPerFsync = %v", st.RecordsPerFsync())
	}
}

// TestBatchBounds: queued appends are split into batches of at most
// MaxBatchRecords records (an append is never split).
func TestBatchBounds(t *testing.T) {
	g := newGateFS(vfs.NewMem())
	e := mustOpenNative(t, g, engine.NativeOptions{MaxBatchRecords: 4, SyncsInFlight: 1})
	defer e.Close()
	if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	var dones []<-chan error
	dones = append(dones, e.AppendAsync(enginetest.Recs(2, 1)))
	<-g.entered
	// Queued: 3 appends of 1, one of 6 (too big: alone), 2 of 2.
	for _, a := range []struct {
		from log.Zxid
		n    int
	}{{3, 1}, {4, 1}, {5, 1}, {6, 6}, {12, 2}, {14, 2}} {
		dones = append(dones, e.AppendAsync(enginetest.Recs(a.from, a.n)))
	}
	close(g.release)
	for _, d := range dones {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	// Batches: [1] [2] [3 4 5] [6..11] [12..15] = 5 fsyncs.
	if st := e.Stats(); st.Fsyncs != 5 || st.Records != 15 {
		t.Errorf("stats %+v, want 5 fsyncs for 15 records", st)
	}
}

// TestStickySyncFailure fails the fsync of a batch while more appends are
// queued behind it: that batch, the queued ones and every later append get
// an error matching log.ErrSyncFailed; nothing past the last good fsync is
// reported or found durable after a crash.
func TestStickySyncFailure(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	g := newGateFS(efs)
	e := mustOpenNative(t, g, engine.NativeOptions{MaxBatchRecords: 2, SyncsInFlight: 1})
	ctx := context.Background()
	for z := log.Zxid(1); z <= 3; z++ {
		if err := e.Append(ctx, enginetest.Recs(z, 1)); err != nil {
			t.Fatal(err)
		}
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 1})
	g.armed.Store(true)
	var dones []<-chan error
	dones = append(dones, e.AppendAsync(enginetest.Recs(4, 1)))
	<-g.entered
	for z := log.Zxid(5); z <= 9; z++ { // three more batches' worth
		dones = append(dones, e.AppendAsync(enginetest.Recs(z, 1)))
	}
	close(g.release)
	for i, d := range dones {
		err := <-d
		if !errors.Is(err, log.ErrSyncFailed) || !errors.Is(err, errorfs.ErrInjected) {
			t.Errorf("append %d: got %v, want ErrSyncFailed wrapping the injected error", i+4, err)
		}
	}
	if err := e.Append(ctx, enginetest.Recs(10, 1)); !errors.Is(err, log.ErrSyncFailed) {
		t.Errorf("Append after failure: got %v, want ErrSyncFailed", err)
	}
	if err := e.TruncateAfter(2); !errors.Is(err, log.ErrSyncFailed) {
		t.Errorf("TruncateAfter after failure: got %v, want ErrSyncFailed", err)
	}
	if got := e.LastZxid(); got != 3 {
		t.Errorf("LastZxid = %v, want 3", got)
	}
	if got, want := enginetest.ReadAll(t, e, 0), enginetest.Recs(1, 3); !cmp.Equal(got, want) {
		t.Errorf("Iter after failure (-want +got):\n%s", cmp.Diff(want, got))
	}
	if st := e.Stats(); st.Fsyncs != 3 || st.Records != 3 {
		t.Errorf("stats %+v: failed fsync counted", st)
	}
	e.Close()
	e2 := mustOpenNative(t, mem.CrashClone(vfs.CrashOptions{}), engine.NativeOptions{})
	defer e2.Close()
	if got, want := enginetest.ReadAll(t, e2, 0), enginetest.Recs(1, 3); !cmp.Equal(got, want) {
		t.Errorf("after crash (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// TestCrashKeepsAcknowledged runs concurrent appenders, crashes at an
// arbitrary moment and checks that every acknowledged record is on "disk"
// and what is there is a gap-free prefix.
func TestCrashKeepsAcknowledged(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		mem := vfs.NewMem()
		e := mustOpenNative(t, mem, engine.NativeOptions{Log: log.Options{SegmentBytes: 300}, MaxBatchRecords: 5})
		const writers, per = 8, 10
		var (
			mu   sync.Mutex
			next log.Zxid = 1
			wg   sync.WaitGroup
		)
		crashAt := int(seed * 3)
		var crashed *vfs.MemFS
		var crashOnce sync.Once
		var count atomic.Int64
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					mu.Lock()
					z := next
					next++
					done := e.AppendAsync(enginetest.Recs(z, 1))
					mu.Unlock()
					if err := <-done; err != nil {
						t.Error(err)
						return
					}
					if int(count.Add(1)) == crashAt {
						crashOnce.Do(func() { crashed = mem.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed}) })
					}
				}
			}()
		}
		wg.Wait()
		crashOnce.Do(func() { crashed = mem.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed}) })
		e.Close()
		e2 := mustOpenNative(t, crashed, engine.NativeOptions{})
		got := enginetest.ReadAll(t, e2, 0)
		all := enginetest.Recs(1, writers*per)
		if !cmp.Equal(got, all[:len(got)], cmpopts.EquateEmpty()) {
			t.Fatalf("seed %d: after crash not a prefix:\n%s", seed, cmp.Diff(all[:len(got)], got))
		}
		if crashAt == 0 && len(got) != writers*per {
			t.Fatalf("seed %d: crash after all acks kept %d of %d", seed, len(got), writers*per)
		}
		if crashAt > 0 && len(got) < crashAt {
			t.Fatalf("seed %d: crash after %d acks kept only %d records", seed, crashAt, len(got))
		}
		e2.Close()
	}
}

// TestNoSpacePausesUntilResume fills the disk under a batch while more
// appends are queued behind it: that batch, the queued ones and appends
// made before Resume fail with log.ErrNoSpace (not sticky); nothing of
// them reaches the log, even after a crash; after Resume, with space back,
// appends succeed with later zxids (a gap over the failed ones).
func TestNoSpacePausesUntilResume(t *testing.T) {
	for _, prealloc := range []bool{false, true} {
		mem := vfs.NewMem()
		efs := errorfs.Wrap(mem)
		// The gate holds the sync of record 4, made through a handle the
		// log opens by the segment's name (prepared or not).
		g := newGateFS(efs)
		o := engine.NativeOptions{Log: log.Options{SegmentBytes: 200, Preallocate: prealloc}, MaxBatchRecords: 2}
		e := mustOpenNative(t, g, o)
		ctx := context.Background()
		for z := log.Zxid(1); z <= 3; z++ {
			if err := e.Append(ctx, enginetest.Recs(z, 1)); err != nil {
				t.Fatal(err)
			}
		}
		// Record 4 is written, then its fsync is held while 5..9 queue;
		// the write of the next batch (5, 6) finds the disk full.
		g.armed.Store(true)
		first := e.AppendAsync(enginetest.Recs(4, 1))
		<-g.entered
		efs.Add(errorfs.Rule{Op: errorfs.OpWrite, Torn: true, TornAt: 11, Err: errorfs.ErrNoSpace})
		var dones []<-chan error
		for z := log.Zxid(5); z <= 9; z++ {
			dones = append(dones, e.AppendAsync(enginetest.Recs(z, 1)))
		}
		close(g.release)
		if err := <-first; err != nil {
			t.Fatalf("prealloc %v: record 4 (its write was before the disk filled): %v", prealloc, err)
		}
		for i, d := range dones {
			err := <-d
			if !errors.Is(err, log.ErrNoSpace) || errors.Is(err, log.ErrSyncFailed) {
				t.Errorf("prealloc %v: append %d: got %v, want ErrNoSpace and not ErrSyncFailed", prealloc, i+5, err)
			}
		}
		if err := e.Append(ctx, enginetest.Recs(10, 1)); !errors.Is(err, log.ErrNoSpace) {
			t.Errorf("prealloc %v: Append before Resume: got %v, want ErrNoSpace", prealloc, err)
		}
		if e.Paused() == nil {
			t.Errorf("prealloc %v: Paused() = nil after a full disk", prealloc)
		}
		if got, want := enginetest.ReadAll(t, e, 0), enginetest.Recs(1, 4); !cmp.Equal(got, want) {
			t.Errorf("prealloc %v: Iter while paused (-want +got):\n%s", prealloc, cmp.Diff(want, got))
		}
		crashed := mem.CrashClone(vfs.CrashOptions{})
		// Space is back.
		efs.ClearRules()
		if err := e.Resume(); err != nil {
			t.Fatal(err)
		}
		if err := e.Append(ctx, enginetest.Recs(20, 2)); err != nil {
			t.Fatalf("prealloc %v: Append after Resume: %v", prealloc, err)
		}
		want := append(enginetest.Recs(1, 4), enginetest.Recs(20, 2)...)
		if got := enginetest.ReadAll(t, e, 0); !cmp.Equal(got, want) {
			t.Errorf("prealloc %v: after Resume (-want +got):\n%s", prealloc, cmp.Diff(want, got))
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		for name, fsys := range map[string]vfs.FS{"crash while paused": crashed, "reopen": mem} {
			wantHere := want
			if name == "crash while paused" {
				wantHere = enginetest.Recs(1, 4)
			}
			e2 := mustOpenNative(t, fsys, o)
			if got := enginetest.ReadAll(t, e2, 0); !cmp.Equal(got, wantHere) {
				t.Errorf("prealloc %v: %s (-want +got):\n%s", prealloc, name, cmp.Diff(wantHere, got))
			}
			if rep := e2.OpenReport(); rep.TornTail {
				t.Errorf("prealloc %v: %s: torn tail %v", prealloc, name, rep)
			}
			e2.Close()
		}
	}
}
