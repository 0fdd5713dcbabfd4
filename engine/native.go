package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
}

func (o *NativeOptions) fill() error {
	if o.MaxBatchRecords < 0 || o.MaxBatchBytes < 0 {
		return fmt.Errorf("engine: negative batch bound in %+v", *o)
	}
	if o.MaxBatchRecords == 0 {
		o.MaxBatchRecords = 4096
	}
	if o.MaxBatchBytes == 0 {
		o.MaxBatchBytes = 4 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Native is the engine on the native segmented log with a group-commit
// loop: callers enqueue, one flusher goroutine takes everything queued (up
// to the batch bounds), appends it to the log, issues one Sync, and wakes
// every waiter of that batch. While a Sync runs, new appends queue for the
// next batch, so the number of fsyncs adapts to load with no timer.
//
// A full disk is the one failure that is not sticky. When the log fails a
// batch with log.ErrNoSpace (having rolled itself back to the last
// successful Sync), that batch, everything queued behind it, and every
// later append fail with that error until Resume: a caller whose later
// records were prepared assuming the failed ones (the zab pipeline) must
// first discard that state, then Resume. The zxids of failed records are
// never reused by the pipeline; the log accepts the gap.
//
// Concurrency: all methods are safe for concurrent use. mu guards the queue
// and state below; wmu serializes the flusher's log writes with
// TruncateAfter and PurgeBefore (the log's write side has one owner at a
// time).
type Native struct {
	log    *log.Log
	report log.OpenReport
	o      NativeOptions

	wmu sync.Mutex

	mu   sync.Mutex
	cond *sync.Cond // signalled when queue grows or closing is set
	// Guarded by mu.
	// Invariant: queued zxids are strictly increasing and all above the
	// log's LastZxid; lastQueued is the last of them (or the log's last).
	queue      []*pending
	lastQueued log.Zxid
	err        error // sticky failure, wraps log.ErrSyncFailed
	// paused is set when a batch failed for a full disk (it wraps
	// log.ErrNoSpace): every append is refused with it until Resume.
	paused  error
	closing bool
	stats   Stats
	done    chan struct{} // closed when the flusher exits
}

type pending struct {
	recs  []log.Record
	bytes int
	done  chan error // buffered 1; receives exactly one value
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
	n := &Native{log: l, report: rep, o: o, lastQueued: l.LastZxid(), done: make(chan struct{})}
	n.cond = sync.NewCond(&n.mu)
	go n.flushLoop()
	return n, nil
}

// OpenReport returns what opening the log found (segments, records, a cut
// torn tail).
func (n *Native) OpenReport() log.OpenReport { return n.report }

// Append implements Engine.
func (n *Native) Append(ctx context.Context, recs []log.Record) error {
	ch := n.AppendAsync(recs)
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AppendAsync implements AsyncAppender.
func (n *Native) AppendAsync(recs []log.Record) <-chan error {
	ch := make(chan error, 1)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.admit(recs); err != nil {
		ch <- err
		return ch
	}
	if len(recs) == 0 {
		ch <- nil
		return ch
	}
	p := &pending{recs: recs, done: ch}
	for _, r := range recs {
		p.bytes += len(r.Data)
	}
	n.queue = append(n.queue, p)
	n.lastQueued = recs[len(recs)-1].Zxid
	n.cond.Signal()
	return ch
}

// admit checks that recs may be enqueued. Caller holds mu.
func (n *Native) admit(recs []log.Record) error {
	switch {
	case n.closing:
		return ErrClosed
	case n.err != nil:
		return n.err
	case n.paused != nil:
		return n.paused
	}
	return checkOrder(n.lastQueued, recs)
}

// Resume lets appends in again after a failure for a full disk (see
// Native). The next batch retries the disk; if it is still full that batch
// fails and the engine pauses again. It returns the sticky failure, if any,
// in which case nothing resumes.
func (n *Native) Resume() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.err != nil {
		return n.err
	}
	n.paused = nil
	return nil
}

// Paused returns the disk-full failure that is holding appends back, nil
// if none.
func (n *Native) Paused() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

// checkOrder checks recs' zxids increase from after last, and their sizes.
func checkOrder(last log.Zxid, recs []log.Record) error {
	for _, r := range recs {
		if r.Zxid <= last {
			return fmt.Errorf("engine: %w: append %v after %v", log.ErrOutOfOrder, r.Zxid, last)
		}
		if len(r.Data) > log.MaxRecordBytes {
			return fmt.Errorf("engine: %w: zxid %v has %d bytes", log.ErrRecordTooLarge, r.Zxid, len(r.Data))
		}
		last = r.Zxid
	}
	return nil
}

// flushLoop is the group-commit loop (the flusher). It exits once closing
// is set and the queue is drained.
func (n *Native) flushLoop() {
	defer close(n.done)
	var batch []*pending
	var recs []log.Record
	for {
		n.mu.Lock()
		for len(n.queue) == 0 && !n.closing {
			n.cond.Wait()
		}
		if len(n.queue) == 0 {
			n.mu.Unlock()
			return
		}
		batch = batch[:0]
		nrec, nbytes := 0, 0
		for _, p := range n.queue {
			if len(batch) > 0 && (nrec+len(p.recs) > n.o.MaxBatchRecords || nbytes+p.bytes > n.o.MaxBatchBytes) {
				break
			}
			batch = append(batch, p)
			nrec += len(p.recs)
			nbytes += p.bytes
		}
		rest := copy(n.queue, n.queue[len(batch):])
		clear(n.queue[rest:])
		n.queue = n.queue[:rest]
		n.mu.Unlock()

		recs = recs[:0]
		for _, p := range batch {
			recs = append(recs, p.recs...)
		}
		n.wmu.Lock()
		err := n.log.Append(recs...)
		start := n.o.Now()
		if err == nil {
			err = n.log.Sync()
		}
		lat := n.o.Now().Sub(start)
		n.wmu.Unlock()
		clear(recs) // drop references to callers' data

		n.mu.Lock()
		var failed []*pending
		switch {
		case err != nil && errors.Is(err, log.ErrNoSpace) && n.err == nil:
			n.paused = fmt.Errorf("engine: appends paused until Resume: %w", err)
			err = n.paused
			failed, n.queue = n.queue, nil
		case err != nil:
			n.setErr(err)
			err = n.err
			failed, n.queue = n.queue, nil
		default:
			n.stats.Fsyncs++
			n.stats.Records += uint64(nrec)
			n.stats.Bytes += uint64(nbytes)
			n.stats.FsyncLatency.observe(lat, n.stats.Fsyncs)
		}
		n.mu.Unlock()
		for _, p := range batch {
			p.done <- err
		}
		for _, p := range failed {
			p.done <- err
		}
		clear(batch)
	}
}

// setErr makes err the sticky failure if there is none yet. Caller holds mu.
func (n *Native) setErr(err error) {
	if n.err == nil {
		n.err = fmt.Errorf("engine: %w", err)
	}
}

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

// TruncateAfter implements Engine.
func (n *Native) TruncateAfter(z log.Zxid) error {
	// Checked before and after taking wmu: fail fast rather than wait for
	// a batch in flight, and be sure nothing was queued meanwhile.
	if err := n.truncateAllowed(z); err != nil {
		return err
	}
	n.wmu.Lock()
	defer n.wmu.Unlock()
	if err := n.truncateAllowed(z); err != nil {
		return err
	}
	err := n.log.TruncateAfter(z)
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		n.setErr(err)
		return n.err
	}
	if len(n.queue) == 0 {
		n.lastQueued = n.log.LastZxid()
	}
	return nil
}

func (n *Native) truncateAllowed(z log.Zxid) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case n.closing:
		return ErrClosed
	case n.err != nil:
		return n.err
	case len(n.queue) > 0:
		return fmt.Errorf("%w: truncate after %v with %d appends queued", ErrBusy, z, len(n.queue))
	}
	return nil
}

// PurgeBefore implements Engine.
func (n *Native) PurgeBefore(z log.Zxid) error {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	n.mu.Lock()
	closing := n.closing
	n.mu.Unlock()
	if closing {
		return ErrClosed
	}
	return n.log.PurgeBefore(z)
}

// Stats implements StatsReporter.
func (n *Native) Stats() Stats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}

// Close implements Engine: queued appends are committed (or failed) first.
func (n *Native) Close() error {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return ErrClosed
	}
	n.closing = true
	n.cond.Broadcast()
	n.mu.Unlock()
	<-n.done
	n.wmu.Lock()
	defer n.wmu.Unlock()
	return n.log.Close()
}
