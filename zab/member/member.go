package member

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/snapshot"
	"zabd/tree"
	"zabd/zab"
	"zabd/zab/peer"
)

// Transport carries messages between members (package transport).
type Transport interface {
	Send(m peer.Message)
	Recv() <-chan peer.Message
}

// Config configures a member.
type Config struct {
	ID        peer.ID
	Voters    []peer.ID
	Observers []peer.ID
	// TickTime is zoo.cfg's tickTime; InitLimit and SyncLimit are in
	// ticks, as in zoo.cfg. The core is ticked SubTicks times per tick
	// (default 10), so an election's finalize wait is a tenth of a tick
	// (ZooKeeper's is a fixed 200 ms, a tenth of its default tickTime).
	TickTime             time.Duration
	InitLimit, SyncLimit int
	SubTicks             int

	Engine Engine
	Snaps  *engine.SnapshotStore
	Dir    datadir.Dir
	// SnapshotCodec stores the snapshot a SNAP carries to a learner, who
	// saves it as it is (snapshotCodec; 0: snapshot's default).
	SnapshotCodec snapshot.Codec
	// Tree is the recovered state: every txn of the log applied.
	Tree *tree.Tree
	// PrepareTree, if set, is called with each tree the member installs
	// before anyone reads it (the recovered one, one rebuilt after a
	// TRUNC, one restored from the leader's snapshot), for the member's
	// local, unlogged state: the ensemble's config in /zookeeper/config.
	PrepareTree func(*tree.Tree)
	Transport   Transport
	Deliver     zab.Deliverer
	AfterApply  func(lastZxid int64, txns int)
	// OnBatch is each pipeline's zab.PipelineConfig.OnBatch: the client
	// side holds the replies answered between true and false, so that a
	// connection's replies from one run of applied txns go out in one write.
	OnBatch func(begin bool)

	ContainerCheckInterval time.Duration
	// OnExpire is told of each session a closeSession this member did
	// not ask for ended (expiry by the leader): net closes its
	// connection if it is here. Must not block.
	OnExpire func(sid int64)
	// OnStopServing is called when the member stops serving (it lost its
	// leader or its quorum): net closes every client connection. Must
	// not block for long.
	OnStopServing func(why string)
	// OnStatus is told of every change of the member's status (role,
	// leader, epoch, serving), from the member's loop: it must not block.
	OnStatus func(peer.Status)
	// Fatal is told when the member's storage failed: the member has
	// stopped and the process should exit.
	Fatal func(error)
	// SyncAppends keeps every append on the loop, durable before the loop
	// goes on, even where the engine can append asynchronously.
	SyncAppends bool
	Logger      *slog.Logger
	Now         func() time.Time
}

// ErrNotServing answers client requests while the member has no
// established leader (ZooKeeper's member closes client connections then).
var ErrNotServing = errors.New("member: not serving: no established leader")

// errEpochEnded fails the proposals of a leader that stopped leading.
var errEpochEnded = errors.New("member: the epoch ended before the txn was committed")

// input is a request from a client goroutine to the loop.
type input struct {
	kind   uint8 // inPropose, inForward, inSync
	zxid   log.Zxid
	data   []byte
	result chan<- error // inPropose: the pipeline entry's, answered exactly once
	syncID uint64
	// A forwarded write's waiter (session and seq), dropped with
	// ErrNotServing if the write cannot be sent.
	session int64
	seq     uint64
	failed  func()  // inSync, or an inForward without a waiter: it could not be sent (nil: nothing to do)
	peer    peer.ID // inLost
}

const (
	inPropose = iota + 1
	inForward
	inSync
	inLost
	inAppended // the completer moved (appends.go)
)

// Unreachable tells the member that the connection to member id broke
// (the transport saw it close): a learner of id looks for a leader at
// once instead of after syncLimit.
func (m *Member) Unreachable(id peer.ID) {
	m.enqueue(input{kind: inLost, peer: id})
}

type promise struct {
	zxid     log.Zxid
	result   chan<- error // the pipeline entry's: one value, then forgotten
	proposed time.Time    // for the quorum ack latency
}

// waiter is a forwarded request of this member's client, answered when
// its txn (matched by session and cxid) is applied here.
type waiter struct {
	seq  uint64 // the member's count of forwarded writes: how dropWaiter finds it
	cxid int32
	op   tree.Op
	done zab.Done
}

// closeCxid marks forwarded closeSession requests (net gives no xid).
const closeCxid = math.MinInt32 + 1

// Member is one server of an ensemble: the ZAB core (package peer) driven
// by a goroutine that does its I/O, and the client-facing request path of
// whatever role the core has. Its methods are safe for concurrent use.
type Member struct {
	cfg  Config
	log  *memberLog
	core *peer.Peer // the loop's only

	mu      sync.RWMutex
	pl      *zab.Pipeline // the current request path; replaced at role changes and rebuilds
	status  peer.Status   // as of the last Ready
	serving bool          // clients are served (pl is a leader's, or a learner's after UPTODATE)
	// leaderStats and proposals are for mntr: proposals is a copy of
	// the loop's own figures, taken once per Ready.
	leaderStats peer.LeaderStats
	proposals   ProposalStats
	tracker     *zab.SessionTracker

	loopProposals ProposalStats // the loop's only

	inMu   sync.Mutex
	inputs []input
	gate   *proposalGate // the led epoch's, while one is led (inMu)
	kick   chan struct{}
	// spareInputs is the loop's: the array takeInputs emptied last,
	// handed back to enqueue at the next take, so the two alternate
	// instead of inputs growing from nothing for every batch.
	spareInputs []input

	// The loop's.
	hs        peer.HardState
	logged    []peer.Entry // logged and not yet handed to the tree, in order
	handedOut log.Zxid     // the last zxid handed to the tree
	promises  []promise    // an established leader's proposals awaiting commit
	leading   bool         // pl is an established leader's

	waitMu sync.Mutex
	// waiters are each session's forwarded writes, oldest first. A
	// session's array stays in the map, emptied, while the session
	// lives, so queueing a write allocates nothing; the entry goes when
	// the session's closeSession is applied here with nothing queued,
	// or at failWaiters.
	waiters map[int64][]waiter
	waitSeq uint64
	syncs   map[uint64]pendingSync
	syncSeq uint64
	touched map[int64]bool

	fwdMu    sync.Mutex
	fwdQueue []peer.Request
	fwdKick  chan struct{}
	failedAt atomic.Pointer[error]

	// appends is set when the engine can append asynchronously
	// (appends.go): a serving member's appends are then made durable off
	// the loop.
	appends *appends

	// swapMu is held for writing while the tree is replaced (TRUNC,
	// SNAP) and for reading while a snapshot is saved (snapshots.go).
	swapMu sync.RWMutex

	// applied is appliedHere as a value, made once: every committed txn
	// handed to the tree is answered through it (zab.Applied).
	applied zab.Applied

	stop chan struct{}
	wg   sync.WaitGroup
}

type pendingSync struct {
	path string
	done zab.Done
}

// New starts a member: it looks for a leader at once.
func New(cfg Config) (*Member, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SubTicks <= 0 {
		cfg.SubTicks = 10
	}
	if cfg.ContainerCheckInterval <= 0 {
		cfg.ContainerCheckInterval = time.Minute
	}
	if cfg.InitLimit <= 0 {
		cfg.InitLimit = 10
	}
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = 5
	}
	if cfg.OnExpire == nil {
		cfg.OnExpire = func(int64) {}
	}
	if cfg.OnStopServing == nil {
		cfg.OnStopServing = func(string) {}
	}
	if cfg.OnStatus == nil {
		cfg.OnStatus = func(peer.Status) {}
	}
	if cfg.Fatal == nil {
		cfg.Fatal = func(error) {}
	}
	l, err := openLog(cfg.Engine, cfg.Snaps, cfg.Dir)
	if err != nil {
		return nil, err
	}
	accepted, current, err := cfg.Dir.Epochs()
	if err != nil {
		return nil, err
	}
	if last := l.lastZxidOf(cfg.Tree); current < last.Epoch() {
		// A data dir from standalone runs: its epochs are its own.
		current = last.Epoch()
		accepted = max(accepted, current)
	}
	m := &Member{
		cfg:       cfg,
		log:       l,
		hs:        peer.HardState{AcceptedEpoch: accepted, CurrentEpoch: current},
		handedOut: log.Zxid(cfg.Tree.LastZxid()),
		kick:      make(chan struct{}, 1),
		fwdKick:   make(chan struct{}, 1),
		waiters:   make(map[int64][]waiter),
		syncs:     make(map[uint64]pendingSync),
		touched:   make(map[int64]bool),
		stop:      make(chan struct{}),
	}
	m.applied = m.appliedHere
	if aa, ok := cfg.Engine.(engine.AsyncAppender); ok && !cfg.SyncAppends {
		m.appends = newAppends(aa)
	}
	m.tracker = zab.NewSessionTracker(cfg.Tree.SessionSecret(), int64(cfg.ID), cfg.Now())
	m.core, err = peer.New(peer.Config{
		ID:             cfg.ID,
		Voters:         cfg.Voters,
		Observers:      cfg.Observers,
		Log:            l,
		Applied:        log.Zxid(cfg.Tree.LastZxid()),
		HardState:      m.hs,
		Incarnation:    uint32(time.Now().UnixMilli() / 100),
		InitLimit:      cfg.InitLimit * cfg.SubTicks,
		SyncLimit:      cfg.SyncLimit * cfg.SubTicks,
		FinalizeTicks:  1,
		ResendTicks:    2,
		MaxResendTicks: 64,
		AsyncAppends:   m.appends != nil,
	})
	if err != nil {
		return nil, err
	}
	if cfg.PrepareTree != nil {
		cfg.PrepareTree(cfg.Tree)
	}
	m.pl, err = m.passivePipeline(cfg.Tree, nil)
	if err != nil {
		return nil, err
	}
	m.status = m.core.Status()
	m.wg.Add(4)
	if m.appends != nil {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			m.appends.complete(m.stop, func() { m.enqueue(input{kind: inAppended}) })
		}()
	}
	go m.loop()
	go m.forwarder()
	go m.expiryLoop()
	go m.reapLoop()
	return m, nil
}

// lastZxidOf is the last zxid the member has: its log's or its tree's.
func (l *memberLog) lastZxidOf(t *tree.Tree) log.Zxid {
	_, last := l.Bounds()
	return max(last, log.Zxid(t.LastZxid()))
}

// Close stops the member (its clients are the caller's to close first).
func (m *Member) Close() {
	select {
	case <-m.stop:
		return
	default:
	}
	close(m.stop)
	m.wg.Wait()
	m.failPromises(zab.ErrStopped)
	m.endProposals(zab.ErrStopped)
	m.failWaiters(zab.ErrStopped)
	m.mu.Lock()
	pl := m.pl
	m.mu.Unlock()
	pl.Close()
}

// ---- the loop ----

func (m *Member) loop() {
	defer m.wg.Done()
	tick := time.NewTicker(max(m.cfg.TickTime/time.Duration(m.cfg.SubTicks), time.Millisecond))
	defer tick.Stop()
	recv := m.cfg.Transport.Recv()
	if err := m.drainReady(); err != nil {
		m.loopFailed(err)
		return
	}
	for {
		select {
		case <-m.stop:
			return
		case msg := <-recv:
			m.core.Step(msg)
			// Take what else has arrived, so one Ready (one fsync) acts
			// on all of it.
			for more := true; more; {
				select {
				case msg = <-recv:
					m.core.Step(msg)
				default:
					more = false
				}
			}
		case <-tick.C:
			m.core.Tick()
			m.sendTouches()
		case <-m.kick:
		}
		if err := m.takeInputs(); err != nil {
			m.loopFailed(err)
			return
		}
		if err := m.drainReady(); err != nil {
			m.loopFailed(err)
			return
		}
	}
}

// loopFailed ends the loop: storage failed, unless the member is closing.
func (m *Member) loopFailed(err error) {
	if errors.Is(err, zab.ErrStopped) {
		return
	}
	m.fatal(err)
}

func (m *Member) drainReady() error {
	for m.core.HasReady() {
		rd := m.core.Ready()
		if err := m.handle(rd); err != nil {
			return err
		}
		m.core.Advance(rd)
	}
	return nil
}

func (m *Member) fatal(err error) {
	p := &err
	m.failedAt.Store(p)
	m.cfg.Logger.Error("member: storage failed; this member stops (restart it to rejoin)", "err", err)
	m.stopServing("storage failed")
	m.cfg.Fatal(err)
}

// enqueue hands an input to the loop. It never blocks.
func (m *Member) enqueue(in input) {
	m.inMu.Lock()
	m.inputs = append(m.inputs, in)
	m.inMu.Unlock()
	m.kickLoop()
}

func (m *Member) kickLoop() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

func (m *Member) takeInputs() error {
	m.inMu.Lock()
	ins := m.inputs
	m.inputs = m.spareInputs[:0]
	m.inMu.Unlock()
	defer func() {
		clear(ins) // drop the data and channels
		m.spareInputs = ins[:0]
	}()
	for _, in := range ins {
		switch in.kind {
		case inPropose:
			z, err := m.core.Propose(in.data)
			if err == nil && z != in.zxid {
				err = fmt.Errorf("member: the core gave zxid %v to the txn stamped %v", z, in.zxid)
			}
			if err != nil {
				in.result <- err
				continue
			}
			m.promises = append(m.promises, promise{zxid: z, result: in.result, proposed: m.cfg.Now()})
			m.loopProposals.proposed(len(in.data))
		case inForward:
			if err := m.core.Forward(in.data); err != nil {
				switch {
				case in.seq != 0:
					m.dropWaiter(in.session, in.seq)
				case in.failed != nil:
					in.failed()
				}
			}
		case inSync:
			if err := m.core.Sync(in.syncID); err != nil {
				in.failed()
			}
		case inLost:
			m.core.Unreachable(in.peer)
		case inAppended:
			if err := m.appends.failed(); err != nil {
				return err
			}
			m.core.Appended(log.Zxid(m.appends.done.Load()))
		}
	}
	return nil
}

// handle does one Ready in the order the core requires.
func (m *Member) handle(rd peer.Ready) error {
	for _, n := range rd.Notes {
		m.cfg.Logger.Info("zab: "+n, "myid", m.cfg.ID)
	}
	m.mu.RLock()
	prev, serving := m.status, m.serving
	m.mu.RUnlock()
	if rd.Status != prev {
		m.cfg.Logger.Info("zab: status", "myid", m.cfg.ID, "role", rd.Status.Role.String(), "leader", rd.Status.Leader,
			"epoch", rd.Status.Epoch, "serving", rd.Status.Serving)
	}
	if serving && (!rd.Status.Serving || rd.Status.Role != prev.Role || rd.Status.Epoch != prev.Epoch || rd.Status.Leader != prev.Leader) {
		m.stopServing(fmt.Sprintf("%v", rd.Status))
	}
	if m.appends != nil && m.appends.pending() && rd.NeedsAppendsDurable() {
		// Appends in flight are made durable (and reported) before the
		// log is changed otherwise or read.
		if err := m.appends.wait(m.stop); err != nil {
			return err
		}
		m.core.Appended(m.appends.issued)
	}
	// What claims nothing about this member's disk goes before its log
	// ops (peer.Overlap): a leader's PROPOSALs, so its fsync and the
	// followers' overlap, and while serving the commits, so the clients
	// of the last round are answered without waiting for this round's
	// fsync. With asynchronous appends (rd.AppendAsync) that is all of
	// the Ready, and its appends are only handed to the engine.
	ov := rd.Overlap()
	for _, msg := range ov.Early {
		m.send(msg)
	}
	// Forwarded writes are prepared while this Ready's fsync runs, so
	// they are proposed in the next round rather than the one after,
	// unless the role changes here (the forwarder then answers them as
	// the new status says).
	handedEarly := rd.Status == prev && len(rd.Log) > 0
	if handedEarly {
		m.handOver(rd.Requests)
	}
	if ov.CommitEarly > 0 {
		m.commit(ov.CommitEarly)
	}
	for _, op := range rd.Log {
		if rd.AppendAsync {
			m.appendAsync(op.Entries)
			continue
		}
		if err := m.doLogOp(op); err != nil {
			return err
		}
	}
	for _, msg := range ov.Late {
		m.send(msg)
	}
	m.commit(rd.CommitTo)
	ls := m.core.LeaderStats()
	m.mu.Lock()
	m.status = rd.Status
	m.leaderStats = ls
	m.proposals = m.loopProposals
	m.mu.Unlock()
	if rd.Status != prev {
		m.cfg.OnStatus(rd.Status)
	}
	if rd.Status.Serving && !m.isServing() {
		if err := m.startServing(rd.Status); err != nil {
			return err
		}
	}
	for _, id := range rd.Syncs {
		m.answerSync(id)
	}
	if !handedEarly {
		m.handOver(rd.Requests)
	}
	return nil
}

// handOver gives forwarded writes to the forwarder, which prepares them
// on the leader's pipeline.
func (m *Member) handOver(rs []peer.Request) {
	if len(rs) == 0 {
		return
	}
	m.fwdMu.Lock()
	m.fwdQueue = append(m.fwdQueue, rs...)
	m.fwdMu.Unlock()
	select {
	case m.fwdKick <- struct{}{}:
	default:
	}
}

func (m *Member) isServing() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.serving
}

func (m *Member) doLogOp(op peer.LogOp) error {
	switch op.Kind {
	case peer.OpAppend:
		if err := m.cfg.Engine.Append(context.Background(), records(op.Entries)); err != nil {
			return fmt.Errorf("member: appending %v: %w", op, err)
		}
		m.log.appended(op.Entries)
		m.logged = append(m.logged, op.Entries...)
	case peer.OpTruncate:
		if err := m.cfg.Engine.TruncateAfter(op.Zxid); err != nil {
			return fmt.Errorf("member: %v: %w", op, err)
		}
		m.log.truncated(op.Zxid)
		k := len(m.logged)
		for k > 0 && m.logged[k-1].Zxid > op.Zxid {
			k--
		}
		m.logged = m.logged[:k]
		if m.handedOut > op.Zxid {
			m.swapMu.Lock()
			defer m.swapMu.Unlock()
			m.closePipeline()
			t, err := rebuild(m.cfg.Engine, m.cfg.Snaps, m.cfg.Dir, m.cfg.Tree.Config(), op.Zxid)
			if err != nil {
				return fmt.Errorf("member: %v: %w", op, err)
			}
			if err := m.setTree(t, nil); err != nil {
				return err
			}
			m.cfg.Logger.Info("zab: truncated the log and rebuilt the state", "myid", m.cfg.ID, "zxid", op.Zxid.String())
		}
	case peer.OpRestore:
		b, ok := op.Message.Snapshot.([]byte)
		if !ok {
			return errNoSnapshot
		}
		m.swapMu.Lock()
		defer m.swapMu.Unlock()
		if err := restore(m.cfg.Engine, m.cfg.Snaps, m.cfg.Dir, op.Zxid, b); err != nil {
			return err
		}
		m.log.restarted(op.Zxid)
		m.logged = nil
		m.closePipeline()
		t, _, err := snapshot.Read(bytes.NewReader(b), m.cfg.Tree.Config())
		if err != nil {
			return fmt.Errorf("member: loading the snapshot at %v the leader sent: %w", op.Zxid, err)
		}
		if err := m.setTree(t, nil); err != nil {
			return err
		}
		m.cfg.Logger.Info("zab: restored the leader's snapshot", "myid", m.cfg.ID, "zxid", op.Zxid.String(),
			"znodes", t.NodeCount(), "bytes", len(b))
	case peer.OpHardState:
		hs := op.HardState
		if err := m.cfg.Dir.SetEpochs(m.hs.AcceptedEpoch, m.hs.CurrentEpoch, hs.AcceptedEpoch, hs.CurrentEpoch); err != nil {
			return fmt.Errorf("member: recording %v: %w", op, err)
		}
		m.hs = hs
	}
	return nil
}

func records(es []peer.Entry) []log.Record {
	recs := make([]log.Record, len(es))
	for i, e := range es {
		recs[i] = log.Record{Zxid: e.Zxid, Data: e.Data}
	}
	return recs
}

// appendAsync hands entries to the engine without waiting (Ready.AppendAsync):
// the log's bounds and the commit path see them at once, as the core's
// lastLogged does; the core hears they are durable through inAppended.
func (m *Member) appendAsync(es []peer.Entry) {
	m.appends.issue(es)
	m.log.appended(es)
	m.logged = append(m.logged, es...)
}

// closePipeline drains and closes the current request path.
func (m *Member) closePipeline() {
	m.mu.RLock()
	pl := m.pl
	m.mu.RUnlock()
	pl.Close()
}

// setTree installs t behind a new passive request path. lock is the lock
// t is already guarded by when t is handed on from another pipeline (whose
// readers may still hold it), nil for a tree of its own.
func (m *Member) setTree(t *tree.Tree, lock *sync.RWMutex) error {
	if lock == nil && m.cfg.PrepareTree != nil {
		m.cfg.PrepareTree(t)
	}
	pl, err := m.passivePipeline(t, lock)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.pl = pl
	m.mu.Unlock()
	m.handedOut = log.Zxid(t.LastZxid())
	return nil
}

// refusing is the storage of a pipeline that takes no writes of its own.
type refusing struct{ last log.Zxid }

func (r refusing) AppendAsync([]log.Record) <-chan error {
	c := make(chan error, 1)
	c <- ErrNotServing
	return c
}
func (r refusing) LastZxid() log.Zxid { return r.last }

func (m *Member) passivePipeline(t *tree.Tree, lock *sync.RWMutex) (*zab.Pipeline, error) {
	pl, err := zab.NewPipeline(zab.PipelineConfig{
		Tree: t, TreeLock: lock, Storage: refusing{}, Epoch: 1, Quorum: true,
		Logger: m.cfg.Logger, Now: m.cfg.Now, AfterApply: m.afterApply, OnBatch: m.cfg.OnBatch,
	})
	if err != nil {
		return nil, err
	}
	if m.cfg.Deliver != nil {
		pl.SetDeliverer(m.cfg.Deliver)
	}
	return pl, nil
}

// afterApply tells the snapshotter of applied txns while the member
// serves (its tree then holds committed txns only).
func (m *Member) afterApply(last int64, n int) {
	if m.cfg.AfterApply != nil && m.isServing() {
		m.cfg.AfterApply(last, n)
	}
}

// replicator is an established leader's pipeline storage: a txn is
// "durable" once a quorum has it (committed).
type replicator struct {
	m     *Member
	start log.Zxid
	gate  *proposalGate
}

// proposalGate admits one epoch's proposals to the loop's inputs until
// the epoch ends (endProposals); after that it answers them itself. So
// a proposal queued but not yet taken by the loop when the leader stops
// is answered too: the pipeline's applier waits for every proposal's
// answer before its Close returns. closed is guarded by inMu.
type proposalGate struct{ closed bool }

func (r replicator) AppendAsync(recs []log.Record) <-chan error {
	c := make(chan error, 1)
	r.AppendAsyncInto(recs, c)
	return c
}

// AppendAsyncInto is AppendAsync answering on done, the pipeline entry's
// own channel (one value per proposal: its commit, its failure, or the
// end of the epoch), so a proposal costs no channel of its own.
func (r replicator) AppendAsyncInto(recs []log.Record, done chan<- error) {
	if len(recs) != 1 {
		done <- fmt.Errorf("member: %d records in one proposal", len(recs))
		return
	}
	in := input{kind: inPropose, zxid: recs[0].Zxid, data: recs[0].Data, result: done}
	r.m.inMu.Lock()
	if r.gate.closed {
		r.m.inMu.Unlock()
		done <- errEpochEnded
		return
	}
	r.m.inputs = append(r.m.inputs, in)
	r.m.inMu.Unlock()
	r.m.kickLoop()
}

// endProposals closes the gate of the epoch being led and answers err
// to the proposals queued for the loop and not yet taken.
func (m *Member) endProposals(err error) {
	m.inMu.Lock()
	if m.gate != nil {
		m.gate.closed = true
		m.gate = nil
	}
	kept := m.inputs[:0]
	var ended []input
	for _, in := range m.inputs {
		if in.kind == inPropose {
			ended = append(ended, in)
			continue
		}
		kept = append(kept, in)
	}
	clear(m.inputs[len(kept):])
	m.inputs = kept
	m.inMu.Unlock()
	for _, in := range ended {
		in.result <- err
	}
}

// KeepsRecordData: a proposal's data goes on to the followers and the
// log after it is committed.
func (r replicator) KeepsRecordData() bool { return true }

func (r replicator) LastZxid() log.Zxid { return r.start }

// send fills what the driver owns of a message (a DIFF's txns, a SNAP's
// snapshot) and hands it to the transport.
func (m *Member) send(msg peer.Message) {
	switch msg.Type {
	case peer.Diff:
		if msg.Zxid == msg.Prev {
			break
		}
		es, err := m.log.entries(msg.Prev, msg.Zxid)
		if err != nil {
			m.cfg.Logger.Warn("zab: cannot send DIFF; the learner will retry", "to", msg.To, "err", err)
			return
		}
		const chunk = 1000
		for len(es) > chunk {
			c := msg
			c.Entries = es[:chunk]
			c.Zxid = es[chunk-1].Zxid
			m.cfg.Transport.Send(c)
			msg.Prev = c.Zxid
			es = es[chunk:]
		}
		msg.Entries = es
	case peer.Snap:
		b, err := m.snapshotAt(msg.Zxid)
		if err != nil {
			m.cfg.Logger.Warn("zab: cannot send SNAP; the learner will retry", "to", msg.To, "err", err)
			return
		}
		msg.Snapshot = b
		m.cfg.Logger.Info("zab: sending a snapshot", "to", msg.To, "zxid", msg.Zxid.String(), "bytes", len(b))
	}
	m.cfg.Transport.Send(msg)
}

// snapshotAt writes the exact state at z: the tree is held still for the
// walk once everything up to z is applied.
func (m *Member) snapshotAt(z log.Zxid) ([]byte, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		var b []byte
		var err error
		var at int64
		m.withTree(func(t *tree.Tree) {
			at = t.LastZxid()
			if at == int64(z) {
				b, err = snapshotBytes(t, m.cfg.SnapshotCodec)
			}
		})
		if at == int64(z) {
			return b, err
		}
		if at > int64(z) || time.Now().After(deadline) {
			return nil, fmt.Errorf("member: the state is at %v, not %v", log.Zxid(at), z)
		}
		time.Sleep(time.Millisecond)
	}
}

// commit hands the logged txns up to z to the tree.
func (m *Member) commit(z log.Zxid) {
	k := 0
	for k < len(m.logged) && m.logged[k].Zxid <= z {
		k++
	}
	if m.leading {
		// The leader's pipeline applies its own txns once told they are
		// committed.
		i := 0
		var now time.Time
		for i < len(m.promises) && m.promises[i].zxid <= z {
			if i == 0 {
				now = m.cfg.Now()
			}
			m.loopProposals.QuorumAck.add(now.Sub(m.promises[i].proposed))
			m.promises[i].result <- nil
			i++
		}
		m.promises = dropFront(m.promises, i)
		m.handedOut = max(m.handedOut, z)
		m.logged = dropFront(m.logged, k)
		return
	}
	m.mu.RLock()
	pl := m.pl
	m.mu.RUnlock()
	for _, e := range m.logged[:k] {
		if e.Zxid <= m.handedOut {
			continue // in the snapshot restored already
		}
		txn, err := tree.DecodeTxn(e.Data)
		if err != nil {
			// The log's checksums passed: a bug, never skipped.
			panic(fmt.Sprintf("member: committed txn %v does not decode: %v", e.Zxid, err))
		}
		pl.ApplyCommitted(txn, m.applied)
		m.handedOut = e.Zxid
	}
	m.logged = dropFront(m.logged, k)
}

// dropFront removes the first k elements of a queue kept in one array:
// the rest move to its front, so the appends that follow reuse the array
// instead of growing a new one every time the front is cut.
func dropFront[T any](q []T, k int) []T {
	if k == 0 {
		return q
	}
	n := copy(q, q[k:])
	clear(q[n:])
	return q[:n]
}

// appliedHere answers the client of this member whose forwarded request
// txn is, or closes the connection of a session the leader expired.
func (m *Member) appliedHere(txn *tree.Txn, res tree.Result, err error) {
	sid, cxid, op := txn.Session, txn.Cxid, txn.Type
	if sid == 0 {
		return
	}
	m.waitMu.Lock()
	q, known := m.waiters[sid]
	var done zab.Done
	// The txn's type is the request's op, or OpError for a failure.
	if len(q) > 0 && q[0].cxid == cxid && (q[0].op == op || op == tree.OpError) {
		done = q[0].done
		q = dropFront(q, 1)
		m.waiters[sid] = q
	}
	if known && len(q) == 0 && op == tree.OpCloseSession {
		delete(m.waiters, sid)
	}
	m.waitMu.Unlock()
	if done != nil {
		res.Zxid = txn.Zxid
		done(res, err)
		return
	}
	if op == tree.OpCloseSession {
		m.cfg.OnExpire(sid)
	}
	if op == tree.OpCreateSession {
		m.currentTracker().Track(sid, time.Duration(txn.Timeout)*time.Millisecond, m.cfg.Now())
	}
}

func (m *Member) answerSync(id uint64) {
	m.waitMu.Lock()
	s, ok := m.syncs[id]
	delete(m.syncs, id)
	m.waitMu.Unlock()
	if !ok {
		return
	}
	m.mu.RLock()
	pl := m.pl
	m.mu.RUnlock()
	pl.AnswerInOrder(s.path, s.done)
}

// startServing begins a serving period: an established leader gets a
// pipeline of its own epoch; a learner serves from its passive one.
func (m *Member) startServing(st peer.Status) error {
	m.mu.RLock()
	pl := m.pl
	m.mu.RUnlock()
	var secret []byte
	var sessions map[int64]int32
	if st.Role == peer.Leading {
		pl.Close() // drained: the tree holds the whole history
		t := m.treeOf(pl)
		start, _ := m.core.EpochStart()
		gate := &proposalGate{}
		m.inMu.Lock()
		m.gate = gate
		m.inMu.Unlock()
		lp, err := zab.NewPipeline(zab.PipelineConfig{
			Tree: t, TreeLock: pl.TreeLock(), Storage: replicator{m: m, start: start, gate: gate}, Epoch: st.Epoch, Quorum: true,
			Logger: m.cfg.Logger, Now: m.cfg.Now, AfterApply: m.afterApply, OnBatch: m.cfg.OnBatch,
		})
		if err != nil {
			return err
		}
		if m.cfg.Deliver != nil {
			lp.SetDeliverer(m.cfg.Deliver)
		}
		pl = lp
		m.leading = true
	}
	pl.WithTree(func(t *tree.Tree) {
		secret = t.SessionSecret()
		sessions = t.Sessions()
	})
	now := m.cfg.Now()
	tr := zab.NewSessionTracker(secret, int64(m.cfg.ID), now)
	for sid, to := range sessions {
		tr.Track(sid, time.Duration(to)*time.Millisecond, now)
	}
	m.mu.Lock()
	m.pl, m.tracker, m.serving = pl, tr, true
	m.mu.Unlock()
	m.cfg.Logger.Info("zab: serving clients", "myid", m.cfg.ID, "role", st.Role.String(), "epoch", st.Epoch,
		"leader", st.Leader, "sessions", len(sessions))
	if st.Role == peer.Leading && secret == nil {
		go m.ensureSecret(pl)
	}
	return nil
}

// treeOf returns a closed pipeline's tree.
func (m *Member) treeOf(pl *zab.Pipeline) *tree.Tree {
	var t *tree.Tree
	pl.WithTree(func(tt *tree.Tree) { t = tt })
	return t
}

// ensureSecret logs the ensemble's session secret (its first leader does).
func (m *Member) ensureSecret(pl *zab.Pipeline) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return
	}
	pl.Submit(0, tree.Request{Op: tree.OpSessionSecret, Data: secret}, func(res tree.Result, err error) {
		if err == nil && res.Err == tree.CodeOK {
			m.currentTracker().SetSecret(secret)
		}
	})
}

// stopServing ends a serving period: clients are disconnected, an
// established leader's proposals not yet committed are failed (they stay
// in the log, to be committed or truncated by the next leader), and a
// passive request path takes over the tree.
func (m *Member) stopServing(why string) {
	m.mu.Lock()
	if !m.serving {
		m.mu.Unlock()
		return
	}
	m.serving = false
	pl := m.pl
	m.mu.Unlock()
	m.cfg.Logger.Info("zab: stopped serving clients", "myid", m.cfg.ID, "now", why)
	m.cfg.OnStopServing(why)
	m.failWaiters(ErrNotServing)
	if m.leading {
		m.failPromises(errEpochEnded)
		m.endProposals(errEpochEnded)
		m.leading = false
		pl.Close()
		// What the leader logged and did not see committed stays in
		// m.logged, for the next leader to commit or truncate.
		if err := m.setTree(m.treeOf(pl), pl.TreeLock()); err != nil {
			m.cfg.Logger.Error("zab: cannot make a request path", "err", err)
		}
	}
}

func (m *Member) failPromises(err error) {
	for _, p := range m.promises {
		p.result <- err
	}
	m.promises = nil
}

func (m *Member) failWaiters(err error) {
	m.waitMu.Lock()
	ws := m.waiters
	ss := m.syncs
	m.waiters = make(map[int64][]waiter)
	m.syncs = make(map[uint64]pendingSync)
	m.waitMu.Unlock()
	for _, q := range ws {
		for _, w := range q {
			w.done(tree.Result{}, err)
		}
	}
	for _, s := range ss {
		s.done(tree.Result{}, err)
	}
}

func (m *Member) currentPipeline() *zab.Pipeline {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pl
}

func (m *Member) currentTracker() *zab.SessionTracker {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.tracker
}

// leaderPipeline returns the pipeline when this member is a serving
// leader.
func (m *Member) leaderPipeline() (*zab.Pipeline, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pl, m.serving && m.status.Role == peer.Leading
}

// forwarder submits learners' forwarded requests to the leader's
// pipeline, in the order they came, off the loop (a full pipeline queue
// waits for commits, which the loop makes).
func (m *Member) forwarder() {
	defer m.wg.Done()
	for {
		select {
		case <-m.stop:
			return
		case <-m.fwdKick:
		}
		m.fwdMu.Lock()
		rs := m.fwdQueue
		m.fwdQueue = nil
		m.fwdMu.Unlock()
		for _, r := range rs {
			m.forwarded(r)
		}
	}
}

func (m *Member) forwarded(r peer.Request) {
	e, err := decodeEnvelope(r.Data)
	if err != nil {
		m.cfg.Logger.Warn("zab: dropped a forwarded request", "from", r.From, "err", err)
		return
	}
	pl, ok := m.leaderPipeline()
	if !ok {
		return // the epoch ended: the learner's clients are disconnected
	}
	tr := m.currentTracker()
	switch e.Kind {
	case kindTouch:
		now := m.cfg.Now()
		for _, sid := range e.Touches {
			tr.Touch(sid, now)
		}
	case kindClaim:
		tr.SetOwner(e.Session, r.From)
	case kindWrite:
		sid, req := e.Session, e.Req
		if req.Op == tree.OpCloseSession {
			tr.Remove(sid)
		} else if req.Op != tree.OpCreateSession && !tr.CheckOwner(sid, r.From) {
			// The session re-attached to another member since.
			pl.SubmitRefused(sid, req, tree.CodeSessionMoved, ignoreOutcome)
			return
		}
		if req.Op != tree.OpCreateSession {
			// The learner's member answers its client from its log: the
			// leader has nothing to do with the outcome.
			pl.Submit(sid, req, ignoreOutcome)
			return
		}
		pl.Submit(sid, req, func(res tree.Result, err error) {
			if err == nil && res.Err == tree.CodeOK {
				tr.Track(sid, time.Duration(req.SessionTimeout)*time.Millisecond, m.cfg.Now())
				tr.SetOwner(sid, r.From)
			}
		})
	}
}

// ignoreOutcome is the Done of a forwarded write the leader submits for
// a learner, which answers its client itself.
func ignoreOutcome(tree.Result, error) {}

// sendTouches forwards the sessions this learner's clients kept alive.
func (m *Member) sendTouches() {
	m.waitMu.Lock()
	if len(m.touched) == 0 {
		m.waitMu.Unlock()
		return
	}
	ts := make([]int64, 0, len(m.touched))
	for sid := range m.touched {
		ts = append(ts, sid)
	}
	clear(m.touched)
	m.waitMu.Unlock()
	if !m.isServing() || m.status.Role == peer.Leading {
		return
	}
	_ = m.core.Forward(encodeEnvelope(envelope{Kind: kindTouch, Touches: ts}))
}

// withTree runs fn with the current tree held still.
func (m *Member) withTree(fn func(t *tree.Tree)) {
	m.currentPipeline().WithTree(fn)
}

// ---- sessions owned by the leader ----

func (m *Member) expiryLoop() {
	defer m.wg.Done()
	t := time.NewTicker(max(m.cfg.TickTime/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		pl, ok := m.leaderPipeline()
		if !ok {
			continue
		}
		tr := m.currentTracker()
		for _, sid := range tr.Expired(m.cfg.Now()) {
			m.cfg.Logger.Info("session expired", "session", fmt.Sprintf("0x%016x", uint64(sid)))
			m.cfg.OnExpire(sid)
			pl.Submit(sid, tree.Request{Op: tree.OpCloseSession}, func(res tree.Result, err error) {
				if err != nil {
					tr.Track(sid, m.cfg.TickTime, m.cfg.Now())
				}
			})
		}
	}
}

func (m *Member) reapLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.ContainerCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		pl, ok := m.leaderPipeline()
		if !ok {
			continue
		}
		var paths []string
		pl.WithTree(func(t *tree.Tree) { paths = t.ExpiryCandidates(m.cfg.Now().UnixMilli()) })
		for _, p := range paths {
			pl.Submit(0, tree.Request{Op: tree.OpDeleteContainer, Path: p}, func(tree.Result, error) {})
		}
	}
}
