package engine

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"sync"

	"zabd/log"
)

// Memory is an in-memory Engine for tests: same ordering, stickiness and
// truncation semantics as Native, no disk. Every Append is "durable" at
// once unless a failure was injected with Fail.
//
// Concurrency: all methods are safe for concurrent use; mu guards all
// fields.
type Memory struct {
	mu sync.Mutex
	// Invariant: recs' zxids strictly increase; last >= the last of recs.
	recs   []log.Record
	last   log.Zxid
	err    error
	closed bool
	stats  Stats
}

var (
	_ Engine        = (*Memory)(nil)
	_ AsyncAppender = (*Memory)(nil)
	_ StatsReporter = (*Memory)(nil)
)

// NewMemory returns an empty memory engine.
func NewMemory() *Memory { return &Memory{} }

// Fail injects a failure: from now on every Append and TruncateAfter
// returns an error wrapping log.ErrSyncFailed and err, as Native does after
// a failed fsync.
func (m *Memory) Fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = fmt.Errorf("engine: %w: injected: %w", log.ErrSyncFailed, err)
	}
}

// Append implements Engine.
func (m *Memory) Append(ctx context.Context, recs []log.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return <-m.AppendAsync(recs)
}

// AppendAsync implements AsyncAppender.
func (m *Memory) AppendAsync(recs []log.Record) <-chan error {
	ch := make(chan error, 1)
	ch <- m.append(recs)
	return ch
}

// AppendAsyncInto is AppendAsync answering on a channel the caller owns
// (GroupCommitter.AppendAsyncInto).
func (m *Memory) AppendAsyncInto(recs []log.Record, done chan<- error) { done <- m.append(recs) }

func (m *Memory) append(recs []log.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.err != nil:
		return m.err
	}
	if err := checkOrder(m.last, recs); err != nil {
		return err
	}
	if len(recs) == 0 {
		return nil
	}
	for _, r := range recs {
		m.recs = append(m.recs, log.Record{Zxid: r.Zxid, Data: bytes.Clone(r.Data)})
		m.stats.Bytes += uint64(len(r.Data))
	}
	m.last = recs[len(recs)-1].Zxid
	m.stats.Fsyncs++
	m.stats.Records += uint64(len(recs))
	return nil
}

// Iter implements Engine.
func (m *Memory) Iter(from log.Zxid) (Iterator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].Zxid >= from })
	return &memIter{recs: append([]log.Record(nil), m.recs[i:]...), i: -1}, nil
}

// LastZxid implements Engine.
func (m *Memory) LastZxid() log.Zxid {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// TruncateAfter implements Engine.
func (m *Memory) TruncateAfter(z log.Zxid) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.closed:
		return ErrClosed
	case m.err != nil:
		return m.err
	case z >= m.last:
		return nil
	}
	i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].Zxid > z })
	clear(m.recs[i:])
	m.recs = m.recs[:i]
	m.last = 0
	if i > 0 {
		m.last = m.recs[i-1].Zxid
	}
	return nil
}

// PurgeBefore implements Engine: it drops records below z, keeping the last
// record.
func (m *Memory) PurgeBefore(z log.Zxid) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	i := sort.Search(len(m.recs), func(i int) bool { return m.recs[i].Zxid >= z })
	i = min(i, len(m.recs)-1)
	if i > 0 {
		m.recs = append([]log.Record(nil), m.recs[i:]...)
	}
	return nil
}

// Stats implements StatsReporter; each Append counts as one fsync.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Close implements Engine.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	return nil
}

type memIter struct {
	recs []log.Record
	i    int
}

func (it *memIter) Next() bool {
	if it.i+1 >= len(it.recs) {
		it.i = len(it.recs)
		return false
	}
	it.i++
	return true
}

func (it *memIter) Record() log.Record {
	r := it.recs[it.i]
	return log.Record{Zxid: r.Zxid, Data: bytes.Clone(r.Data)}
}

func (it *memIter) Err() error   { return nil }
func (it *memIter) Close() error { it.i = len(it.recs); return nil }
