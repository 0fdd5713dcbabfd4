package zab

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"zabd/log"
	"zabd/tree"
)

// Storage is what the pipeline needs of an engine: an ordered, durable,
// group-committed append split into enqueue and wait. AppendAsync enqueues
// recs after everything enqueued before (zxids strictly increasing) and
// returns a channel that receives exactly one value: nil once they are
// durable, or the error (engine.AsyncAppender).
type Storage interface {
	AppendAsync(recs []log.Record) <-chan error
	LastZxid() log.Zxid
}

// appenderInto is Storage that answers into a channel the caller owns and
// reuses (engine.GroupCommitter.AppendAsyncInto): the pipeline's entries,
// recycled, then cost no channel per txn, and each keeps its txn's
// encoding buffer, which such storage must no longer read once it
// answered. The pipeline uses it whenever the storage has the method: a
// wrapper that embeds an engine and changes AppendAsync must change
// AppendAsyncInto too, or the embedded one bypasses it.
type appenderInto interface {
	AppendAsyncInto(recs []log.Record, done chan<- error)
}

// dataKeeper is appenderInto storage that keeps a record's data after it
// answered (a ZAB leader's replication hands it to followers and to its
// log): the pipeline then encodes each txn into a buffer of its own, and
// only the channel is the entry's.
type dataKeeper interface {
	KeepsRecordData() bool
}

// ErrStopped is returned for requests submitted after Close.
var ErrStopped = errors.New("zab: pipeline stopped")

// ErrStorageFailed wraps the storage error that stopped the pipeline taking
// writes. It is sticky: every later write gets it.
var ErrStorageFailed = errors.New("zab: storage failed, not taking writes")

// ErrDiskFull wraps a storage error matching log.ErrNoSpace from storage
// that can resume (engine.Native): the write was refused and nothing of it
// was kept, reads go on, and later writes are tried again. Clients get
// SystemError (see the package doc).
var ErrDiskFull = errors.New("zab: disk full, write refused")

// resumer is storage whose full-disk failures are not sticky: after an
// append fails with log.ErrNoSpace it refuses every append until Resume
// (engine.Native).
type resumer interface{ Resume() error }

// Done receives a request's outcome. It is called exactly once, from the
// applier goroutine, and must not block.
type Done func(res tree.Result, err error)

// Applied receives the outcome of a txn another member committed
// (ApplyCommitted) with the txn itself, so one function serves every txn
// instead of a closure per txn. It is called as Done is and must not
// keep txn.
type Applied func(txn *tree.Txn, res tree.Result, err error)

// Deliverer hands watch deliveries to the connections. It is called on the
// applier goroutine, under the tree lock, and must not block.
type Deliverer func(ds []tree.Delivery)

// PipelineConfig configures a standalone pipeline.
type PipelineConfig struct {
	Tree *tree.Tree // recovered tree; the pipeline owns it from now on
	// TreeLock guards Tree. A pipeline that takes over a tree from
	// another (a quorum member becoming leader) must share the old one's
	// (TreeLock()), so readers still holding the old pipeline exclude
	// the new one's applier. Nil: a lock of the pipeline's own.
	TreeLock *sync.RWMutex
	Storage  Storage
	// Epoch is the epoch to stamp; must be above the epoch of every zxid
	// already in Storage. Zero means it could not be chosen at start (the
	// disk was full when it was to be recorded): the pipeline starts with
	// writes refused (EpochErr says why, as a full disk) and calls
	// ChooseEpoch before the next write until it succeeds.
	Epoch       uint32
	ChooseEpoch func() (uint32, error)
	EpochErr    error
	// MaxBatchTxns bounds how many txns the applier applies before it
	// releases their pending overlay entries (and sizes the queue).
	MaxBatchTxns int
	Now          func() time.Time
	Logger       *slog.Logger
	// AfterApply, if set, is called on the applier goroutine after each
	// applied batch with the batch's last zxid and its txn count (the
	// snapshotter counts txns with it). It must not block.
	AfterApply func(lastZxid int64, txns int)
	// OnBatch, if set, is called on the applier goroutine with true before
	// it answers a run of entries (done callbacks) and with false after,
	// before it waits for more entries or for the disk: the client side
	// may hold the answers in between and write each connection's at once
	// (net.Server.Batching). It must not block.
	OnBatch func(begin bool)
	// Quorum makes the pipeline a ZAB leader's for one epoch (package
	// member): zxids continue from Counter in Epoch, Storage is the
	// replication (durable means committed by a quorum), a request that
	// fails prep is logged as its error txn (as ZooKeeper's leader does,
	// so followers learn the answer from the log), and the counter never
	// rolls over into a new epoch (only an election starts one).
	Quorum  bool
	Counter uint32
}

func (c *PipelineConfig) validate() error {
	if c.Tree == nil || c.Storage == nil {
		return errors.New("zab: pipeline needs a tree and storage")
	}
	if c.Epoch == 0 {
		if c.ChooseEpoch == nil {
			return errors.New("zab: no epoch and no way to choose one")
		}
		if c.EpochErr == nil {
			c.EpochErr = errors.New("zab: the epoch is not chosen yet")
		}
	} else if c.Quorum {
		// The epoch is the election's; the log's last zxid may be of
		// this epoch already (a member that stops leading keeps its
		// log).
	} else if err := c.checkEpoch(c.Epoch); err != nil {
		return err
	}
	if c.MaxBatchTxns <= 0 {
		c.MaxBatchTxns = 1000
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// checkEpoch refuses an epoch not above the last logged zxid's.
func (c *PipelineConfig) checkEpoch(epoch uint32) error {
	if last := c.Storage.LastZxid(); uint32(uint64(last)>>32) >= epoch {
		return fmt.Errorf("zab: epoch %d not above last logged zxid %s", epoch, last)
	}
	return nil
}

// entry is one request in flight: a write that prepared (zxid set, txn
// holds it) or an answer known at prep (zxid 0, res: an error, or sync).
type entry struct {
	sid     int64
	zxid    int64 // 0 for entries that carry no txn
	txn     tree.Txn
	rec     [1]log.Record // the txn's log record, handed to storage
	durable <-chan error  // the engine's answer for txn's record
	res     tree.Result
	err     error // an answer known at Submit: the request could not be ordered
	sync    bool  // a sync: answered in its place even after a storage failure
	done    Done
	applied Applied       // instead of done, for a txn another member committed
	barrier chan struct{} // if set, the entry only marks a place: closed when the applier reaches it
	// own and buf stay with the entry when it is recycled: the channel
	// appenderInto storage answers on (empty whenever the entry is not
	// in flight), and the buffer the txn was encoded into.
	own chan error
	buf []byte
}

// entries recycles entries once answered: the applier is the last to
// read one, and nothing keeps it after done. Every answered entry comes
// from newEntry (a barrier is never answered).
var entries = sync.Pool{New: func() any { return &entry{own: make(chan error, 1)} }}

func newEntry() *entry { return entries.Get().(*entry) }

// maxKeptBuf bounds the encoding buffer a recycled entry keeps.
const maxKeptBuf = 16 << 10

// maxKeptEvents bounds the event array applyLoop keeps between txns: a big
// multi's events are left to the collector.
const maxKeptEvents = 64

// answer calls e.done (or e.applied) and recycles e.
func (e *entry) answer(res tree.Result, err error) {
	if e.applied != nil {
		e.applied(&e.txn, res, err)
	} else {
		e.done(res, err)
	}
	own, buf := e.own, e.buf[:0]
	if cap(buf) > maxKeptBuf {
		buf = nil
	}
	*e = entry{own: own, buf: buf}
	entries.Put(e)
}

// Pipeline is the standalone write path. Submit, Read and the tree
// accessors are safe for concurrent use.
//
// Lock order: prepMu, then pendingMu, then treeMu, then watchMu; failMu
// and statsMu are leaves. The applier never takes prepMu (Submit may hold
// it while waiting for room in the queue the applier drains).
type Pipeline struct {
	cfg  PipelineConfig
	into appenderInto // cfg.Storage, when it answers into the entry's channel
	// keeps: into keeps the records' data (dataKeeper), so no txn is
	// encoded into an entry's recycled buffer.
	keeps bool

	prepMu  sync.Mutex // guards epoch, counter, closed, sessions, and the order of enqueues (engine and queue)
	epoch   uint32
	counter uint32
	closed  bool
	// sessions are the sessions a write may come from: created (prepped)
	// and not closing. ZooKeeper's checkSession: a request from a session
	// whose closeSession is already ordered gets SessionExpired, so it can
	// never leave an ephemeral nobody will delete.
	sessions map[int64]bool

	pendingMu sync.Mutex // guards pending
	pending   *tree.Pending

	failMu sync.Mutex
	failed error // sticky storage failure
	// noSpace is set when a write failed for a full disk: the pending
	// overlay holds txns that will never apply, so the next Submit must
	// reset it (resumeAfterNoSpace) before it preps.
	noSpace atomic.Bool
	// diskFull is set from the first write refused for a full disk until
	// a write is durable again: the degraded state operators see (mntr,
	// ruok), logged once when it begins and once when it ends.
	diskFull    atomic.Bool
	diskFullErr error // the refusal that began it; guarded by failMu

	// applyEvents is applyLoop's: the array the last txn's watch events
	// were appended to, handed to the next (see tree.ApplyAppend).
	applyEvents []tree.WatchEvent
	treeMu      *sync.RWMutex // guards tree (Apply holds it exclusively); shared with pipelines handing the tree on
	tree        *tree.Tree
	watchMu     sync.Mutex // guards watches
	watches     *tree.Watches
	deliver     Deliverer

	queue   chan *entry // in zxid order; the applier drains it
	wg      sync.WaitGroup
	stats   Stats
	statsMu sync.Mutex
}

// Stats counts what the pipeline did, for mntr.
type Stats struct {
	Txns    uint64 // txns made durable and applied
	Batches uint64 // group commits issued
	Failed  string // the sticky storage failure, if any
}

// NewPipeline starts the logger and applier goroutines.
func NewPipeline(cfg PipelineConfig) (*Pipeline, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{
		cfg:      cfg,
		epoch:    cfg.Epoch,
		counter:  cfg.Counter,
		sessions: make(map[int64]bool),
		pending:  tree.NewPending(),
		tree:     cfg.Tree,
		treeMu:   cfg.TreeLock,
		watches:  tree.NewWatches(),
		deliver:  func([]tree.Delivery) {},
		queue:    make(chan *entry, 4*cfg.MaxBatchTxns),
	}
	if p.treeMu == nil {
		p.treeMu = new(sync.RWMutex)
	}
	p.into, _ = cfg.Storage.(appenderInto)
	if k, ok := cfg.Storage.(dataKeeper); ok && p.into != nil {
		p.keeps = k.KeepsRecordData()
	}
	p.treeMu.RLock()
	for sid := range cfg.Tree.Sessions() {
		p.sessions[sid] = true
	}
	p.treeMu.RUnlock()
	if p.epoch == 0 {
		// Writes are refused from the start, as after a full disk, until
		// the epoch is recorded and a write is durable.
		p.diskFull.Store(true)
		p.diskFullErr = cfg.EpochErr
	}
	p.wg.Add(1)
	go p.applyLoop()
	return p, nil
}

// TreeLock is the lock guarding the pipeline's tree, for a pipeline that
// takes the tree over (PipelineConfig.TreeLock).
func (p *Pipeline) TreeLock() *sync.RWMutex { return p.treeMu }

// SetDeliverer installs the watch delivery hook (net's). Call before
// serving clients.
func (p *Pipeline) SetDeliverer(d Deliverer) {
	p.treeMu.Lock()
	p.deliver = d
	p.treeMu.Unlock()
}

// Submit orders req for session sid after every request submitted before
// it and calls done once the request is durable and applied (or failed).
// Requests from one caller are ordered in the order of its Submit calls.
func (p *Pipeline) Submit(sid int64, req tree.Request, done Done) {
	p.submit(sid, req, tree.CodeOK, done)
}

// SubmitRefused orders req like Submit but logs it as failed with code
// (an error txn, quorum mode only): the leader refusing a write whose
// session moved to another member (CodeSessionMoved), so the member it
// came through answers it from its log like any other failure.
func (p *Pipeline) SubmitRefused(sid int64, req tree.Request, code tree.Code, done Done) {
	if !p.cfg.Quorum {
		done(tree.Result{}, fmt.Errorf("zab: SubmitRefused (%v) outside quorum mode", code))
		return
	}
	p.submit(sid, req, code, done)
}

func (p *Pipeline) submit(sid int64, req tree.Request, refuse tree.Code, done Done) {
	p.prepMu.Lock()
	defer p.prepMu.Unlock()
	if p.closed {
		done(tree.Result{}, ErrStopped)
		return
	}
	e := newEntry()
	e.sid, e.done, e.sync = sid, done, req.Op == tree.OpSync
	if !e.sync {
		// Failures answer in their place in the order too, so a reply
		// never overtakes an earlier one of the same session.
		if err := p.Failed(); err != nil {
			e.err = err
			p.queue <- e
			return
		}
		if p.noSpace.Load() {
			if err := p.resumeAfterNoSpace(); err != nil {
				e.err = err
				p.queue <- e
				return
			}
		}
		if p.epoch == 0 {
			if err := p.chooseEpoch(); err != nil {
				e.err = err
				p.queue <- e
				return
			}
		}
	}
	switch req.Op {
	case tree.OpSync:
		e.res = tree.Result{Path: req.Path}
		p.queue <- e
		return
	case tree.OpCreateSession:
	case tree.OpCloseSession:
		delete(p.sessions, sid)
	default:
		if sid != 0 && !p.sessions[sid] && !p.cfg.Quorum {
			e.res = tree.Result{Err: tree.CodeSessionExpired}
			p.queue <- e
			return
		}
	}
	if p.cfg.Quorum && sid != 0 && !p.sessions[sid] && req.Op != tree.OpCreateSession && req.Op != tree.OpCloseSession {
		refuse = tree.CodeSessionExpired
	}
	if p.counter == math.MaxUint32 && p.cfg.Quorum {
		// Only an election starts an epoch in quorum mode (the leader
		// steps down when its counter is exhausted).
		e.err = p.fail(errors.New("zxid counter exhausted in this epoch"))
		p.queue <- e
		return
	}
	if p.counter == math.MaxUint32 {
		// The counter would wrap: start a new epoch, as ZooKeeper's
		// leader does at rollover. The next start's epoch is above
		// every zxid in the log, so this one is never reused.
		p.epoch++
		p.counter = 0
		p.cfg.Logger.Info("zxid counter exhausted; new epoch", "epoch", p.epoch)
	}
	zxid := int64(uint64(p.epoch)<<32 | uint64(p.counter+1))
	hdr := tree.TxnHeader{Session: sid, Cxid: req.Cxid, Zxid: zxid, Time: p.cfg.Now().UnixMilli(), Type: req.Op}
	var txn tree.Txn
	var err error
	if refuse != tree.CodeOK {
		// Logged, so the member the session is connected to learns the
		// answer from its log.
		hdr.Type = tree.OpError
		txn, err = tree.Txn{TxnHeader: hdr, Err: refuse, FailedOp: req.Op, Path: req.Path}, refuse
	} else {
		p.pendingMu.Lock()
		p.treeMu.RLock()
		txn, err = p.tree.Prep(p.pending, req, hdr)
		p.treeMu.RUnlock()
		p.pendingMu.Unlock()
	}
	// A failure's txn is logged too (Prep returns it), as ZooKeeper logs
	// it: every member answers from what it applies (Apply of an OpError
	// txn, or of a failed multi, gives the prep's answer), and an audit
	// of the log sees who tried what and was refused.
	if req.Op == tree.OpCreateSession && err == nil {
		p.sessions[sid] = true
	}
	p.counter++
	e.zxid = zxid
	e.txn = txn
	if p.into != nil && !p.keeps {
		e.buf = tree.AppendTxn(e.buf[:0], txn)
		e.rec[0] = log.Record{Zxid: log.Zxid(zxid), Data: e.buf}
	} else {
		// Other storage may keep the record's data (a leader's
		// replicator sends it to followers): a buffer of its own.
		e.rec[0] = log.Record{Zxid: log.Zxid(zxid), Data: tree.AppendTxn(nil, txn)}
	}
	if p.into != nil {
		p.into.AppendAsyncInto(e.rec[:], e.own)
		e.durable = e.own
	} else {
		e.durable = p.cfg.Storage.AppendAsync(e.rec[:])
	}
	p.queue <- e
}

// committed is the durable channel of txns that arrive committed.
var committed = func() chan error { c := make(chan error); close(c); return c }()

// ApplyCommitted queues a txn another member committed (a ZAB follower's
// or observer's: package member), to be applied in its place after
// everything queued before it, its watches delivered, and applied (if
// not nil) called with it and its result. Its zxid must be above every
// txn queued before it.
func (p *Pipeline) ApplyCommitted(txn tree.Txn, applied Applied) {
	if applied == nil {
		applied = func(*tree.Txn, tree.Result, error) {}
	}
	p.prepMu.Lock()
	defer p.prepMu.Unlock()
	if p.closed {
		t := txn // only a refused txn's copy escapes
		applied(&t, tree.Result{}, ErrStopped)
		return
	}
	e := newEntry()
	e.sid, e.zxid, e.txn, e.durable, e.applied = txn.Session, txn.Zxid, txn, committed, applied
	p.queue <- e
}

// AnswerInOrder calls done once everything queued before it is applied,
// with the tree's last zxid then (a follower's sync: package member).
func (p *Pipeline) AnswerInOrder(path string, done Done) {
	p.prepMu.Lock()
	defer p.prepMu.Unlock()
	if p.closed {
		done(tree.Result{}, ErrStopped)
		return
	}
	e := newEntry()
	e.res, e.sync, e.done = tree.Result{Path: path}, true, done
	p.queue <- e
}

// chooseEpoch tries again to choose (and record) the epoch that could not
// be at start. A full disk refuses the write as ErrDiskFull, leaving
// writes refused; any other failure is sticky. Caller holds prepMu.
func (p *Pipeline) chooseEpoch() error {
	epoch, err := p.cfg.ChooseEpoch()
	if err == nil {
		err = p.cfg.checkEpoch(epoch)
	}
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			p.failMu.Lock()
			p.diskFullErr = err
			p.failMu.Unlock()
			return fmt.Errorf("%w: choosing the epoch: %w", ErrDiskFull, err)
		}
		return p.fail(fmt.Errorf("choosing the epoch: %w", err))
	}
	p.epoch = epoch
	p.cfg.Logger.Info("epoch chosen: writes are tried again", "epoch", epoch)
	return nil
}

// fail makes a storage error sticky (once) and returns the error the
// clients get.
func (p *Pipeline) fail(err error) error {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	if p.failed == nil {
		p.failed = fmt.Errorf("%w: %w", ErrStorageFailed, err)
		if p.cfg.Quorum {
			p.cfg.Logger.Info("this epoch's write path ended", "epoch", p.epoch, "why", err)
		} else {
			p.cfg.Logger.Error("storage failed; refusing writes from now on", "err", err)
		}
	}
	return p.failed
}

// refuseNoSpace answers a txn the storage refused for a full disk: not
// sticky, but the pending overlay must be reset before the next prep.
func (p *Pipeline) refuseNoSpace(err error) error {
	p.noSpace.Store(true)
	if !p.diskFull.Load() {
		p.failMu.Lock()
		p.diskFullErr = err
		p.failMu.Unlock()
		p.diskFull.Store(true)
		p.cfg.Logger.Error("writes stopped: disk full; refusing writes until there is space, reads go on", "err", err)
	}
	return fmt.Errorf("%w: %w", ErrDiskFull, err)
}

// WritesRefused says why writes are refused now ("" when they are not):
// the sticky storage failure, or a full disk until a write is durable
// again.
func (p *Pipeline) WritesRefused() string {
	if err := p.Failed(); err != nil {
		return err.Error()
	}
	if p.diskFull.Load() {
		p.failMu.Lock()
		defer p.failMu.Unlock()
		return fmt.Sprintf("%v: %v", ErrDiskFull, p.diskFullErr)
	}
	return ""
}

// resumeAfterNoSpace runs before the first prep after a write failed for a
// full disk. The storage refuses every append from that failure until
// Resume, so every txn prepped since the failed one failed too (they were
// prepped against an overlay holding it). It waits until the applier has
// answered everything queued, drops the whole pending overlay (all of it is
// applied or failed), and lets the storage take appends again. The zxids of
// the failed txns are not reused. Caller holds prepMu, so nothing is
// enqueued meanwhile; the applier does not need prepMu.
func (p *Pipeline) resumeAfterNoSpace() error {
	b := make(chan struct{})
	p.queue <- &entry{barrier: b}
	<-b
	p.pendingMu.Lock()
	p.pending.Applied(int64(uint64(p.epoch)<<32 | uint64(p.counter)))
	p.pendingMu.Unlock()
	p.noSpace.Store(false)
	if err := p.cfg.Storage.(resumer).Resume(); err != nil {
		return p.fail(err)
	}
	return nil
}

// applyLoop takes entries in zxid order, waits for each txn to be durable
// (the engine group-commits everything enqueued while a sync runs), applies
// it, delivers its watch events, and answers. Entries without a txn are
// answered in their place in the order.
func (p *Pipeline) applyLoop() {
	defer p.wg.Done()
	var last int64
	applied := 0
	// poisoned is set once a txn failed: answers computed at prep time
	// after it (NodeExists, BadVersion, ...) may reflect the txn that
	// never happened, so they get the failure instead. The resume barrier
	// after a full disk clears it; a sticky failure never does.
	var poisoned error
	// answering: OnBatch(true) was called and the answers since are held
	// by the client side until OnBatch(false); released whenever this
	// goroutine is about to wait (for entries, or for the disk).
	answering := false
	release := func() {
		if answering && p.cfg.OnBatch != nil {
			p.cfg.OnBatch(false)
		}
		answering = false
	}
	defer release()
	for {
		var e *entry
		select {
		case e = <-p.queue:
		default:
			// The queue is empty: a batch is over.
			p.endBatch(last, applied)
			last, applied = 0, 0
			release()
			var ok bool
			if e, ok = <-p.queue; !ok {
				return
			}
		}
		if e == nil {
			p.endBatch(last, applied)
			return
		}
		if !answering && p.cfg.OnBatch != nil {
			p.cfg.OnBatch(true)
		}
		answering = true
		if e.barrier != nil {
			p.endBatch(last, applied)
			last, applied = 0, 0
			poisoned = nil
			release()
			close(e.barrier)
			continue
		}
		if e.err != nil {
			e.answer(tree.Result{}, e.err)
			continue
		}
		if e.zxid == 0 {
			if poisoned != nil && !e.sync {
				e.answer(tree.Result{}, poisoned)
				continue
			}
			p.treeMu.RLock()
			e.res.Zxid = p.tree.LastZxid()
			p.treeMu.RUnlock()
			e.answer(e.res, nil)
			continue
		}
		var err error
		select {
		case err = <-e.durable:
		default:
			release() // answers held must not wait for the next fsync
			err = <-e.durable
		}
		if err != nil {
			// A full disk is not sticky when the storage can resume: it
			// refuses everything enqueued after the failure (txns queued
			// behind the failed one were prepped against state that
			// includes it) until resumeAfterNoSpace, holding prepMu with
			// the queue drained and the pending overlay reset, tells it
			// to go on. Anything else (a failed fsync, EIO) is sticky.
			if _, ok := p.cfg.Storage.(resumer); ok && errors.Is(err, log.ErrNoSpace) {
				poisoned = p.refuseNoSpace(err)
			} else {
				poisoned = p.fail(err)
			}
			e.answer(tree.Result{}, poisoned)
			continue
		}
		if p.diskFull.Load() {
			p.diskFull.Store(false)
			p.cfg.Logger.Info("writes resumed: a write is durable again after the disk was full", "zxid", log.Zxid(e.zxid).String())
		}
		p.treeMu.Lock()
		res, evs := p.tree.ApplyAppend(e.txn, p.applyEvents[:0])
		if len(evs) > 0 {
			p.watchMu.Lock()
			ds := p.watches.TriggerAll(evs)
			p.watchMu.Unlock()
			if len(ds) > 0 {
				p.deliver(ds)
			}
		}
		if cap(evs) <= maxKeptEvents { // TriggerAll copied what it delivers
			clear(evs) // the paths hold their znodes' values: keep none alive
			p.applyEvents = evs
		}
		p.treeMu.Unlock()
		last = e.zxid // before answer recycles e
		e.answer(res, nil)
		applied++
		if applied >= p.cfg.MaxBatchTxns {
			p.endBatch(last, applied)
			last, applied = 0, 0
			release()
		}
	}
}

// endBatch does the per-batch bookkeeping after applying txns up to last.
func (p *Pipeline) endBatch(last int64, applied int) {
	if applied == 0 {
		return
	}
	p.pendingMu.Lock()
	p.pending.Applied(last)
	p.pendingMu.Unlock()
	p.statsMu.Lock()
	p.stats.Txns += uint64(applied)
	p.stats.Batches++
	p.statsMu.Unlock()
	if p.cfg.AfterApply != nil {
		p.cfg.AfterApply(last, applied)
	}
}

// Read answers a read from the tree, registering the watch the request
// asks for (for watcher w) atomically with the read.
func (p *Pipeline) Read(sid int64, w tree.WatcherID, req tree.Request) tree.Result {
	var res tree.Result
	p.ReadAnswer(sid, w, req, func(r tree.Result) { res = r })
	return res
}

// ReadAnswer is Read for a client connection: answer is called with the
// result while the tree is still held against writes, so the reply it
// queues goes out before any watch event a later txn triggers. A client
// library files a watch when the read's reply arrives (kazoo, the Java
// client) and drops an event for a watch it has not filed: were the event
// first, the watch would never fire for it (a lock waiter would wait for
// a predecessor that is already gone). ZooKeeper's single final request
// processor gives the same order. answer must not block.
func (p *Pipeline) ReadAnswer(sid int64, w tree.WatcherID, req tree.Request, answer func(tree.Result)) {
	p.treeMu.RLock()
	defer p.treeMu.RUnlock()
	res := p.tree.Read(req, sid)
	res.Zxid = p.tree.LastZxid()
	if req.Watch {
		p.watchMu.Lock()
		p.watches.AddForRead(w, req, res)
		p.watchMu.Unlock()
	}
	answer(res)
}

// WithWatches runs fn with the watch registry and the tree held still (for
// addWatch, setWatches, removeWatches, and the watch four-letter words).
// Deliveries fn returns are handed to the deliverer before it returns.
func (p *Pipeline) WithWatches(fn func(t *tree.Tree, w *tree.Watches) []tree.Delivery) {
	p.treeMu.RLock()
	defer p.treeMu.RUnlock()
	p.watchMu.Lock()
	ds := fn(p.tree, p.watches)
	p.watchMu.Unlock()
	if len(ds) > 0 {
		p.deliver(ds)
	}
}

// WithTree runs fn with the tree held still for reading.
func (p *Pipeline) WithTree(fn func(t *tree.Tree)) {
	p.treeMu.RLock()
	defer p.treeMu.RUnlock()
	fn(p.tree)
}

// Stats returns a copy of the counters.
func (p *Pipeline) Stats() Stats {
	p.statsMu.Lock()
	st := p.stats
	p.statsMu.Unlock()
	if err := p.Failed(); err != nil {
		st.Failed = err.Error()
	}
	return st
}

// Failed reports the sticky storage failure, if any.
func (p *Pipeline) Failed() error {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.failed
}

// Close stops taking requests, waits for everything in flight to be
// answered, and stops the goroutines. Safe to call more than once.
func (p *Pipeline) Close() {
	p.prepMu.Lock()
	if p.closed {
		p.prepMu.Unlock()
		return
	}
	p.closed = true
	close(p.queue)
	p.prepMu.Unlock()
	p.wg.Wait()
}
