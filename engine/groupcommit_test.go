package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
)

// gcEngine is the smallest engine on a GroupCommitter: records in a sorted
// slice, with an injectable commit failure and a gate to hold a commit.
type gcEngine struct {
	*engine.GroupCommitter
	mu      sync.Mutex
	recs    []log.Record
	commits [][]log.Zxid // zxids of each commit, in order
	fail    error
	// If hold is set, the next commit clears it, signals entered and
	// waits for release.
	hold             bool
	entered, release chan struct{}
}

func newGCEngine(t *testing.T, o engine.GroupCommitOptions) *gcEngine {
	e := &gcEngine{}
	g, err := engine.NewGroupCommitter(0, o, e.commit)
	if err != nil {
		t.Fatal(err)
	}
	e.GroupCommitter = g
	return e
}

func (e *gcEngine) commit(recs []log.Record) error {
	e.mu.Lock()
	hold := e.hold
	e.hold = false
	e.mu.Unlock()
	if hold {
		e.entered <- struct{}{}
		<-e.release
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fail != nil {
		return e.fail
	}
	var zs []log.Zxid
	for _, r := range recs {
		e.recs = append(e.recs, log.Record{Zxid: r.Zxid, Data: bytes.Clone(r.Data)})
		zs = append(zs, r.Zxid)
	}
	e.commits = append(e.commits, zs)
	return nil
}

func (e *gcEngine) Iter(from log.Zxid) (engine.Iterator, error) {
	last := e.LastZxid()
	m := engine.NewMemory()
	e.mu.Lock()
	var rs []log.Record
	for _, r := range e.recs {
		if r.Zxid <= last {
			rs = append(rs, r)
		}
	}
	e.mu.Unlock()
	if err := m.Append(context.Background(), rs); err != nil {
		return nil, err
	}
	return m.Iter(from)
}

func (e *gcEngine) TruncateAfter(z log.Zxid) error {
	return e.Truncate(z, func() (log.Zxid, error) {
		e.mu.Lock()
		defer e.mu.Unlock()
		i := sort.Search(len(e.recs), func(i int) bool { return e.recs[i].Zxid > z })
		e.recs = e.recs[:i]
		if i == 0 {
			return 0, nil
		}
		return e.recs[i-1].Zxid, nil
	})
}

func (e *gcEngine) PurgeBefore(z log.Zxid) error {
	return e.Exclusive(func(last log.Zxid) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		i := sort.Search(len(e.recs), func(i int) bool { return e.recs[i].Zxid >= min(z, last) })
		e.recs = e.recs[i:]
		return nil
	})
}

func TestGroupCommitterConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    engine.GroupCommitOptions
	}{
		{"default", engine.GroupCommitOptions{}},
		{"tiny batches", engine.GroupCommitOptions{MaxBatchRecords: 3, MaxBatchBytes: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enginetest.RunTests(t, func(t *testing.T) engine.Engine { return newGCEngine(t, tc.o) })
		})
	}
}

// TestGroupCommitterBatchesAndSticks holds the first commit, queues
// appends behind it, checks they go out as one batch, then fails a commit
// and checks the failure is sticky and nothing past it counts as durable.
func TestGroupCommitterBatchesAndSticks(t *testing.T) {
	var obsMu sync.Mutex
	var observed []int // records of each commit OnCommit was told of
	e := newGCEngine(t, engine.GroupCommitOptions{OnCommit: func(records, bytes int, took time.Duration) {
		obsMu.Lock()
		observed = append(observed, records)
		obsMu.Unlock()
	}})
	e.mu.Lock()
	e.hold, e.entered, e.release = true, make(chan struct{}), make(chan struct{})
	e.mu.Unlock()

	first := e.AppendAsync(enginetest.Recs(1, 1))
	<-e.entered // the flusher holds commit 1; these queue behind it
	var waits []<-chan error
	for z := log.Zxid(2); z <= 10; z++ {
		waits = append(waits, e.AppendAsync(enginetest.Recs(z, 1)))
	}
	if got := e.LastZxid(); got != 0 {
		t.Errorf("LastZxid with commit 1 in flight = %v, want 0", got)
	}
	close(e.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for _, w := range waits {
		if err := <-w; err != nil {
			t.Fatal(err)
		}
	}
	e.mu.Lock()
	commits := len(e.commits)
	e.mu.Unlock()
	if commits != 2 {
		t.Errorf("9 appends queued behind a held commit: %d commits in all, want 2", commits)
	}
	if st := e.Stats(); st.Records != 10 || st.Fsyncs != uint64(commits) {
		t.Errorf("stats %+v, want 10 records in %d commits", st, commits)
	}

	boom := errors.New("disk on fire")
	e.mu.Lock()
	e.fail = boom
	e.mu.Unlock()
	err := e.Append(context.Background(), enginetest.Recs(11, 1))
	if !errors.Is(err, log.ErrSyncFailed) || !errors.Is(err, boom) {
		t.Fatalf("failed commit: got %v, want log.ErrSyncFailed wrapping %v", err, boom)
	}
	e.mu.Lock()
	e.fail = nil // the store "recovers", the engine must not
	e.mu.Unlock()
	if err := e.Append(context.Background(), enginetest.Recs(12, 1)); !errors.Is(err, log.ErrSyncFailed) {
		t.Errorf("append after failure: got %v, want sticky log.ErrSyncFailed", err)
	}
	if err := e.TruncateAfter(5); !errors.Is(err, log.ErrSyncFailed) {
		t.Errorf("truncate after failure: got %v, want sticky log.ErrSyncFailed", err)
	}
	if got := e.LastZxid(); got != 10 {
		t.Errorf("LastZxid after failure = %v, want 10", got)
	}
	if err := e.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	// Close waited for the flusher: OnCommit saw the two durable commits
	// (1, then 2..10) and not the failed one.
	obsMu.Lock()
	defer obsMu.Unlock()
	if fmt.Sprint(observed) != "[1 9]" {
		t.Errorf("OnCommit saw commits of %v records, want [1 9]", observed)
	}
}

// TestGroupCommitterPausesOnNoSpace fails a commit with log.ErrNoSpace
// while appends are queued behind it: that batch, the queued ones and
// appends before Resume fail with ErrNoSpace (not sticky); their zxids are
// not accepted again; Resume with the disk still full pauses again on the
// next commit; with space back, appends go on. Any other failure, a bare
// syscall.ENOSPC included (what pebble or badger would report), is sticky
// and Resume refuses.
func TestGroupCommitterPausesOnNoSpace(t *testing.T) {
	ctx := context.Background()
	full := fmt.Errorf("store: write: %w", log.ErrNoSpace)
	setFail := func(e *gcEngine, err error) {
		e.mu.Lock()
		e.fail = err
		e.mu.Unlock()
	}
	e := newGCEngine(t, engine.GroupCommitOptions{MaxBatchRecords: 1})
	if err := e.Append(ctx, enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	e.hold, e.entered, e.release = true, make(chan struct{}), make(chan struct{})
	e.mu.Unlock()
	dones := []<-chan error{e.AppendAsync(enginetest.Recs(2, 1))}
	<-e.entered // commit of 2 in flight; 3 and 4 queue behind it
	dones = append(dones, e.AppendAsync(enginetest.Recs(3, 1)), e.AppendAsync(enginetest.Recs(4, 1)))
	setFail(e, full)
	close(e.release)
	for i, d := range dones {
		if err := <-d; !errors.Is(err, log.ErrNoSpace) || errors.Is(err, log.ErrSyncFailed) {
			t.Errorf("append %d: got %v, want ErrNoSpace and not ErrSyncFailed", i+2, err)
		}
	}
	if err := e.Append(ctx, enginetest.Recs(5, 1)); !errors.Is(err, log.ErrNoSpace) {
		t.Errorf("append before Resume: got %v, want ErrNoSpace", err)
	}
	if e.Paused() == nil {
		t.Error("Paused() = nil after a full disk")
	}
	if got := e.LastZxid(); got != 1 {
		t.Errorf("LastZxid while paused = %v, want 1", got)
	}

	// Resumed with the disk still full: the next commit pauses again.
	if err := e.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := e.Append(ctx, enginetest.Recs(6, 1)); !errors.Is(err, log.ErrNoSpace) {
		t.Errorf("append after Resume on a full disk: got %v, want ErrNoSpace", err)
	}

	// Space is back.
	setFail(e, nil)
	if err := e.Resume(); err != nil {
		t.Fatal(err)
	}
	if e.Paused() != nil {
		t.Errorf("Paused() = %v after Resume", e.Paused())
	}
	if err := e.Append(ctx, enginetest.Recs(4, 1)); !errors.Is(err, log.ErrOutOfOrder) {
		t.Errorf("reusing a failed zxid: got %v, want ErrOutOfOrder", err)
	}
	if err := e.Append(ctx, enginetest.Recs(7, 2)); err != nil {
		t.Fatalf("append after Resume: %v", err)
	}
	e.mu.Lock()
	got := e.commits
	e.mu.Unlock()
	if want := [][]log.Zxid{{1}, {7, 8}}; !cmp.Equal(got, want) {
		t.Errorf("commits (-want +got):\n%s", cmp.Diff(want, got))
	}
	if st := e.Stats(); st.Fsyncs != 2 || st.Records != 3 {
		t.Errorf("stats %+v, want 3 records in 2 commits", st)
	}

	// A failure that does not match log.ErrNoSpace is sticky, paused or not.
	for _, failure := range []error{syscall.ENOSPC, errors.New("disk on fire")} {
		setFail(e, full)
		if err := e.Append(ctx, enginetest.Recs(e.LastZxid()+10, 1)); !errors.Is(err, log.ErrNoSpace) {
			t.Fatalf("got %v, want ErrNoSpace", err)
		}
		if err := e.Resume(); err != nil {
			t.Fatal(err)
		}
		setFail(e, failure)
		err := e.Append(ctx, enginetest.Recs(e.LastZxid()+20, 1))
		if !errors.Is(err, log.ErrSyncFailed) || errors.Is(err, log.ErrNoSpace) {
			t.Errorf("%v: got %v, want sticky ErrSyncFailed and not ErrNoSpace", failure, err)
		}
		if err := e.Resume(); !errors.Is(err, log.ErrSyncFailed) {
			t.Errorf("%v: Resume after a sticky failure: got %v, want it refused", failure, err)
		}
		if e.Paused() != nil {
			t.Errorf("%v: Paused() = %v with a sticky failure", failure, e.Paused())
		}
		setFail(e, nil)
		if err := e.Append(ctx, enginetest.Recs(e.LastZxid()+30, 1)); !errors.Is(err, log.ErrSyncFailed) {
			t.Errorf("%v: append after Resume refused: got %v, want sticky ErrSyncFailed", failure, err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		e = newGCEngine(t, engine.GroupCommitOptions{})
	}
	e.Close()
}

// No append passes a truncate: an append made while the truncation runs
// is refused with ErrBusy, never committed after the cut (it was admitted
// against the old last zxid, so it would leave a gap).
func TestGroupCommitterAppendDuringTruncate(t *testing.T) {
	ctx := context.Background()
	e := newGCEngine(t, engine.GroupCommitOptions{})
	defer e.Close()
	if err := e.Append(ctx, enginetest.Recs(1, 10)); err != nil {
		t.Fatal(err)
	}
	var during <-chan error
	err := e.Truncate(5, func() (log.Zxid, error) {
		during = e.AppendAsync(enginetest.Recs(11, 1))
		e.mu.Lock()
		defer e.mu.Unlock()
		e.recs = e.recs[:5]
		return 5, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-during; !errors.Is(err, engine.ErrBusy) {
		t.Fatalf("append during the truncate: got %v, want ErrBusy", err)
	}
	if got := e.LastZxid(); got != 5 {
		t.Fatalf("LastZxid after the truncate = %v, want 5", got)
	}
	// After the truncate, appends continue from the cut.
	if err := e.Append(ctx, enginetest.Recs(6, 2)); err != nil {
		t.Fatalf("append after the truncate: %v", err)
	}
	e.mu.Lock()
	var got []log.Zxid
	for _, r := range e.recs {
		got = append(got, r.Zxid)
	}
	e.mu.Unlock()
	if d := cmp.Diff([]log.Zxid{1, 2, 3, 4, 5, 6, 7}, got); d != "" {
		t.Fatalf("records (-want +got):\n%s", d)
	}
}

// A batch the flusher has taken off the queue but not committed yet (it
// waits for the write side, here held by Exclusive) counts as queued: a
// truncate then fails at once with ErrBusy rather than cut under it.
func TestGroupCommitterTruncateWithBatchInFlight(t *testing.T) {
	ctx := context.Background()
	e := newGCEngine(t, engine.GroupCommitOptions{})
	defer e.Close()
	if err := e.Append(ctx, enginetest.Recs(1, 10)); err != nil {
		t.Fatal(err)
	}
	var pending <-chan error
	err := e.Exclusive(func(log.Zxid) error {
		pending = e.AppendAsync(enginetest.Recs(11, 1))
		if !e.WaitInFlight(10 * time.Second) {
			return errors.New("the flusher did not take the batch within 10 s")
		}
		res := make(chan error, 1)
		go func() { res <- e.TruncateAfter(5) }()
		select {
		case err := <-res:
			if !errors.Is(err, engine.ErrBusy) {
				return fmt.Errorf("truncate with a batch in flight: got %v, want ErrBusy", err)
			}
		case <-time.After(10 * time.Second):
			return errors.New("truncate with a batch in flight blocked instead of failing with ErrBusy")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-pending; err != nil {
		t.Fatalf("the batch in flight: %v", err)
	}
	if got := e.LastZxid(); got != 11 {
		t.Fatalf("LastZxid = %v, want 11", got)
	}
}

// TestGroupCommitterAppendIntoOwnChannels: callers that each reuse one
// channel for every append (AppendAsyncInto) get exactly one answer per
// append on it, in batches of every size, the records land in zxid order,
// and refusals (out of order, a failed commit) arrive on the same channel.
func TestGroupCommitterAppendIntoOwnChannels(t *testing.T) {
	e := newGCEngine(t, engine.GroupCommitOptions{MaxBatchRecords: 5, MaxBatchBytes: 1 << 20})
	defer e.Close()
	const callers, each = 8, 200
	var (
		order sync.Mutex // zxids are taken and enqueued in one step, as a pipeline does
		next  log.Zxid
		wg    sync.WaitGroup
	)
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := make(chan error, 1)
			for range each {
				order.Lock()
				next++
				e.AppendAsyncInto(enginetest.Recs(next, 1), own)
				order.Unlock()
				select {
				case err := <-own:
					if err != nil {
						errs <- err
						return
					}
				case <-time.After(10 * time.Second):
					errs <- errors.New("an append was not answered")
					return
				}
				select {
				case err := <-own:
					errs <- fmt.Errorf("a second answer for one append: %v", err)
					return
				default:
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	e.mu.Lock()
	n := len(e.recs)
	for i, r := range e.recs {
		if r.Zxid != log.Zxid(i+1) {
			t.Fatalf("record %d has zxid %v", i, r.Zxid)
		}
	}
	e.mu.Unlock()
	if n != callers*each {
		t.Fatalf("%d records committed, want %d", n, callers*each)
	}

	own := make(chan error, 1)
	e.AppendAsyncInto(enginetest.Recs(next, 1), own) // not after the last
	if err := <-own; !errors.Is(err, log.ErrOutOfOrder) {
		t.Fatalf("append out of order: %v, want ErrOutOfOrder", err)
	}
	e.mu.Lock()
	e.fail = errors.New("injected commit failure")
	e.mu.Unlock()
	e.AppendAsyncInto(enginetest.Recs(next+1, 1), own)
	if err := <-own; err == nil || !strings.Contains(err.Error(), "injected commit failure") {
		t.Fatalf("append whose commit failed: %v, want the failure", err)
	}
	e.AppendAsyncInto(enginetest.Recs(next+2, 1), own)
	if err := <-own; err == nil {
		t.Fatal("append after a failed commit: answered nil, want the sticky failure")
	}
}

// A steady append through the group committer, one at a time on a
// channel the caller reuses, allocates nothing: the pending record, the
// batch and its arrays are all reused.
func TestGroupCommitterSteadyAppendAllocatesNothing(t *testing.T) {
	g, err := engine.NewGroupCommitter(0, engine.GroupCommitOptions{}, func([]log.Record) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	own := make(chan error, 1)
	recs := []log.Record{{Data: []byte("txn")}}
	next := log.Zxid(0)
	appendOne := func() {
		next++
		recs[0].Zxid = next
		g.AppendAsyncInto(recs, own)
		if err := <-own; err != nil {
			t.Fatal(err)
		}
	}
	for range 10 { // warm the pools and the arrays
		appendOne()
	}
	if n := testing.AllocsPerRun(500, appendOne); n != 0 {
		t.Fatalf("%v allocations per append, want 0", n)
	}
}
