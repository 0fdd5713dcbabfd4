package member

import (
	"fmt"
	"sync"
	"sync/atomic"

	"zabd/engine"
	"zabd/log"
	"zabd/zab"
	"zabd/zab/peer"
)

// appends makes a serving member's appends durable off the loop
// (peer.Config.AsyncAppends): the loop hands each Ready.AppendAsync batch
// to the engine's group commit and goes on stepping messages, proposing
// and committing; a completer goroutine waits for each batch in order and
// tells the loop (an inAppended input) how far the log is durable, which
// the loop reports to the core (Appended). So a follower's ACK waits for
// its own batch's fsync only, not for the fsync in progress when the
// PROPOSAL arrived, and a leader takes ACKs and new writes while its
// own fsync runs.
//
// The engine releases batches in order (engine.GroupCommitter), so
// "durable through" only grows. A failed batch fails the member, as a
// failed synchronous append does.
type appends struct {
	eng engine.AsyncAppender
	// into is eng when it answers into a channel the caller owns
	// (engine.GroupCommitter.AppendAsyncInto): a batch's channel and
	// records array are then reused once the completer took its answer.
	into appenderInto

	mu     sync.Mutex
	queued []inflight    // handed to the engine, not yet taken by the completer
	spare  []inflight    // the array the completer emptied last, for queued to reuse
	free   []inflight    // answered batches whose channel and array issue reuses
	signal chan struct{} // cap 1: queued grew
	issued log.Zxid      // the loop's: last zxid handed to the engine
	done   atomic.Uint64 // durable through (a log.Zxid)
	err    atomic.Pointer[error]
	moved  chan struct{} // cap 1: done or err changed
}

// appenderInto is an engine whose appends answer on a channel the caller
// owns (engine.GroupCommitter.AppendAsyncInto).
type appenderInto interface {
	AppendAsyncInto(recs []log.Record, done chan<- error)
}

type inflight struct {
	last log.Zxid
	ch   <-chan error
	// own and recs are reused when into is set: the channel the engine
	// answers on, and the records it reads until it answers.
	own  chan error
	recs []log.Record
}

func newAppends(eng engine.AsyncAppender) *appends {
	a := &appends{eng: eng, signal: make(chan struct{}, 1), moved: make(chan struct{}, 1)}
	a.into, _ = eng.(appenderInto)
	return a
}

// issue hands es to the engine. The loop's only.
func (a *appends) issue(es []peer.Entry) {
	var f inflight
	a.mu.Lock()
	if n := len(a.free); n > 0 {
		f = a.free[n-1]
		a.free = a.free[:n-1]
	}
	a.mu.Unlock()
	for _, e := range es {
		f.recs = append(f.recs, log.Record{Zxid: e.Zxid, Data: e.Data})
	}
	f.last = es[len(es)-1].Zxid
	if a.into != nil {
		if f.own == nil {
			f.own = make(chan error, 1)
		}
		a.into.AppendAsyncInto(f.recs, f.own)
		f.ch = f.own
	} else {
		f.ch = a.eng.AppendAsync(f.recs)
	}
	a.issued = f.last
	a.mu.Lock()
	a.queued = append(a.queued, f)
	a.mu.Unlock()
	select {
	case a.signal <- struct{}{}:
	default:
	}
}

// recycle keeps an answered batch's channel and records array for issue.
// The engine no longer reads the records once it answered.
func (a *appends) recycle(f inflight) {
	if f.own == nil || cap(f.recs) > maxKeptRecords {
		return
	}
	clear(f.recs) // drop the txns' data
	a.mu.Lock()
	a.free = append(a.free, inflight{own: f.own, recs: f.recs[:0]})
	a.mu.Unlock()
}

// maxKeptRecords bounds the records array a recycled batch keeps.
const maxKeptRecords = 1024

// pending reports whether an issued batch is not yet known durable.
func (a *appends) pending() bool { return log.Zxid(a.done.Load()) < a.issued }

// complete is the completer goroutine: it waits for each batch in order
// and reports through report (which must not block).
func (a *appends) complete(stop <-chan struct{}, report func()) {
	for {
		select {
		case <-stop:
			return
		case <-a.signal:
		}
		a.mu.Lock()
		batch := a.queued
		a.queued = a.spare[:0]
		a.spare = nil
		a.mu.Unlock()
		for _, f := range batch {
			var err error
			select {
			case <-stop:
				return
			case err = <-f.ch:
			}
			if err != nil {
				failed := fmt.Errorf("member: appending through %v: %w", f.last, err)
				a.err.Store(&failed) // only a failure's error escapes
			} else {
				a.done.Store(uint64(f.last))
				a.recycle(f)
			}
			select {
			case a.moved <- struct{}{}:
			default:
			}
			report()
			if err != nil {
				return
			}
		}
		clear(batch)
		a.mu.Lock()
		a.spare = batch[:0]
		a.mu.Unlock()
	}
}

// failed returns the error of a failed batch, if any.
func (a *appends) failed() error {
	if p := a.err.Load(); p != nil {
		return *p
	}
	return nil
}

// wait blocks until every issued batch is durable (or one failed, or
// stop closed). The loop's only.
func (a *appends) wait(stop <-chan struct{}) error {
	for a.pending() {
		if err := a.failed(); err != nil {
			return err
		}
		select {
		case <-stop:
			return zab.ErrStopped
		case <-a.moved:
		}
	}
	return a.failed()
}
