package engine_test

import (
	"bytes"
	"context"
	"errors"
	"sort"
	"sync"
	"testing"

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
	e := newGCEngine(t, engine.GroupCommitOptions{})
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
}
