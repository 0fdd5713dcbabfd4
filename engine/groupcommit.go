package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"zabd/log"
)

// GroupCommitOptions bound the batches of a GroupCommitter. The zero value
// is usable.
type GroupCommitOptions struct {
	// MaxBatchRecords and MaxBatchBytes (of record Data) bound one group
	// commit. A single Append larger than either is committed alone, never
	// split. Defaults 4096 and 4 MiB (as NativeOptions).
	MaxBatchRecords int
	MaxBatchBytes   int
	// Now reads the clock for commit latency stats; default time.Now.
	Now func() time.Time
	// OnCommit, if set, is told of each group commit made durable, in
	// zxid order: its records, their Data bytes and the time the commit
	// took. It runs after the commit's callers are released, with the
	// committer's lock held, so it must be quick and must not call the
	// committer (a metrics observation).
	OnCommit func(records, bytes int, took time.Duration)
	// SyncsInFlight bounds the batches written and not yet durable when
	// the store splits a commit into a write and a sync (the native log):
	// with 2, the next batch is written and its sync started while the
	// previous one's sync runs, so a request waits for about one sync
	// instead of the rest of the one in flight and then its own. Callers
	// are still released in zxid order, each batch only once its own
	// sync (or a later one) returned and every earlier batch is durable.
	// Default 1 (no overlap); stores that cannot split ignore it.
	SyncsInFlight int
	// OverlapMinRecords: while a sync is in flight, the next batch is
	// written and synced beside it only once at least this many records
	// are queued; a smaller one waits for the sync in flight (and grows
	// meanwhile). Overlapping a sync for one or two records costs a sync's
	// CPU and halves the next batch. Default 1 (any batch).
	OverlapMinRecords int
}

func (o *GroupCommitOptions) fill() error {
	if o.MaxBatchRecords < 0 || o.MaxBatchBytes < 0 || o.SyncsInFlight < 0 || o.OverlapMinRecords < 0 {
		return fmt.Errorf("engine: negative batch bound in %+v", *o)
	}
	if o.SyncsInFlight == 0 {
		o.SyncsInFlight = 1
	}
	if o.OverlapMinRecords == 0 {
		o.OverlapMinRecords = 1
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

// CommitFunc writes recs and makes them durable before it returns (one
// write and one sync of the store under it). Records must reach the store
// in slice order, so that after a crash the durable ones are a prefix. It
// must not keep recs or their Data after it returns. Calls never overlap.
//
// An error matching log.ErrNoSpace promises that nothing of recs became
// durable or visible and that the store may take writes again once there
// is space (the native log rolls itself back to its last Sync): the
// committer pauses instead of failing for good. A store that cannot
// promise that must not return such an error (any other error is sticky).
type CommitFunc func(recs []log.Record) error

// stagedCommit is a commit split in two: write writes recs (in slice
// order, after every earlier batch) and returns the point sync then makes
// durable; sync reports how long it took (the FsyncLatency sample). The
// write runs with the write side held; the sync does not, and up to
// SyncsInFlight syncs run at once, each started after its batch's write
// returned. A sync that returns nil promises its batch durable. Errors
// follow CommitFunc's rules; a write that fails for a full disk must leave
// every earlier batch's sync able to finish. Two functions and a value
// passed between them, not a sync closure per batch: a group commit then
// allocates nothing.
type stagedCommit struct {
	write func(recs []log.Record) (syncPoint, error)
	sync  func(syncPoint) (time.Duration, error)
}

// syncPoint is what a staged write hands its sync: the native log's
// point to make durable, or the time a one-call commit took.
type syncPoint struct {
	log  log.SyncPoint
	took time.Duration
}

// GroupCommitter is the group-commit loop of every engine: callers enqueue,
// one flusher goroutine takes everything queued (up to the batch bounds),
// hands it to the commit function as one batch, and wakes every waiter of
// that batch. While a commit runs, new appends queue for the next one, so
// the number of syncs adapts to load with no timer (the shape of pebble's
// record.LogWriter flush loop). A store whose commit splits into a write
// and a sync (stagedCommit, the native log) may have SyncsInFlight batches
// written and syncing at once; waiters are still woken in zxid order, a
// batch only once it and every batch before it are durable. It keeps the
// ordering, stickiness and visibility rules of Engine.
//
// A full disk is the one failure that is not sticky. When the commit
// function fails a batch with an error matching log.ErrNoSpace (see
// CommitFunc), that batch, everything queued behind it, and every later
// append fail with that error until Resume: a caller whose later records
// were prepared assuming the failed ones (the zab pipeline) must first
// discard that state, then Resume. lastQueued is not rolled back, so the
// zxids of failed records are never accepted again (the store sees a gap).
//
// Concurrency: all methods are safe for concurrent use. mu guards the queue
// and the fields marked below; wmu serializes the commit's write with
// Exclusive and Truncate (the store's write side has one owner at a time),
// which also wait for the syncs in flight. Lock order: wmu before mu.
type GroupCommitter struct {
	write stagedCommit
	o     GroupCommitOptions

	wmu sync.Mutex

	mu   sync.Mutex
	cond *sync.Cond // signalled when queue grows or closing is set
	// Guarded by mu.
	// Invariant: durable <= lastQueued; queued zxids strictly increase and
	// are all above durable; lastQueued is the last of them (or durable,
	// or the last zxid of a batch that failed).
	queue      []*pending
	queuedRecs int // records in queue
	lastQueued log.Zxid
	durable    log.Zxid
	err        error // sticky failure, wraps log.ErrSyncFailed
	// paused is set when a batch failed for a full disk (it wraps
	// log.ErrNoSpace): every append is refused with it until Resume.
	paused error
	// writing: the flusher has taken a batch off the queue and not yet
	// written it (or failed it). A truncate is refused (ErrBusy) while it
	// is set or the queue is not empty.
	writing bool
	// syncing: the batches written and not yet reported, oldest first
	// (at most SyncsInFlight). A batch leaves from the front only, once
	// its sync is done, so callers are released in zxid order.
	syncing []*syncBatch
	// syncFailed: a reported batch failed its sync; every later one fails
	// too, even if its own sync returned nil (no gap in what was acked).
	syncFailed bool
	// drained is signalled when syncing becomes empty (Truncate,
	// Exclusive and the flusher's failure path wait for it).
	drained *sync.Cond
	// truncating: a Truncate is cutting the store; appends are refused
	// with ErrBusy meanwhile, since they would be admitted against a last
	// zxid that is about to go (no append may pass a truncate).
	truncating bool
	closing    bool
	stats      Stats
	// spareBatches are reported batches kept for the flusher's next
	// ones (with their arrays), so a group commit allocates nothing.
	spareBatches []*syncBatch
	done         chan struct{} // closed when the flusher exits
}

// maxSpareBatches bounds spareBatches (SyncsInFlight is small) and
// maxKeptPendings the array a kept batch keeps.
const (
	maxSpareBatches = 4
	maxKeptPendings = 1024
)

type pending struct {
	recs  []log.Record
	bytes int
	done  chan<- error // buffered 1; receives exactly one value
}

// pendings recycles pending records: one per append otherwise.
var pendings = sync.Pool{New: func() any { return new(pending) }}

// answer sends p's outcome and recycles p, which nothing reads after.
func (p *pending) answer(err error) {
	p.done <- err
	*p = pending{}
	pendings.Put(p)
}

// syncBatch is a batch written to the store and waiting for its sync.
type syncBatch struct {
	batch  []*pending
	nrec   int
	nbytes int
	last   log.Zxid
	// Set under mu when the sync returned.
	done bool
	lat  time.Duration
	err  error
}

// NewGroupCommitter starts a flusher over a store whose last durable
// record is last. FsyncLatency counts the whole of each commit call.
func NewGroupCommitter(last log.Zxid, o GroupCommitOptions, commit CommitFunc) (*GroupCommitter, error) {
	if err := o.fill(); err != nil {
		return nil, err
	}
	o.SyncsInFlight = 1 // the commit is one call: nothing to overlap
	now := o.Now
	return newGroupCommitter(last, o, stagedCommit{
		write: func(recs []log.Record) (syncPoint, error) {
			start := now()
			if err := commit(recs); err != nil {
				return syncPoint{}, err
			}
			return syncPoint{took: now().Sub(start)}, nil
		},
		sync: func(p syncPoint) (time.Duration, error) { return p.took, nil },
	}), nil
}

// newGroupCommitter starts a flusher; o is filled.
func newGroupCommitter(last log.Zxid, o GroupCommitOptions, write stagedCommit) *GroupCommitter {
	g := &GroupCommitter{write: write, o: o, lastQueued: last, durable: last, done: make(chan struct{})}
	g.cond = sync.NewCond(&g.mu)
	g.drained = sync.NewCond(&g.mu)
	go g.flushLoop()
	return g
}

// Append enqueues recs and waits until they are durable (Engine.Append).
func (g *GroupCommitter) Append(ctx context.Context, recs []log.Record) error {
	ch := g.AppendAsync(recs)
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AppendAsync implements AsyncAppender.
func (g *GroupCommitter) AppendAsync(recs []log.Record) <-chan error {
	ch := make(chan error, 1)
	g.AppendAsyncInto(recs, ch)
	return ch
}

// AppendAsyncInto is AppendAsync answering on done, a channel the caller
// owns and reuses: it must have room for the one value (buffered, and
// emptied since its last use). A pipeline appending one txn at a time is
// spared a channel per append.
func (g *GroupCommitter) AppendAsyncInto(recs []log.Record, done chan<- error) {
	if cap(done) == 0 {
		// The answer is sent holding mu: it must never block.
		panic("engine: AppendAsyncInto needs a buffered channel")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.admit(recs); err != nil {
		done <- err
		return
	}
	if len(recs) == 0 {
		done <- nil
		return
	}
	p := pendings.Get().(*pending)
	p.recs, p.done = recs, done
	for _, r := range recs {
		p.bytes += len(r.Data)
	}
	g.queue = append(g.queue, p)
	g.queuedRecs += len(recs)
	g.lastQueued = recs[len(recs)-1].Zxid
	if g.mayTake() {
		// Only then: waking the flusher for a batch it may not take yet
		// costs a goroutine switch per append (all of them on one P).
		g.cond.Signal()
	}
}

// admit checks that recs may be enqueued. Caller holds mu.
func (g *GroupCommitter) admit(recs []log.Record) error {
	switch {
	case g.closing:
		return ErrClosed
	case g.err != nil:
		return g.err
	case g.paused != nil:
		return g.paused
	case g.truncating:
		return fmt.Errorf("%w: append during a truncate", ErrBusy)
	}
	return checkOrder(g.lastQueued, recs)
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

// Resume lets appends in again after a failure for a full disk (see
// GroupCommitter). The next batch retries the disk; if it is still full
// that batch fails and the committer pauses again. It returns the sticky
// failure, if any, in which case nothing resumes.
func (g *GroupCommitter) Resume() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return g.err
	}
	g.paused = nil
	return nil
}

// Paused returns the disk-full failure that is holding appends back, nil
// if none.
func (g *GroupCommitter) Paused() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.paused
}

// LastZxid returns the last durable zxid.
func (g *GroupCommitter) LastZxid() log.Zxid {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.durable
}

// Stats implements StatsReporter: Fsyncs counts successful commits.
func (g *GroupCommitter) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

func (g *GroupCommitter) flushLoop() {
	defer close(g.done)
	var recs []log.Record
	for {
		g.mu.Lock()
		for !g.mayTake() && !(g.closing && len(g.queue) == 0) {
			g.cond.Wait()
		}
		if len(g.queue) == 0 {
			g.waitDrained()
			g.mu.Unlock()
			return
		}
		var b *syncBatch
		if n := len(g.spareBatches); n > 0 {
			b = g.spareBatches[n-1]
			g.spareBatches[n-1] = nil
			g.spareBatches = g.spareBatches[:n-1]
		} else {
			b = &syncBatch{}
		}
		for _, p := range g.queue {
			if len(b.batch) > 0 && (b.nrec+len(p.recs) > g.o.MaxBatchRecords || b.nbytes+p.bytes > g.o.MaxBatchBytes) {
				break
			}
			b.batch = append(b.batch, p)
			b.nrec += len(p.recs)
			b.nbytes += p.bytes
		}
		rest := copy(g.queue, g.queue[len(b.batch):])
		clear(g.queue[rest:])
		g.queue = g.queue[:rest]
		g.queuedRecs -= b.nrec
		g.writing = true
		g.mu.Unlock()

		recs = recs[:0]
		for _, p := range b.batch {
			recs = append(recs, p.recs...)
		}
		b.last = recs[len(recs)-1].Zxid
		g.wmu.Lock()
		at, err := g.write.write(recs)
		clear(recs) // drop references to callers' data
		if err != nil {
			g.writeFailed(b, err)
			continue
		}
		g.mu.Lock()
		g.writing = false
		g.syncing = append(g.syncing, b)
		g.mu.Unlock()
		if g.o.SyncsInFlight == 1 {
			// Still holding wmu, so a Truncate or Exclusive waiting for
			// this commit sees its outcome.
			g.finishSync(b, at)
			g.wmu.Unlock()
			continue
		}
		g.wmu.Unlock()
		go g.finishSync(b, at)
	}
}

// mayTake says whether the flusher may take a batch now: something is
// queued, and no sync is in flight, or fewer than SyncsInFlight are and at
// least OverlapMinRecords records are queued. Caller holds mu.
func (g *GroupCommitter) mayTake() bool {
	switch {
	case len(g.queue) == 0:
		return false
	case len(g.syncing) == 0:
		return true
	case len(g.syncing) >= g.o.SyncsInFlight:
		return false
	}
	return g.queuedRecs >= g.o.OverlapMinRecords
}

// writeFailed reports a batch whose write failed, after every batch before
// it (their syncs finish on their own), and fails the queue behind it. A
// full disk pauses the committer; anything else is sticky. Caller holds
// wmu, which it releases.
func (g *GroupCommitter) writeFailed(b *syncBatch, err error) {
	g.mu.Lock()
	g.writing = false
	g.waitDrained()
	var failed []*pending
	switch {
	case errors.Is(err, log.ErrNoSpace) && g.err == nil:
		g.paused = fmt.Errorf("engine: appends paused until Resume: %w", err)
		err = g.paused
	default:
		g.setErr(err)
		err = g.err
	}
	failed, g.queue, g.queuedRecs = g.queue, nil, 0
	g.mu.Unlock()
	g.wmu.Unlock()
	for _, p := range b.batch {
		p.answer(err)
	}
	for _, p := range failed {
		p.answer(err)
	}
}

// finishSync runs a written batch's sync, then reports every batch at the
// front of syncing whose sync is done, in order: the callers of a batch
// are released only when it and every batch before it are durable. A
// failed sync is sticky and fails the queue.
func (g *GroupCommitter) finishSync(b *syncBatch, at syncPoint) {
	lat, err := g.write.sync(at)
	g.mu.Lock()
	b.done, b.lat, b.err = true, lat, err
	var failed []*pending
	if err != nil {
		g.setErr(err)
		failed, g.queue, g.queuedRecs = g.queue, nil, 0
	}
	var readyBuf [maxSpareBatches]*syncBatch
	ready := readyBuf[:0]
	for len(g.syncing) > 0 && g.syncing[0].done {
		r := g.syncing[0]
		// Shifted down, not resliced: the array stays for the next
		// batches (at most SyncsInFlight long).
		n := copy(g.syncing, g.syncing[1:])
		g.syncing[n] = nil
		g.syncing = g.syncing[:n]
		if r.err != nil || g.syncFailed {
			g.syncFailed = true
			r.err = g.err
		} else {
			g.durable = r.last
			g.stats.Fsyncs++
			g.stats.Records += uint64(r.nrec)
			g.stats.Bytes += uint64(r.nbytes)
			g.stats.FsyncLatency.observe(r.lat, g.stats.Fsyncs)
		}
		ready = append(ready, r)
	}
	if len(ready) > 0 {
		g.cond.Signal() // a slot for the flusher
		if len(g.syncing) == 0 {
			g.drained.Broadcast()
		}
	}
	// Released under mu, so that two finishing syncs cannot release their
	// batches out of order (the sends never block: buffered 1).
	for _, r := range ready {
		for _, p := range r.batch {
			p.answer(r.err)
		}
		clear(r.batch)
		if r.err == nil && g.o.OnCommit != nil {
			g.o.OnCommit(r.nrec, r.nbytes, r.lat)
		}
		if len(g.spareBatches) < maxSpareBatches && cap(r.batch) <= maxKeptPendings {
			*r = syncBatch{batch: r.batch[:0]}
			g.spareBatches = append(g.spareBatches, r)
		}
	}
	for _, p := range failed {
		p.answer(g.err)
	}
	g.mu.Unlock()
}

// waitDrained waits until no written batch waits for its sync. Caller
// holds mu (and, to keep new ones out, wmu or the flusher's role).
func (g *GroupCommitter) waitDrained() {
	for len(g.syncing) > 0 {
		g.drained.Wait()
	}
}

// setErr makes err the sticky failure if there is none yet, wrapping
// log.ErrSyncFailed. Caller holds mu.
func (g *GroupCommitter) setErr(err error) {
	if g.err != nil {
		return
	}
	if errors.Is(err, log.ErrSyncFailed) {
		g.err = fmt.Errorf("engine: %w", err)
	} else {
		g.err = fmt.Errorf("engine: %w: %w", log.ErrSyncFailed, err)
	}
}

// Truncate runs truncate, which durably removes every record above z and
// returns the new last zxid, with the write side held. It fails with
// ErrBusy while appends are queued or a batch is being committed,
// ErrClosed after Close, and the sticky error after a failure; a failing
// truncate becomes the sticky failure. Appends made while truncate runs
// are refused with ErrBusy: none is admitted against the old last zxid,
// so none can be committed after the cut.
func (g *GroupCommitter) Truncate(z log.Zxid, truncate func() (log.Zxid, error)) error {
	// Checked before taking wmu too: fail fast rather than wait for a
	// commit in flight.
	g.mu.Lock()
	err := g.truncateAllowed(z)
	g.mu.Unlock()
	if err != nil {
		return err
	}
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	g.waitDrained()
	if err := g.truncateAllowed(z); err != nil {
		g.mu.Unlock()
		return err
	}
	if g.durable <= z {
		g.mu.Unlock()
		return nil
	}
	g.truncating = true
	g.mu.Unlock()

	last, err := truncate()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.truncating = false
	if err != nil {
		g.setErr(err)
		return g.err
	}
	if last > z {
		panic(fmt.Sprintf("engine: truncate after %v left last zxid %v", z, last))
	}
	// Nothing was admitted while truncating, and nothing was queued or in
	// flight before: the queue is empty.
	g.durable, g.lastQueued = last, last
	return nil
}

// truncateAllowed says why a truncate may not start now, if it may not.
// Caller holds mu.
func (g *GroupCommitter) truncateAllowed(z log.Zxid) error {
	switch {
	case g.closing:
		return ErrClosed
	case g.err != nil:
		return g.err
	case len(g.queue) > 0 || g.writing || len(g.syncing) > 0:
		return fmt.Errorf("%w: truncate after %v with %d appends queued, %d batches syncing (writing one: %v)", ErrBusy, z, len(g.queue), len(g.syncing), g.writing)
	}
	return nil
}

// Exclusive runs f with the write side held (no commit runs meanwhile),
// passing the last durable zxid. It fails with ErrClosed after Close.
func (g *GroupCommitter) Exclusive(f func(last log.Zxid) error) error {
	g.wmu.Lock()
	defer g.wmu.Unlock()
	g.mu.Lock()
	g.waitDrained()
	closing, last := g.closing, g.durable
	g.mu.Unlock()
	if closing {
		return ErrClosed
	}
	return f(last)
}

// Close commits (or fails) everything queued, stops the flusher and waits
// for any Exclusive or Truncate in progress. The caller may then close the
// store. A second Close returns ErrClosed.
func (g *GroupCommitter) Close() error {
	g.mu.Lock()
	if g.closing {
		g.mu.Unlock()
		return ErrClosed
	}
	g.closing = true
	g.cond.Broadcast()
	g.mu.Unlock()
	<-g.done
	g.wmu.Lock()
	g.wmu.Unlock() //nolint:staticcheck // a barrier: waits for Exclusive/Truncate in flight
	return nil
}
