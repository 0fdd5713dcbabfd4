package engine

import (
	"context"
	"errors"
	"time"

	"zabd/log"
)

// Engine stores the txn log durably. Implementations are safe for
// concurrent use.
type Engine interface {
	// Append returns once recs are durable. Zxids must be non-zero and
	// strictly increasing within recs and across calls, in call order
	// (errors wrap log.ErrOutOfOrder; nothing is appended). Concurrent
	// calls are group-committed: records become durable in call order, and
	// a failure is sticky (errors wrap log.ErrSyncFailed): the failing
	// batch and every later Append fail, and nothing after the last
	// success is ever reported durable. If ctx ends first Append returns
	// ctx.Err(); the records stay queued and may still become durable.
	// The engine reads recs' Data until Append returns; it keeps no
	// reference afterwards.
	Append(ctx context.Context, recs []log.Record) error
	// Iter iterates over the durable records with zxid >= from, as of the
	// call. If records below from were purged it starts at the oldest kept.
	Iter(from log.Zxid) (Iterator, error)
	// LastZxid returns the last durable record's zxid, 0 if none.
	LastZxid() log.Zxid
	// TruncateAfter durably removes every record above z. It fails with
	// ErrBusy if appends are queued or being committed, and an Append
	// made while it runs fails with ErrBusy: no append passes a truncate.
	// If nothing at or below z remains the engine becomes empty
	// (LastZxid 0). Crash safety: after a crash while it runs, the
	// reopened engine holds the log as before, the log cut at z, or a
	// prefix of the old log in between (badger, native), never a log
	// with a hole; a caller that did not see it return must issue it
	// again (a ZAB follower would: it re-syncs on restart and the leader
	// sends TRUNC again). Checked by enginetest.RunTruncateCrashTests
	// (badger), RunKillDuringTruncate (badger, pebble) and, for native,
	// TestNativeTruncateCrashAtEveryStep.
	TruncateAfter(z log.Zxid) error
	// PurgeBefore may remove records below z (native: whole segments); it
	// never removes a record >= z nor the last record, so LastZxid is
	// unchanged.
	PurgeBefore(z log.Zxid) error
	// Close waits for queued appends, then closes. Later calls fail with
	// ErrClosed.
	Close() error
}

// AsyncAppender splits Append into an ordered, non-blocking enqueue and a
// later wait, for a pipeline that must stamp zxids and enqueue in one
// critical section but wait outside it. Both engines implement it.
type AsyncAppender interface {
	// AppendAsync enqueues recs after everything enqueued before (same
	// rules as Append) and returns a channel that receives exactly one
	// value: nil once they are durable, or the error. The caller must not
	// modify recs' Data until then.
	AppendAsync(recs []log.Record) <-chan error
}

// Iterator yields records in zxid order. Single owner. A Record's Data
// belongs to the caller.
type Iterator interface {
	Next() bool
	Record() log.Record
	Err() error
	Close() error
}

// StatsReporter is implemented by engines that count their work (both do).
type StatsReporter interface{ Stats() Stats }

// Stats counts durable work since open. Used by mntr.
type Stats struct {
	Fsyncs  uint64 // group commits (native: log fsyncs issued by the loop)
	Records uint64 // records made durable
	Bytes   uint64 // bytes of record Data made durable
	// FsyncLatency is the time each group commit spent syncing (on the
	// native log, the fdatasync alone).
	FsyncLatency Latency
}

// RecordsPerFsync is Records/Fsyncs, 0 before the first fsync.
func (s Stats) RecordsPerFsync() float64 {
	if s.Fsyncs == 0 {
		return 0
	}
	return float64(s.Records) / float64(s.Fsyncs)
}

// Latency summarizes durations.
type Latency struct {
	Last, Mean, Max, Total time.Duration
}

func (l *Latency) observe(d time.Duration, n uint64) {
	l.Last = d
	l.Max = max(l.Max, d)
	l.Total += d
	l.Mean = l.Total / time.Duration(n)
}

var (
	// ErrClosed is returned by methods of a closed engine.
	ErrClosed = errors.New("engine: closed")
	// ErrBusy is returned by TruncateAfter while appends are queued or
	// being committed, and by appends made while a truncate runs.
	ErrBusy = errors.New("engine: appends in flight")
)
