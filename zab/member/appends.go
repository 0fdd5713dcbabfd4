package member

import (
	"fmt"
	"sync"
	"sync/atomic"

	"zabd/engine"
	"zabd/log"
	"zabd/zab"
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

	mu     sync.Mutex
	queued []inflight    // handed to the engine, not yet taken by the completer
	signal chan struct{} // cap 1: queued grew
	issued log.Zxid      // the loop's: last zxid handed to the engine
	done   atomic.Uint64 // durable through (a log.Zxid)
	err    atomic.Pointer[error]
	moved  chan struct{} // cap 1: done or err changed
}

type inflight struct {
	last log.Zxid
	ch   <-chan error
}

func newAppends(eng engine.AsyncAppender) *appends {
	return &appends{eng: eng, signal: make(chan struct{}, 1), moved: make(chan struct{}, 1)}
}

// issue hands recs (ending at last) to the engine. The loop's only.
func (a *appends) issue(recs []log.Record, last log.Zxid) {
	ch := a.eng.AppendAsync(recs)
	a.issued = last
	a.mu.Lock()
	a.queued = append(a.queued, inflight{last: last, ch: ch})
	a.mu.Unlock()
	select {
	case a.signal <- struct{}{}:
	default:
	}
}

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
		a.queued = nil
		a.mu.Unlock()
		for _, f := range batch {
			var err error
			select {
			case <-stop:
				return
			case err = <-f.ch:
			}
			if err != nil {
				err = fmt.Errorf("member: appending through %v: %w", f.last, err)
				a.err.Store(&err)
			} else {
				a.done.Store(uint64(f.last))
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
