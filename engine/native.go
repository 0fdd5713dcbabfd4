package engine

import (
	"context"
	"fmt"
	"time"

	"zabd/log"
	"zabd/log/vfs"
)

// NativeOptions configure a Native engine. The zero value is usable.
type NativeOptions struct {
	Log log.Options
	// MaxBatchRecords and MaxBatchBytes (of record Data) bound one group
	// commit. A single Append larger than either is committed alone, never
	// split. Defaults 4096 and 4 MiB.
	MaxBatchRecords int
	MaxBatchBytes   int
	// Now reads the clock for fsync latency stats; default time.Now.
	Now func() time.Time
	// OnCommit is GroupCommitOptions.OnCommit.
	OnCommit func(records, bytes int, took time.Duration)
	// SyncsInFlight is GroupCommitOptions.SyncsInFlight, but defaults to
	// 2: the next batch is written and synced while the previous one's
	// fdatasync runs (log.Log.Flush and SyncThrough).
	SyncsInFlight int
	// OverlapMinRecords is GroupCommitOptions.OverlapMinRecords, but
	// defaults to 4 (measured: with 8 and 32 closed-loop sessions, 4
	// beat 1 and 8).
	OverlapMinRecords int
}

// fill validates o and sets defaults, the same as GroupCommitOptions.
func (o *NativeOptions) fill() error {
	g := o.groupCommit()
	if err := g.fill(); err != nil {
		return err
	}
	o.MaxBatchRecords, o.MaxBatchBytes, o.Now = g.MaxBatchRecords, g.MaxBatchBytes, g.Now
	if o.SyncsInFlight == 0 {
		o.SyncsInFlight = 2
	}
	if o.OverlapMinRecords == 0 {
		o.OverlapMinRecords = 4
	}
	return nil
}

func (o *NativeOptions) groupCommit() GroupCommitOptions {
	return GroupCommitOptions{MaxBatchRecords: o.MaxBatchRecords, MaxBatchBytes: o.MaxBatchBytes, Now: o.Now, OnCommit: o.OnCommit, SyncsInFlight: o.SyncsInFlight, OverlapMinRecords: o.OverlapMinRecords}
}

// Native is the engine on the native segmented log under a GroupCommitter
// whose commit is one log Append and Flush of the batch (the write) and
// one SyncThrough (the sync); with SyncsInFlight 2, a batch is written and
// its fdatasync started while the previous one's runs, each on its own
// file description. Stats.Fsyncs counts those syncs and FsyncLatency
// times each fdatasync alone: not the write before it, nor the wait for
// the earlier sync's outcome after it.
//
// A full disk is not sticky (see GroupCommitter): the log fails the batch
// with log.ErrNoSpace having rolled itself back to its last successful
// Sync, so nothing of the batch is in the log; the engine refuses appends
// until Resume. Paused reports it.
//
// Concurrency: all methods are safe for concurrent use. The committer's
// write side (its commit, Truncate, Exclusive) is the one owner of the
// log's write side; Close closes the log after the committer stopped.
type Native struct {
	log    *log.Log
	report log.OpenReport
	o      NativeOptions
	g      *GroupCommitter
}

var (
	_ Engine        = (*Native)(nil)
	_ AsyncAppender = (*Native)(nil)
	_ StatsReporter = (*Native)(nil)
)

// OpenNative opens (creating if needed) the native engine's log in dir and
// starts its flusher. A torn tail is cut and reported by OpenReport;
// corruption fails with an error matching log.ErrCorrupt.
func OpenNative(fsys vfs.FS, dir string, o NativeOptions) (*Native, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	if o.Log.ReadOnly {
		return nil, fmt.Errorf("engine: native engine cannot open read-only")
	}
	l, rep, err := log.Open(fsys, dir, o.Log)
	if err != nil {
		return nil, err
	}
	n := &Native{log: l, report: rep, o: o}
	n.g = newGroupCommitter(l.LastZxid(), o.groupCommit(), stagedCommit{write: n.write, sync: n.sync})
	return n, nil
}

// write is the committer's staged commit: the batch appended to the log
// and written, and the sync through it. The log's errors pass through
// unchanged (log.ErrNoSpace after its rollback, which first waits for the
// syncs in flight, pauses the committer; anything else is sticky).
func (n *Native) write(recs []log.Record) (syncPoint, error) {
	if err := n.log.Append(recs...); err != nil {
		return syncPoint{}, err
	}
	p, err := n.log.Flush()
	if err != nil {
		return syncPoint{}, err
	}
	return syncPoint{log: p}, nil
}

// sync makes what write flushed durable, timing the fdatasync alone: with
// two in flight, not the wait for the earlier one's outcome after it.
func (n *Native) sync(p syncPoint) (time.Duration, error) {
	return n.log.SyncThroughTimed(p.log, n.o.Now)
}

// OpenReport returns what opening the log found (segments, records, a cut
// torn tail).
func (n *Native) OpenReport() log.OpenReport { return n.report }

// Append implements Engine.
func (n *Native) Append(ctx context.Context, recs []log.Record) error { return n.g.Append(ctx, recs) }

// AppendAsync implements AsyncAppender.
func (n *Native) AppendAsync(recs []log.Record) <-chan error { return n.g.AppendAsync(recs) }

// AppendAsyncInto is AppendAsync answering on a channel the caller owns
// (GroupCommitter.AppendAsyncInto).
func (n *Native) AppendAsyncInto(recs []log.Record, done chan<- error) {
	n.g.AppendAsyncInto(recs, done)
}

// Resume lets appends in again after a failure for a full disk (see
// GroupCommitter.Resume); it returns the sticky failure, if any.
func (n *Native) Resume() error { return n.g.Resume() }

// Paused returns the disk-full failure that is holding appends back, nil
// if none.
func (n *Native) Paused() error { return n.g.Paused() }

// Iter implements Engine.
func (n *Native) Iter(from log.Zxid) (Iterator, error) {
	it, err := n.log.Iter(from)
	if err != nil {
		return nil, err
	}
	return it, nil
}

// LastZxid implements Engine.
func (n *Native) LastZxid() log.Zxid { return n.log.SyncedZxid() }

// TruncateAfter implements Engine. Crash safety is log.Log.TruncateAfter's:
// it removes the segments after z newest first, fsyncing the directory
// after each, then cuts the segment holding z and fsyncs it, so a crash
// at any point leaves a prefix of the old log no shorter than z (never a
// hole), which the caller cuts again after the restart. Checked at every
// file operation by TestNativeTruncateCrashAtEveryStep.
func (n *Native) TruncateAfter(z log.Zxid) error {
	return n.g.Truncate(z, func() (log.Zxid, error) {
		if err := n.log.TruncateAfter(z); err != nil {
			return 0, err
		}
		return n.log.LastZxid(), nil
	})
}

// PurgeBefore implements Engine.
func (n *Native) PurgeBefore(z log.Zxid) error {
	return n.g.Exclusive(func(log.Zxid) error { return n.log.PurgeBefore(z) })
}

// Stats implements StatsReporter.
func (n *Native) Stats() Stats { return n.g.Stats() }

// Close implements Engine: queued appends are committed (or failed) first.
func (n *Native) Close() error {
	if err := n.g.Close(); err != nil {
		return err
	}
	return n.log.Close()
}
