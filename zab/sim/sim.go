// Package sim runs a whole ZAB ensemble in one goroutine from one seed:
// members (package peer) over an in-memory log and hard state, a network
// that delays, drops, duplicates, reorders and partitions, a virtual
// clock, and crashes (some in the middle of writing a Ready, leaving a
// torn log) followed by restarts. Clients write through the leader and
// through followers, and sync. With Options.AsyncAppends a serving
// member's appends become durable some random time after its Ready
// (peer.Config.AsyncAppends), and a crash keeps any prefix of those in
// flight.
//
// After every event it checks:
//   - at most one leader is established per epoch;
//   - every member applies txns that extend one committed history (no
//     fork), and no member ever truncates or restores away a committed
//     txn;
//   - a write is acknowledged (applied by the leader that proposed it) only
//     when a quorum of voters holds it durably;
//   - a sync answered on a member sees every write acknowledged before
//     the sync was asked;
//
// and at the end of a run, with the network healed and every member up,
// that a leader is elected, a last write commits everywhere, all members
// hold the same history, and every acknowledged write is in it.
//
// The same seed replays the same run exactly (Run is a pure function of
// its Options).
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"zabd/log"
	"zabd/zab/peer"
	"zabd/zab/quorum"
)

// Options shape a run. Zero fields take defaults.
type Options struct {
	Seed      uint64
	Voters    int // default 3
	Observers int
	// Steps bounds the faulty part of the run, in virtual time units (a
	// tick is 10 units). Default 4000.
	Steps int
	// Faults turns on crashes, partitions, drops, duplicates and reordering.
	Faults bool
	// AsyncAppends: members run with peer.Config.AsyncAppends, and a
	// serving member's appends become durable some time after its Ready
	// (a crash keeps a prefix of them).
	AsyncAppends bool
	// Trace, if set, gets one line per event.
	Trace func(string)
}

// Result is what a run saw.
type Result struct {
	Acked     int // writes acknowledged
	Committed int // txns in the committed history at the end
	Elections int // leaders established
	Crashes   int
	Syncs     int // syncs answered and checked
	Events    int
}

const tickUnits = 10

type applied = peer.Entry

// memLog is a member's durable log: a snapshot's state (Base, State) and
// the entries after it.
type memLog struct {
	base    log.Zxid
	state   []applied // the state at base (nil when base is 0)
	entries []peer.Entry
}

func (l *memLog) last() log.Zxid {
	if n := len(l.entries); n > 0 {
		return l.entries[n-1].Zxid
	}
	return l.base
}

// Bounds, Floor, Whole: peer.Log.
func (l *memLog) Bounds() (log.Zxid, log.Zxid) {
	if l.base > 0 {
		return l.base, l.last()
	}
	if len(l.entries) == 0 {
		return 0, 0
	}
	return l.entries[0].Zxid, l.last()
}

func (l *memLog) Floor(z log.Zxid) (log.Zxid, bool) {
	oldest, _ := l.Bounds()
	if z < oldest {
		return 0, false
	}
	i, found := slices.BinarySearchFunc(l.entries, z, func(e peer.Entry, z log.Zxid) int {
		return cmpZxid(e.Zxid, z)
	})
	if found {
		return z, true
	}
	if i == 0 {
		return l.base, true
	}
	return l.entries[i-1].Zxid, true
}

func (l *memLog) Whole() bool { return l.base == 0 }

func (l *memLog) Base() log.Zxid { return l.base }

func cmpZxid(a, b log.Zxid) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// has reports whether the durable log holds e (in its entries or its
// snapshot's state).
func (l *memLog) has(e peer.Entry) bool {
	if e.Zxid <= l.base {
		i, ok := slices.BinarySearchFunc(l.state, e.Zxid, func(a applied, z log.Zxid) int { return cmpZxid(a.Zxid, z) })
		return ok && string(l.state[i].Data) == string(e.Data)
	}
	i, ok := slices.BinarySearchFunc(l.entries, e.Zxid, func(a peer.Entry, z log.Zxid) int { return cmpZxid(a.Zxid, z) })
	return ok && string(l.entries[i].Data) == string(e.Data)
}

// node is one member: durable state (log, hs) and what a crash loses.
type node struct {
	id       peer.ID
	voter    bool
	up       bool
	restarts uint32
	hs       peer.HardState
	log      memLog

	p        *peer.Peer
	applied  []applied // the state, as the txns applied in order
	verified int       // applied[:verified] is known to equal the committed history
	status   peer.Status
	syncs    map[uint64][]peer.Entry // open syncs: the writes acked before each was asked
	proposed map[log.Zxid]bool       // writes this member proposed as leader (a client waits)
	drainDue bool
	// pending are appends issued (Ready.AppendAsync) and not yet durable,
	// in order; persistDue: an evPersist is queued for them.
	pending    []peer.Entry
	persistDue bool
}

// lastIssued is the last zxid appended, durable or not.
func (n *node) lastIssued() log.Zxid {
	if k := len(n.pending); k > 0 {
		return n.pending[k-1].Zxid
	}
	return n.log.last()
}

type event struct {
	at   int
	seq  int
	kind int // evDeliver, evTick, evClient, evFault
	node int
	msg  peer.Message
}

const (
	evDeliver = iota
	evTick
	evClient
	evFault
	evRestart
	evDrain
	evUnreachable // node hears that its connection to msg.From broke
	evPersist     // some of node's pending appends become durable
)

type queue []*event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *queue) Pop() any     { old := *q; e := old[len(old)-1]; *q = old[:len(old)-1]; return e }
func (q *queue) add(e *event) { heap.Push(q, e) }
func (q *queue) next() *event { return heap.Pop(q).(*event) }
func (q *queue) empty() bool  { return len(*q) == 0 }
func (s *sim) at(dt int) int  { return s.now + dt }
func (s *sim) nextSeq() int   { s.seq++; return s.seq }
func (s *sim) trace(f string, a ...any) {
	if s.opts.Trace != nil {
		s.opts.Trace(fmt.Sprintf("%6d ", s.now) + fmt.Sprintf(f, a...))
	}
}

type sim struct {
	opts     Options
	rng      *rand.Rand
	now, seq int
	q        queue
	nodes    []*node
	voters   []peer.ID
	obs      []peer.ID
	majority quorum.Majority

	// network
	linkLast  map[[2]peer.ID]int // FIFO: last delivery time per link
	cut       map[peer.ID]bool   // partitioned away from the rest
	dropP     float64
	dupP      float64
	reorderP  float64
	faulty    bool
	crashP    float64
	tornP     float64
	writeSeq  int
	syncSeq   uint64
	committed []peer.Entry        // the committed history, as members applied it
	index     map[log.Zxid]int    // zxid → position in committed
	acked     map[log.Zxid]string // acknowledged writes
	ackOrder  []peer.Entry
	leaders   map[uint32]peer.ID  // epoch → established leader
	starts    map[uint32]log.Zxid // epoch → the history its leader started with
	res       Result
	err       error
}

// Run runs one seeded simulation and returns what it saw, or the first
// violated property.
func Run(opts Options) (Result, error) {
	if opts.Voters == 0 {
		opts.Voters = 3
	}
	if opts.Steps == 0 {
		opts.Steps = 4000
	}
	s := &sim{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		linkLast: map[[2]peer.ID]int{}, cut: map[peer.ID]bool{}, index: map[log.Zxid]int{},
		acked: map[log.Zxid]string{}, leaders: map[uint32]peer.ID{}, starts: map[uint32]log.Zxid{}}
	for i := 1; i <= opts.Voters; i++ {
		s.voters = append(s.voters, peer.ID(i))
	}
	for i := 0; i < opts.Observers; i++ {
		s.obs = append(s.obs, peer.ID(opts.Voters+1+i))
	}
	s.majority, _ = quorum.NewMajority(s.voters...)
	if opts.Faults {
		s.faulty = true
		s.dropP = s.rng.Float64() * 0.05
		s.dupP = s.rng.Float64() * 0.02
		s.reorderP = s.rng.Float64() * 0.01
		s.crashP = s.rng.Float64() * 0.001
		s.tornP = 0.3
	}
	for _, id := range append(slices.Clone(s.voters), s.obs...) {
		n := &node{id: id, voter: id <= peer.ID(opts.Voters)}
		s.nodes = append(s.nodes, n)
		s.start(n)
		s.q.add(&event{at: s.rng.IntN(tickUnits), seq: s.nextSeq(), kind: evTick, node: int(id)})
	}
	s.q.add(&event{at: 5, seq: s.nextSeq(), kind: evClient})
	if s.faulty {
		s.q.add(&event{at: 50 + s.rng.IntN(200), seq: s.nextSeq(), kind: evFault})
	}
	s.loop(opts.Steps)
	if s.err == nil {
		s.heal()
	}
	s.res.Committed = len(s.committed)
	return s.res, s.err
}

func (s *sim) fail(format string, a ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("seed %d at %d: %s", s.opts.Seed, s.now, fmt.Sprintf(format, a...))
		s.trace("VIOLATION: %v", s.err)
	}
}

func (s *sim) node(id peer.ID) *node { return s.nodes[id-1] }

// start (re)starts a member from its durable state, as recovery would:
// everything logged is applied.
func (s *sim) start(n *node) {
	n.up = true
	n.drainDue = false
	n.restarts++
	n.applied = append(slices.Clone(n.log.state), n.log.entries...)
	n.verified = 0
	n.syncs = map[uint64][]peer.Entry{}
	n.proposed = map[log.Zxid]bool{}
	var err error
	n.p, err = peer.New(peer.Config{ID: n.id, Voters: s.voters, Observers: s.obs, Log: &n.log,
		Applied: n.log.last(), HardState: n.hs, Incarnation: n.restarts,
		InitLimit: 10, SyncLimit: 5, AsyncAppends: s.opts.AsyncAppends})
	if err != nil {
		s.fail("member %d cannot start: %v", n.id, err)
		return
	}
	n.status = peer.Status{}
	s.trace("start %d hs %+v log %v..%v", n.id, n.hs, n.log.base, n.log.last())
	s.drain(n)
}

func (s *sim) crash(n *node) {
	n.up = false
	n.p = nil
	s.res.Crashes++
	if len(n.pending) > 0 {
		// Appends in flight: any prefix of them may have reached the disk.
		n.log.entries = append(n.log.entries, n.pending[:s.rng.IntN(len(n.pending)+1)]...)
		n.pending = nil
	}
	n.persistDue = false
	for k := range s.linkLast {
		if k[0] == n.id || k[1] == n.id {
			delete(s.linkLast, k)
		}
	}
	s.trace("crash %d", n.id)
	// Its TCP connections close: most members hear of it (Unreachable),
	// some only by silence.
	for _, o := range s.nodes {
		if o.id != n.id && s.rng.IntN(4) != 0 {
			s.q.add(&event{at: s.at(1 + s.rng.IntN(10)), seq: s.nextSeq(), kind: evUnreachable, node: int(o.id), msg: peer.Message{From: n.id}})
		}
	}
}

func (s *sim) loop(until int) {
	for !s.q.empty() && s.err == nil {
		ev := s.q.next()
		if ev.at > until {
			s.q.add(ev)
			s.now = until
			return
		}
		s.now = ev.at
		s.res.Events++
		switch ev.kind {
		case evDeliver:
			n := s.node(ev.msg.To)
			if !n.up || s.cut[ev.msg.From] != s.cut[ev.msg.To] {
				continue
			}
			s.trace("recv %v", ev.msg)
			n.p.Step(ev.msg)
			if s.rng.IntN(2) == 0 {
				s.drain(n)
			} else if !n.drainDue {
				// Batch: more messages may arrive before this member
				// does its Ready, as a driver that reads ahead would.
				n.drainDue = true
				s.q.add(&event{at: s.at(s.rng.IntN(4)), seq: s.nextSeq(), kind: evDrain, node: int(n.id)})
			}
		case evUnreachable:
			if n := s.node(peer.ID(ev.node)); n.up {
				s.trace("%d: connection to %d broke", n.id, ev.msg.From)
				n.p.Unreachable(ev.msg.From)
				s.drain(n)
			}
		case evDrain:
			if n := s.node(peer.ID(ev.node)); n.up {
				n.drainDue = false
				s.drain(n)
			}
		case evPersist:
			if n := s.node(peer.ID(ev.node)); n.up && n.persistDue {
				n.persistDue = false
				if len(n.pending) > 0 {
					s.persist(n, 1+s.rng.IntN(len(n.pending)))
					s.drain(n)
				}
			}
		case evTick:
			n := s.node(peer.ID(ev.node))
			if n.up {
				n.p.Tick()
				s.drain(n)
			}
			s.q.add(&event{at: s.at(tickUnits - 1 + s.rng.IntN(3)), seq: s.nextSeq(), kind: evTick, node: ev.node})
		case evClient:
			s.client()
			s.q.add(&event{at: s.at(1 + s.rng.IntN(8)), seq: s.nextSeq(), kind: evClient})
		case evRestart:
			if n := s.node(peer.ID(ev.node)); !n.up {
				s.start(n)
			}
		case evFault:
			if !s.faulty {
				continue
			}
			s.fault()
			s.q.add(&event{at: s.at(20 + s.rng.IntN(300)), seq: s.nextSeq(), kind: evFault})
		}
	}
}

// client writes through a serving member (the leader, or a follower that
// forwards) and now and then syncs on one.
func (s *sim) client() {
	var serving []*node
	for _, n := range s.nodes {
		if n.up && n.p.Status().Serving {
			serving = append(serving, n)
		}
	}
	if len(serving) == 0 {
		return
	}
	n := serving[s.rng.IntN(len(serving))]
	if s.rng.IntN(6) == 0 {
		s.syncSeq++
		if n.p.Sync(s.syncSeq) == nil {
			n.syncs[s.syncSeq] = slices.Clone(s.ackOrder)
		}
	} else {
		s.writeSeq++
		data := []byte(fmt.Sprintf("w%d", s.writeSeq))
		if n.p.Status().Role == peer.Leading {
			if z, err := n.p.Propose(data); err == nil {
				n.proposed[z] = true
			}
		} else {
			_ = n.p.Forward(data)
		}
	}
	s.drain(n)
}

func (s *sim) fault() {
	r := s.rng.IntN(10)
	ups := []*node{}
	for _, n := range s.nodes {
		if n.up {
			ups = append(ups, n)
		}
	}
	switch {
	case r < 3: // crash one
		if len(ups) > 0 {
			n := ups[s.rng.IntN(len(ups))]
			s.crash(n)
			s.q.add(&event{at: s.at(50 + s.rng.IntN(400)), seq: s.nextSeq(), kind: evRestart, node: int(n.id)})
		}
	case r < 5: // partition a random set away
		clear(s.cut)
		for _, n := range s.nodes {
			if s.rng.IntN(3) == 0 {
				s.cut[n.id] = true
			}
		}
		s.trace("partition %v", s.cut)
	case r < 7:
		clear(s.cut)
		s.trace("heal partition")
	case r < 9:
		if len(ups) > 0 {
			s.compact(ups[s.rng.IntN(len(ups))])
		}
	}
}

// drain does every Ready a member has.
func (s *sim) drain(n *node) {
	for s.err == nil && n.up && n.p.HasReady() {
		rd := n.p.Ready()
		if !s.do(n, rd) {
			return // crashed part way
		}
		n.p.Advance(rd)
		// A leader proposes forwarded writes.
		for _, r := range rd.Requests {
			if z, err := n.p.Propose(r.Data); err == nil {
				n.proposed[z] = true
			}
		}
	}
}

// sendAll sends msgs in order, skipping members whose connection a
// message that could not be filled closed.
func (s *sim) sendAll(n *node, msgs []peer.Message, closed map[peer.ID]bool) {
	for _, m := range msgs {
		if closed[m.To] {
			continue
		}
		if !s.send(n, m) {
			// The driver could not fill a DIFF (a purge ran between the
			// plan and now): it ends the connection instead.
			s.trace("%d: cannot fill %v from its log (%v..%v): connection to %d closed", n.id, m, n.log.base, n.log.last(), m.To)
			closed[m.To] = true
		}
	}
}

// persist makes the first k pending appends durable and tells the core.
func (s *sim) persist(n *node, k int) {
	if k <= 0 || len(n.pending) == 0 {
		return
	}
	n.log.entries = append(n.log.entries, n.pending[:k]...)
	n.pending = slices.Clone(n.pending[k:])
	s.trace("%d: durable through %v", n.id, n.log.last())
	n.p.Appended(n.log.last())
	if len(n.pending) > 0 && !n.persistDue {
		n.persistDue = true
		s.q.add(&event{at: s.at(1 + s.rng.IntN(6)), seq: s.nextSeq(), kind: evPersist, node: int(n.id)})
	}
}

// doAsync does a Ready whose appends become durable later.
func (s *sim) doAsync(n *node, rd peer.Ready) bool {
	if s.faulty && s.rng.Float64() < s.crashP {
		s.crash(n)
		return false
	}
	ov := rd.Overlap()
	closed := map[peer.ID]bool{}
	s.sendAll(n, ov.Early, closed)
	s.apply(n, min(ov.CommitEarly, n.lastIssued()))
	for _, op := range rd.Log {
		if last := n.lastIssued(); op.Entries[0].Zxid <= last {
			s.fail("member %d appends %v after %v", n.id, op.Entries[0].Zxid, last)
			return false
		}
		n.pending = append(n.pending, op.Entries...)
	}
	if !n.persistDue {
		n.persistDue = true
		s.q.add(&event{at: s.at(1 + s.rng.IntN(6)), seq: s.nextSeq(), kind: evPersist, node: int(n.id)})
	}
	s.apply(n, rd.CommitTo)
	for _, id := range rd.Syncs {
		s.checkSync(n, id)
	}
	return true
}

// do does one Ready; false if the member crashed doing it.
func (s *sim) do(n *node, rd peer.Ready) bool {
	for _, note := range rd.Notes {
		s.trace("%d: %s", n.id, note)
	}
	if rd.Status != n.status {
		s.trace("%d: %v", n.id, rd.Status)
		if rd.Status.Role == peer.Leading && rd.Status.Serving {
			if l, ok := s.leaders[rd.Status.Epoch]; ok && l != n.id {
				s.fail("two leaders established in epoch %d: %d and %d", rd.Status.Epoch, l, n.id)
			}
			s.leaders[rd.Status.Epoch] = n.id
			s.starts[rd.Status.Epoch], _ = n.p.EpochStart()
			s.res.Elections++
			s.checkEpochs()
		}
		if rd.Status.Role != peer.Leading || !rd.Status.Serving {
			clear(n.proposed)
		}
		n.status = rd.Status
	}
	if rd.AppendAsync {
		return s.doAsync(n, rd)
	}
	if len(n.pending) > 0 && rd.NeedsAppendsDurable() {
		// A driver makes its appends in flight durable before a Ready
		// that changes the log otherwise or reads it.
		s.persist(n, len(n.pending))
	}
	tornAt := -1
	p := s.crashP
	if len(rd.Log) > 1 && slices.ContainsFunc(rd.Log, func(op peer.LogOp) bool { return op.Kind == peer.OpHardState }) {
		// A Ready that logs and moves an epoch is where ordering bugs
		// live (ZOOKEEPER-4643, -4646): crash there more often.
		p = max(p, 0.05)
	}
	if s.faulty && s.rng.Float64() < p {
		tornAt = s.rng.IntN(len(rd.Log) + 2)
	}
	// As package member does (peer.Overlap): what claims nothing about
	// this member's disk leaves, and what earlier Readys logged is
	// applied, before the log ops are durable (a crash below may lose
	// them).
	ov := rd.Overlap()
	closed := map[peer.ID]bool{}
	s.sendAll(n, ov.Early, closed)
	if ov.CommitEarly > 0 {
		s.apply(n, min(ov.CommitEarly, n.log.last()))
	}
	for i, op := range rd.Log {
		if i == tornAt {
			// Crash in the middle: a prefix of this op's entries is durable.
			if op.Kind == peer.OpAppend && s.rng.Float64() < s.tornP {
				k := s.rng.IntN(len(op.Entries))
				n.log.entries = append(n.log.entries, op.Entries[:k]...)
			}
			s.crash(n)
			return false
		}
		switch op.Kind {
		case peer.OpRestore:
			st := op.Message.Snapshot.([]applied)
			s.checkPrefix(n, st, "restore")
			n.log = memLog{base: op.Zxid, state: slices.Clone(st)}
			n.applied = slices.Clone(st)
			n.verified = 0
			s.checkEpochs()
		case peer.OpTruncate:
			if op.Zxid < n.log.base {
				s.fail("member %d told to truncate to %v, below its snapshot at %v", n.id, op.Zxid, n.log.base)
				return false
			}
			for _, e := range n.log.entries {
				if e.Zxid > op.Zxid {
					if i, ok := s.index[e.Zxid]; ok && string(s.committed[i].Data) == string(e.Data) {
						s.fail("member %d truncates committed txn %v (TRUNC to %v)", n.id, e.Zxid, op.Zxid)
					}
				}
			}
			k := len(n.log.entries)
			for k > 0 && n.log.entries[k-1].Zxid > op.Zxid {
				k--
			}
			n.log.entries = n.log.entries[:k]
			k = len(n.applied)
			for k > 0 && n.applied[k-1].Zxid > op.Zxid {
				k--
			}
			n.applied = n.applied[:k]
			n.verified = min(n.verified, k)
		case peer.OpHardState:
			n.hs = op.HardState
			s.checkEpochs()
		case peer.OpAppend:
			if last := n.log.last(); op.Entries[0].Zxid <= last {
				s.fail("member %d appends %v after %v", n.id, op.Entries[0].Zxid, last)
			}
			n.log.entries = append(n.log.entries, op.Entries...)
		}
	}
	if tornAt == len(rd.Log) {
		s.crash(n)
		return false
	}
	s.checkEpochs()
	s.sendAll(n, ov.Late, closed)
	s.apply(n, rd.CommitTo)
	for _, id := range rd.Syncs {
		s.checkSync(n, id)
	}
	return true
}

// send puts m on the network; false if the driver cannot fill it.
func (s *sim) send(n *node, m peer.Message) bool {
	if m.Type == peer.Diff {
		// The driver fills DIFF from its log, from right after Prev.
		if f, ok := n.log.Floor(m.Prev); (!ok || f != m.Prev) && !(m.Prev == 0 && n.log.Whole()) {
			return false
		}
		for _, e := range n.log.entries {
			if e.Zxid > m.Prev && e.Zxid <= m.Zxid {
				m.Entries = append(m.Entries, e)
			}
		}
		if m.LastZxid() != m.Zxid || len(m.Entries) == 0 {
			s.fail("member %d cannot fill DIFF %v..%v from its log (%v..%v)", n.id, m.Prev, m.Zxid, n.log.base, n.log.last())
			return false
		}
	}
	if m.Type == peer.Snap {
		if last := lastApplied(n.applied); last != m.Zxid {
			s.fail("member %d sends SNAP at %v but its state is at %v", n.id, m.Zxid, last)
			return false
		}
		m.Snapshot = slices.Clone(n.applied)
	}
	link := [2]peer.ID{m.From, m.To}
	copies := 1
	if s.faulty {
		if s.rng.Float64() < s.dropP {
			s.trace("drop %v", m)
			return true
		}
		if s.rng.Float64() < s.dupP {
			copies = 2
		}
	}
	for c := 0; c < copies; c++ {
		at := s.at(1 + s.rng.IntN(15))
		if !s.faulty || s.rng.Float64() >= s.reorderP {
			at = max(at, s.linkLast[link])
			s.linkLast[link] = at
		}
		s.q.add(&event{at: at, seq: s.nextSeq(), kind: evDeliver, msg: m})
	}
	return true
}

// checkEpochs checks ZAB's invariant on durable state: a member whose
// currentEpoch is e holds the history e's leader started with.
func (s *sim) checkEpochs() {
	for _, n := range s.nodes {
		start, ok := s.starts[n.hs.CurrentEpoch]
		if !ok {
			continue
		}
		if n.log.last() < start {
			s.fail("member %d has currentEpoch %d but its log ends at %v, before the epoch's start %v", n.id, n.hs.CurrentEpoch, n.log.last(), start)
			return
		}
		if i, ok := s.index[start]; start > 0 && ok && !n.log.has(s.committed[i]) {
			s.fail("member %d has currentEpoch %d but not txn %v its history starts from", n.id, n.hs.CurrentEpoch, start)
			return
		}
	}
}

// compact takes a snapshot of n's applied state at a random point and
// drops the log before it, as a snapshot and purge would.
func (s *sim) compact(n *node) {
	if len(n.applied) == 0 || n.p.HasReady() {
		// A driver purges between Readies, not between a Step and the
		// Ready that acts on it.
		return
	}
	k := len(n.applied) - s.rng.IntN(min(len(n.applied), 5))
	at := n.applied[k-1].Zxid
	if at <= n.log.base || at > n.log.last() {
		return
	}
	n.log.state = slices.Clone(n.applied[:k])
	n.log.base = at
	i := indexAfter(n.log.entries, at)
	n.log.entries = slices.Clone(n.log.entries[i:])
	s.trace("compact %d at %v", n.id, at)
}

func lastApplied(a []applied) log.Zxid {
	if len(a) == 0 {
		return 0
	}
	return a[len(a)-1].Zxid
}

// apply applies logged entries up to commitTo and checks them against the
// committed history.
func (s *sim) apply(n *node, commitTo log.Zxid) {
	last := lastApplied(n.applied)
	if commitTo <= last {
		// Nothing new (what recovery applied is not known committed).
		return
	}
	// Committed entries may be applied before they are durable here
	// (pending): a quorum has them.
	for _, e := range slices.Concat(n.log.entries, n.pending) {
		if e.Zxid > last && e.Zxid <= commitTo {
			n.applied = append(n.applied, e)
		}
	}
	if lastApplied(n.applied) != commitTo {
		s.fail("member %d told to apply through %v but its log ends at %v", n.id, commitTo, n.lastIssued())
		return
	}
	s.checkPrefix(n, n.applied, "commit")
	// Acknowledge the writes this member proposed as leader.
	for i := len(n.applied) - 1; i >= 0 && n.applied[i].Zxid > last; i-- {
		e := n.applied[i]
		if !n.proposed[e.Zxid] {
			continue
		}
		delete(n.proposed, e.Zxid)
		holders := 0
		for _, v := range s.nodes {
			if v.voter && v.log.has(e) {
				holders++
			}
		}
		if holders < s.majority.Size() {
			s.fail("write %v acknowledged by %d with only %d voters holding it durably", e.Zxid, n.id, holders)
		}
		s.acked[e.Zxid] = string(e.Data)
		s.ackOrder = append(s.ackOrder, e)
		s.res.Acked++
	}
}

func indexAfter(a []applied, z log.Zxid) int {
	i, _ := slices.BinarySearchFunc(a, z+1, func(e applied, z log.Zxid) int { return cmpZxid(e.Zxid, z) })
	return i
}

// checkPrefix checks that seq (a member's state) and the committed
// history agree where both go, and, for a commit, extends the history.
func (s *sim) checkPrefix(n *node, seq []applied, what string) {
	start := 0
	if what == "commit" {
		start = min(n.verified, len(seq))
	}
	for i := start; i < len(seq); i++ {
		e := seq[i]
		if i < len(s.committed) {
			if c := s.committed[i]; c.Zxid != e.Zxid || string(c.Data) != string(e.Data) {
				s.fail("member %d %s: txn %d is %v %q, the committed history has %v %q", n.id, what, i, e.Zxid, e.Data, c.Zxid, c.Data)
				return
			}
			continue
		}
		if what != "commit" {
			// A restored snapshot holds its sender's applied state, which
			// a leader still syncing got by recovery: not known committed
			// (a next leader may lack it). It joins the history when a
			// commit on top of it is checked.
			break
		}
		s.index[e.Zxid] = len(s.committed)
		s.committed = append(s.committed, e)
	}
	if what == "commit" {
		n.verified = len(seq)
	}
}

func (s *sim) checkSync(n *node, id uint64) {
	want, ok := n.syncs[id]
	if !ok {
		return
	}
	delete(n.syncs, id)
	s.res.Syncs++
	for _, e := range want {
		i := indexAfter(n.applied, e.Zxid) - 1
		if i < 0 || n.applied[i].Zxid != e.Zxid {
			s.fail("sync %d on member %d does not see write %v acknowledged before it", id, n.id, e.Zxid)
			return
		}
	}
}

// heal ends the faults, starts every member, and checks that the ensemble
// recovers: a leader, a last write committed everywhere, one history.
func (s *sim) heal() {
	s.faulty = false
	clear(s.cut)
	for _, n := range s.nodes {
		if !n.up {
			s.start(n)
		}
	}
	deadline := s.now + 3000*tickUnits
	final := []byte("final")
	var finalZxid log.Zxid
	var finalLeader *node
	for s.err == nil && s.now < deadline {
		s.loop(s.now + 50)
		var leader *node
		for _, n := range s.nodes {
			if n.up && n.p.Status().Role == peer.Leading && n.p.Status().Serving {
				leader = n
			}
		}
		if leader == nil {
			continue
		}
		if finalZxid != 0 && finalLeader != leader {
			if i, ok := s.index[finalZxid]; !ok || string(s.committed[i].Data) != string(final) {
				finalZxid = 0 // its leader is gone before it committed: again
			}
		}
		if finalZxid == 0 {
			if z, err := leader.p.Propose(final); err == nil {
				finalZxid, finalLeader = z, leader
				leader.proposed[z] = true
				s.drain(leader)
			}
			continue
		}
		done := true
		for _, n := range s.nodes {
			j := indexAfter(n.applied, finalZxid) - 1
			if !n.up || !n.p.Status().Serving || j < 0 || n.applied[j].Zxid != finalZxid || string(n.applied[j].Data) != string(final) {
				done = false
			}
		}
		if done {
			s.checkEnd(finalZxid)
			return
		}
	}
	if s.err == nil {
		var st []string
		for _, n := range s.nodes {
			if n.up {
				st = append(st, fmt.Sprintf("%d:%v applied %v", n.id, n.p.Status(), lastApplied(n.applied)))
			} else {
				st = append(st, fmt.Sprintf("%d: down", n.id))
			}
		}
		s.fail("no recovery after healing: %s", strings.Join(st, "; "))
	}
}

func (s *sim) checkEnd(final log.Zxid) {
	ref := s.nodes[0].applied
	for _, n := range s.nodes {
		if len(n.applied) < len(ref) {
			ref = n.applied
		}
	}
	for _, n := range s.nodes {
		for i := range ref {
			if n.applied[i].Zxid != ref[i].Zxid || string(n.applied[i].Data) != string(ref[i].Data) {
				s.fail("members disagree at txn %d: %d has %v", i, n.id, n.applied[i].Zxid)
				return
			}
		}
	}
	for _, e := range s.ackOrder {
		z, d := e.Zxid, s.acked[e.Zxid]
		i, ok := s.index[z]
		if !ok || string(s.committed[i].Data) != d {
			s.fail("acknowledged write %v %q lost", z, d)
			return
		}
		if z > final {
			continue // acknowledged after the last write: not yet everywhere
		}
		for _, n := range s.nodes {
			j := indexAfter(n.applied, z) - 1
			if j < 0 || n.applied[j].Zxid != z {
				s.fail("acknowledged write %v missing on member %d (history position %d; member has %d txns, at that position %v; sorted %t)", z, n.id, i, len(n.applied), n.applied[min(i, len(n.applied)-1)].Zxid, slices.IsSortedFunc(n.applied, func(a, b applied) int { return cmpZxid(a.Zxid, b.Zxid) }))
				return
			}
		}
	}
}
