package peer

import (
	"errors"
	"fmt"
	"slices"

	"zabd/log"
	"zabd/zab/catchup"
	"zabd/zab/election"
	"zabd/zab/quorum"
)

// ErrNotServing is returned by Propose, Forward and Sync when this member
// cannot take the request now: it is looking, or still synchronizing, or
// (Propose) not the leader.
var ErrNotServing = errors.New("peer: not serving (no established leader)")

// Log is what the core reads of the member's own durable log: its bounds,
// where a zxid meets it (package catchup), and whether it holds the whole
// history. The driver's log must reflect every Ready it has done.
type Log interface {
	catchup.Log
	// Whole reports whether the log holds every txn from the very first
	// (nothing was purged and it never started from a snapshot).
	Whole() bool
	// Base is the lowest zxid the log can be cut back to: the state at
	// it can be rebuilt (from a snapshot that ends at or before it and
	// the log after that). 0 when the log is whole. A leader asked to
	// TRUNC this member below it sends a SNAP instead.
	Base() log.Zxid
}

// Config configures a member.
type Config struct {
	ID        ID
	Voters    []ID
	Observers []ID
	Log       Log
	// Applied is the zxid the driver's state holds when the member starts
	// (recovery applies everything logged: normally the last zxid).
	Applied log.Zxid
	// HardState is what was saved durably.
	HardState HardState
	// Incarnation differs (and grows) between starts of this member, so
	// its connection ids are never reused (a restart count, or a clock).
	Incarnation uint32
	// InitLimit and SyncLimit are ZooKeeper's, in ticks (defaults 10, 5).
	InitLimit, SyncLimit int
	// TooBig (optional) reports whether the txns after a zxid cost more
	// than a snapshot (catchup.Input.TooBig).
	TooBig func(after log.Zxid) bool
	// Election's timing, in ticks (election.Config).
	FinalizeTicks, ResendTicks, MaxResendTicks int
	// AsyncAppends lets the driver make a serving member's appends durable
	// after Advance (Ready.AppendAsync), telling Appended when they are;
	// a follower then acknowledges what Appended reported, not what it
	// was given.
	AsyncAppends bool
}

// learnerPhase is where a learner is with its leader.
type learnerPhase uint8

const (
	lConnecting   learnerPhase = iota + 1 // sent FOLLOWERINFO, awaiting LEADERINFO
	lEpochAcked                           // sent ACKEPOCH, awaiting the sync stream
	lSyncing                              // the sync stream started
	lNewLeaderAck                         // acknowledged NEWLEADER, awaiting UPTODATE
	lServing                              // got UPTODATE
)

// leaderPhase is where a leader is with its ensemble.
type leaderPhase uint8

const (
	pDiscovery   leaderPhase = iota + 1 // collecting acceptedEpochs
	pEpochAcks                          // epoch chosen, collecting ACKEPOCHs
	pSyncing                            // currentEpoch set; collecting NEWLEADER acks
	pEstablished                        // broadcasting
)

// handler is the leader's state for one learner (ZooKeeper's
// LearnerHandler).
type handler struct {
	id       ID
	conn     uint64
	observer bool

	epochAcked bool
	last       log.Zxid // from ACKEPOCH
	base       log.Zxid // from ACKEPOCH: the lowest zxid it can truncate to

	synced     bool     // the sync stream was sent
	sent       log.Zxid // the greatest zxid sent to it (stream, proposals, informs)
	newLeader  bool     // acknowledged NEWLEADER
	upToDate   bool     // UPTODATE sent
	acked      log.Zxid // durable through, from its acks
	commitSent log.Zxid
	heard      int // tick of the last message from it
}

// pendingSync is a SYNC waiting for everything proposed before it.
type pendingSync struct {
	from   ID // 0: this member's own
	conn   uint64
	id     uint64
	target log.Zxid
}

// Peer is one member. Not safe for concurrent use; between Ready and
// Advance the driver calls nothing else.
type Peer struct {
	cfg       Config
	majority  quorum.Majority
	isVoter   map[ID]bool
	observers map[ID]bool
	elect     *election.Election

	hs         HardState
	lastLogged log.Zxid // last zxid logged or to be logged by the pending Ready
	durable    log.Zxid // last zxid the driver made durable (Advance, Appended)
	// asyncTo: the last zxid handed out in an AppendAsync Ready that an
	// Appended report may still cover; lowered when the log is cut, so a
	// late report of the old history's entries never counts for the new.
	asyncTo log.Zxid
	base    log.Zxid
	applied log.Zxid // CommitTo handed out
	commit  log.Zxid // committed, as this member knows

	role    Role
	leader  ID
	epoch   uint32 // the epoch led or being followed
	tick    int
	serving bool

	// learner
	conn      uint64
	connSeq   uint32
	lphase    learnerPhase
	heard     int
	ackedSent log.Zxid
	syncSeq   uint64

	// leader
	lphaseL  leaderPhase
	since    int // tick it started leading or following
	handlers map[ID]*handler
	// handlerOrder is handlers' ids sorted (handlerIDs), nil once
	// handlers changed; a rebuild makes a new slice, so one being
	// iterated stays as it was.
	handlerOrder []ID
	accepted     map[ID]uint32 // acceptedEpochs heard in discovery (self included)
	epochAcks    map[ID]bool
	initialLast  log.Zxid
	startEpoch   uint32   // currentEpoch when it started leading
	startLast    log.Zxid // last logged when it started leading
	outstanding  []Entry  // proposed, not yet committed and informed
	counter      uint32
	syncs        []pendingSync

	// the pending Ready
	logOps   []LogOp
	msgs     []Message
	lastMsg  map[ID]int // index in msgs of the last message to a member
	doneSync []uint64
	requests []Request
	notes    []string
	last     Status
	// The arrays the last Ready handed out: the next call of Ready
	// empties them for the pending Ready to fill (Ready's doc), so a
	// steady broadcast does not grow new ones for every Ready.
	spareLogOps   []LogOp
	spareMsgs     []Message
	spareRequests []Request
}

// New makes a member; it starts looking for a leader at once.
func New(cfg Config) (*Peer, error) {
	if cfg.Log == nil {
		return nil, errors.New("peer: no Log")
	}
	if cfg.InitLimit <= 0 {
		cfg.InitLimit = 10
	}
	if cfg.SyncLimit <= 0 {
		cfg.SyncLimit = 5
	}
	el, err := election.New(election.Config{ID: election.ID(cfg.ID), Voters: toElection(cfg.Voters),
		Observers: toElection(cfg.Observers), FinalizeTicks: cfg.FinalizeTicks,
		ResendTicks: cfg.ResendTicks, MaxResendTicks: cfg.MaxResendTicks})
	if err != nil {
		return nil, err
	}
	maj, err := quorum.NewMajority(cfg.Voters...)
	if err != nil {
		return nil, err
	}
	_, last := cfg.Log.Bounds()
	if cfg.Applied > last {
		return nil, fmt.Errorf("peer: applied %v is past the log's last zxid %v", cfg.Applied, last)
	}
	p := &Peer{cfg: cfg, majority: maj, isVoter: map[ID]bool{}, observers: map[ID]bool{}, elect: el,
		hs: cfg.HardState, lastLogged: last, durable: last, applied: cfg.Applied,
		lastMsg: map[ID]int{}}
	for _, id := range cfg.Voters {
		p.isVoter[id] = true
	}
	for _, id := range cfg.Observers {
		p.observers[id] = true
	}
	if e := last.Epoch(); e > p.hs.CurrentEpoch {
		// Entries of epoch e are logged only after NEWLEADER of e, in the
		// same Ready as the currentEpoch write at the earliest: a crash
		// between the two leaves this. The log is then a prefix of e's
		// history, which is what currentEpoch e says.
		p.setHardState(HardState{AcceptedEpoch: max(p.hs.AcceptedEpoch, e), CurrentEpoch: e})
	}
	p.lookForLeader()
	return p, nil
}

func toElection(ids []ID) []election.ID {
	out := make([]election.ID, len(ids))
	for i, id := range ids {
		out[i] = election.ID(id)
	}
	return out
}

// Status returns the member's role now.
func (p *Peer) Status() Status {
	return Status{Role: p.role, Leader: p.leader, Epoch: p.epoch, Serving: p.serving}
}

// HardState returns the epochs (including ones not yet saved).
func (p *Peer) HardState() HardState { return p.hs }

// LastLogged returns the last zxid logged (including the pending Ready's).
func (p *Peer) LastLogged() log.Zxid { return p.lastLogged }

// EpochStart returns, for an established leader, the last zxid of the
// history it started its epoch with (committed when it established);
// false otherwise.
func (p *Peer) EpochStart() (log.Zxid, bool) {
	return p.initialLast, p.role == Leading && p.lphaseL == pEstablished
}

// Committed returns the greatest zxid this member knows committed.
func (p *Peer) Committed() log.Zxid { return p.commit }

// ---- election ----

func (p *Peer) lookForLeader() {
	// What is known committed stays applied: a sync answered in this
	// Ready was answered for it.
	p.applied = max(p.applied, p.commitTo())
	p.role = Looking
	p.leader = 0
	p.epoch = 0
	p.serving = false
	p.handlers, p.handlerOrder = nil, nil
	p.accepted = nil
	p.epochAcks = nil
	p.outstanding = nil
	p.syncs = nil
	p.lphase = 0
	p.lphaseL = 0
	p.commit = 0
	p.elect.Start(uint64(p.lastLogged), p.hs.CurrentEpoch)
	p.flushElection()
	p.afterElection()
}

func (p *Peer) flushElection() {
	for _, n := range p.elect.Outbox() {
		p.send(Message{Type: Vote, To: ID(n.To), Vote: n})
	}
}

// afterElection moves into the role the election decided, if it did.
func (p *Peer) afterElection() {
	if p.role != Looking {
		return
	}
	d, ok := p.elect.Decision()
	if !ok {
		return
	}
	switch d.State {
	case election.Leading:
		p.lead()
	case election.Following, election.Observing:
		p.follow(ID(d.Vote.Leader), d.State == election.Observing)
	}
}

// ---- entry points ----

// Tick advances time by one tick.
func (p *Peer) Tick() {
	p.tick++
	p.elect.Tick()
	p.flushElection()
	switch p.role {
	case Looking:
		p.afterElection()
	case Following, Observing:
		p.tickLearner()
	case Leading:
		p.tickLeader()
	}
}

// Step takes one message from another member.
func (p *Peer) Step(m Message) {
	if m.To != p.cfg.ID || m.From == p.cfg.ID {
		return
	}
	if m.Type == Vote {
		p.elect.Step(m.Vote)
		p.flushElection()
		p.afterElection()
		return
	}
	if m.Type == FollowerInfo && (p.role == Following || p.role == Observing) {
		// Apache ZooKeeper's learner finds out by failing to connect
		// (only a leader listens); here it is told, and looks again at
		// once rather than after initLimit.
		p.send(Message{Type: NotLeader, To: m.From, Conn: m.Conn})
		return
	}
	switch p.role {
	case Following, Observing:
		p.stepLearner(m)
	case Leading:
		p.stepLeader(m)
	}
}

// LeaderStats is what an established leader reports about its learners
// (mntr's zk_learners, zk_synced_followers, ...). Zero elsewhere.
type LeaderStats struct {
	Learners        int // connected (FOLLOWERINFO heard), followers and observers
	SyncedFollowers int // voters that got UPTODATE
	SyncedObservers int
	PendingSyncs    int
}

// LeaderStats reports the leader's learners.
func (p *Peer) LeaderStats() LeaderStats {
	var st LeaderStats
	if p.role != Leading {
		return st
	}
	st.Learners = len(p.handlers)
	st.PendingSyncs = len(p.syncs)
	for _, h := range p.handlers {
		switch {
		case h.upToDate && h.observer:
			st.SyncedObservers++
		case h.upToDate:
			st.SyncedFollowers++
		}
	}
	return st
}

// Unreachable tells the core that the connection to member id broke (the
// transport saw it close). A learner whose leader it is looks for a
// leader again at once, as ZooKeeper's learner does on a socket error,
// rather than after syncLimit ticks of silence; a leader drops the
// learner (it reconnects with a new FOLLOWERINFO).
func (p *Peer) Unreachable(id ID) {
	switch {
	case (p.role == Following || p.role == Observing) && p.leader == id:
		p.breakOff("the connection to it broke")
	case p.role == Leading && p.handlers[id] != nil:
		p.note("learner %d: the connection to it broke: dropped", id)
		delete(p.handlers, id)
		p.handlerOrder = nil
	}
}

// Propose appends a txn to the ensemble's log: the established leader
// only. It returns the txn's zxid; the txn is committed once CommitTo
// reaches it.
func (p *Peer) Propose(data []byte) (log.Zxid, error) {
	if p.role != Leading || p.lphaseL != pEstablished {
		return 0, ErrNotServing
	}
	if p.counter == 1<<32-1 {
		// ZooKeeper forces an election when the counter would wrap.
		p.lookForLeader()
		return 0, ErrNotServing
	}
	p.counter++
	e := Entry{Zxid: log.MakeZxid(p.epoch, p.counter), Data: data}
	prev := p.lastLogged
	p.appendLog([]Entry{e})
	p.outstanding = append(p.outstanding, e)
	for _, id := range p.handlerIDs() {
		h := p.handlers[id]
		if h.synced && !h.observer {
			p.sendProposal(h, prev, e)
		}
	}
	return e.Zxid, nil
}

// Forward sends a write to the leader (a serving learner only); it comes
// out of the leader's Ready as a Request.
func (p *Peer) Forward(data []byte) error {
	if !p.serving || p.role == Leading {
		return ErrNotServing
	}
	p.send(Message{Type: Forwarded, To: p.leader, Conn: p.conn, Data: data})
	return nil
}

// Sync asks for everything proposed so far to be committed and applied
// here; its number comes back in Ready.Syncs when it is.
func (p *Peer) Sync(id uint64) error {
	if !p.serving {
		return ErrNotServing
	}
	if p.role == Leading {
		p.syncs = append(p.syncs, pendingSync{id: id, target: p.lastLogged})
		return nil
	}
	p.send(Message{Type: SyncReq, To: p.leader, Conn: p.conn, SyncID: id})
	return nil
}

// ---- Ready ----

// HasReady reports whether Ready has anything to do.
func (p *Peer) HasReady() bool {
	return len(p.logOps) > 0 || len(p.msgs) > 0 || len(p.doneSync) > 0 ||
		len(p.requests) > 0 || len(p.notes) > 0 || p.Status() != p.last || p.commitTo() > p.applied ||
		p.ackDue() || p.leaderDue()
}

func (p *Peer) commitTo() log.Zxid { return min(p.commit, p.lastLogged) }

func (p *Peer) ackDue() bool {
	return p.role == Following && p.lphase >= lNewLeaderAck && p.ackable() > p.ackedSent
}

// ackable is what a follower may acknowledge: what it logged, or with
// asynchronous appends what the driver reported durable.
func (p *Peer) ackable() log.Zxid {
	if p.cfg.AsyncAppends {
		return p.durable
	}
	return p.lastLogged
}

// Ready returns what to do now and forgets it; call Advance when done.
// The Ready's slices are the core's again at the next call of Ready (the
// core alternates two sets of arrays, filling one while the driver holds
// the other): a driver must be done with a Ready, as Advance says it is,
// before it asks for the next one.
func (p *Peer) Ready() Ready {
	if p.ackDue() {
		p.ackedSent = p.ackable()
		p.send(Message{Type: Ack, To: p.leader, Conn: p.conn, Zxid: p.ackedSent})
	}
	if p.role == Leading {
		p.sendCommits()
		p.answerSyncs()
	}
	rd := Ready{Status: p.Status(), Log: orNil(p.logOps),
		Messages: orNil(p.msgs), Syncs: p.doneSync, Requests: orNil(p.requests), Notes: p.notes}
	if ct := p.commitTo(); ct > p.applied {
		p.applied = ct
	}
	rd.CommitTo = p.applied
	rd.AppendAsync = p.cfg.AsyncAppends && rd.asyncable()
	if rd.AppendAsync {
		p.asyncTo, _ = rd.LogEnd()
	}
	p.last = rd.Status
	p.logOps, p.spareLogOps = reuse(p.spareLogOps), p.logOps
	p.msgs, p.spareMsgs = reuse(p.spareMsgs), p.msgs
	p.requests, p.spareRequests = reuse(p.spareRequests), p.requests
	p.doneSync, p.notes = nil, nil
	clear(p.lastMsg)
	return rd
}

// Advance tells the core the Ready was done: its log ops and hard state
// are durable, its messages sent, its commits applied.
func (p *Peer) Advance(rd Ready) {
	if z, ok := rd.LogEnd(); ok && !rd.AppendAsync {
		p.durable = z
	}
	if p.role == Leading {
		p.advanceCommit()
	}
}

// Appended tells the core that the driver made its log durable through z
// (Ready.AppendAsync): a leader counts its own ack, a follower's ACK is
// due. Reports at or below what is known durable, or beyond what was
// logged, change nothing.
func (p *Peer) Appended(z log.Zxid) {
	z = min(z, p.asyncTo)
	if z <= p.durable || z > p.lastLogged {
		return
	}
	p.durable = z
	if p.role == Leading {
		p.advanceCommit()
	}
}

// forgetAbove is a cut of the log queued at z (a TRUNC, or a SNAP that
// replaces it: 0): what was durable above z, or may be reported so,
// belongs to a history the log no longer holds.
func (p *Peer) forgetAbove(z log.Zxid) {
	p.durable = min(p.durable, z)
	p.asyncTo = min(p.asyncTo, z)
}

// ---- sending ----

func (p *Peer) send(m Message) {
	m.From = p.cfg.ID
	p.lastMsg[m.To] = len(p.msgs)
	p.msgs = append(p.msgs, m)
}

// sendProposal sends e to a follower, joining the previous message to it
// when that is a proposal it continues.
func (p *Peer) sendProposal(h *handler, prev log.Zxid, e Entry) {
	if i, ok := p.lastMsg[h.id]; ok {
		m := &p.msgs[i]
		if m.Type == Proposal && m.Conn == h.conn && m.LastZxid() == prev {
			m.Entries = append(m.Entries, e)
			m.Zxid = e.Zxid
			h.sent = e.Zxid
			return
		}
	}
	p.send(Message{Type: Proposal, To: h.id, Conn: h.conn, Prev: prev, Zxid: e.Zxid, Entries: []Entry{e}})
	h.sent = e.Zxid
}

func (p *Peer) appendLog(es []Entry) {
	if n := len(p.logOps); n > 0 && p.logOps[n-1].Kind == OpAppend {
		p.logOps[n-1].Entries = append(p.logOps[n-1].Entries, es...)
	} else {
		p.logOps = append(p.logOps, LogOp{Kind: OpAppend, Entries: slices.Clone(es)})
	}
	p.lastLogged = es[len(es)-1].Zxid
}

func (p *Peer) setHardState(hs HardState) {
	if hs != p.hs {
		p.hs = hs
		if n := len(p.logOps); n > 0 && p.logOps[n-1].Kind == OpHardState {
			p.logOps[n-1].HardState = hs
		} else {
			p.logOps = append(p.logOps, LogOp{Kind: OpHardState, HardState: hs})
		}
	}
}

func (p *Peer) note(format string, args ...any) {
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// orNil is s, or nil when s is empty (a Ready's empty fields are nil).
func orNil[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// reuse empties an array the last Ready handed out, dropping what it
// referenced, for the pending Ready to fill.
func reuse[T any](s []T) []T {
	clear(s)
	return s[:0]
}

// handlerIDs returns the ids of the leader's learner handlers, sorted (so
// a Ready does not depend on map order). The slice is shared until the
// handlers change: callers must not modify it.
func (p *Peer) handlerIDs() []ID {
	if p.handlerOrder == nil || len(p.handlerOrder) != len(p.handlers) {
		ids := make([]ID, 0, len(p.handlers))
		for id := range p.handlers {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		p.handlerOrder = ids
	}
	return p.handlerOrder
}
