package election

import (
	"errors"
	"fmt"
	"slices"

	"zabd/zab/quorum"
)

// ID is a server id (myid, the N of server.N): at least 1.
type ID uint64

// State is a member's role as the election sees it. Zero is invalid.
type State uint8

const (
	Looking State = iota + 1
	Following
	Leading
	Observing
)

func (s State) String() string {
	switch s {
	case Looking:
		return "LOOKING"
	case Following:
		return "FOLLOWING"
	case Leading:
		return "LEADING"
	case Observing:
		return "OBSERVING"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Vote names a leader and what makes it the best: its peer epoch, then its
// last logged zxid, then its id (Better).
type Vote struct {
	Leader    ID
	Zxid      uint64
	PeerEpoch uint32
}

func (v Vote) String() string {
	return fmt.Sprintf("%d@%d/%#x", v.Leader, v.PeerEpoch, v.Zxid)
}

// Better reports whether a beats b: a higher peer epoch, or the same and a
// higher zxid, or both the same and a higher id (ZooKeeper's
// totalOrderPredicate).
func Better(a, b Vote) bool {
	if a.PeerEpoch != b.PeerEpoch {
		return a.PeerEpoch > b.PeerEpoch
	}
	if a.Zxid != b.Zxid {
		return a.Zxid > b.Zxid
	}
	return a.Leader > b.Leader
}

// Notification is the one message of the election: the sender's state,
// the round (logical clock) of its vote, and the vote.
type Notification struct {
	From, To ID
	State    State
	Round    uint64
	Vote     Vote
}

func (n Notification) String() string {
	return fmt.Sprintf("%d->%d %s round %d vote %s", n.From, n.To, n.State, n.Round, n.Vote)
}

// Config configures a member. Ticks are the driver's unit of time.
type Config struct {
	ID        ID
	Voters    []ID // participants; at least one
	Observers []ID
	// FinalizeTicks is how long a member holding a quorum for its
	// proposal waits for a better vote before deciding (ZooKeeper's
	// finalizeWait, 200 ms). Default 2.
	FinalizeTicks int
	// ResendTicks is how long a looking member waits without hearing
	// anything before it sends its vote again; each resend doubles it, up
	// to MaxResendTicks (ZooKeeper: 200 ms doubling to 60 s). Defaults 2
	// and 64.
	ResendTicks    int
	MaxResendTicks int
}

func (c *Config) validate() error {
	if len(c.Voters) == 0 {
		return errors.New("election: no voters")
	}
	seen := map[ID]bool{}
	for _, id := range append(slices.Clone(c.Voters), c.Observers...) {
		if id == 0 {
			return errors.New("election: server id 0 (ids start at 1)")
		}
		if seen[id] {
			return fmt.Errorf("election: server %d listed twice", id)
		}
		seen[id] = true
	}
	if !seen[c.ID] {
		return fmt.Errorf("election: server %d is neither a voter nor an observer", c.ID)
	}
	if c.FinalizeTicks <= 0 {
		c.FinalizeTicks = 2
	}
	if c.ResendTicks <= 0 {
		c.ResendTicks = 2
	}
	if c.MaxResendTicks < c.ResendTicks {
		c.MaxResendTicks = max(64, c.ResendTicks)
	}
	return nil
}

// Decision is how an election ended for this member.
type Decision struct {
	State State // Leading, Following or Observing
	Vote  Vote  // the leader and the vote that elected it
	Round uint64
}

// held is a vote as received, with the sender's state and round.
type held struct {
	vote  Vote
	round uint64
	state State
}

// same is ZooKeeper's Vote.equals as the quorum count uses it: between
// votes of members that both left the election, the leader and its epoch;
// otherwise the whole vote and the round.
func same(a, b held) bool {
	if a.state == Looking || b.state == Looking {
		return a.vote == b.vote && a.round == b.round
	}
	return a.vote.Leader == b.vote.Leader && a.vote.PeerEpoch == b.vote.PeerEpoch
}

// Election is one member's election state machine. Not safe for
// concurrent use: one driver owns it.
type Election struct {
	cfg      Config
	voters   []ID // sorted
	majority quorum.Majority
	isVoter  map[ID]bool
	observer bool

	state    State
	round    uint64 // the logical clock
	own      Vote   // this member's vote for itself (observers: the zero Vote, beaten by any)
	proposal Vote
	// Invariant while Looking: recv holds votes of the current round only;
	// out holds votes of members that left the election, any round.
	recv map[ID]held
	out  map[ID]held

	finalizing   bool
	finalizeLeft int
	idle         int
	resendAfter  int

	decision Decision
	outbox   []Notification
}

// New makes a member that is not yet looking: call Start.
func New(cfg Config) (*Election, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Election{cfg: cfg, voters: slices.Sorted(slices.Values(cfg.Voters)), isVoter: map[ID]bool{}}
	ids := make([]quorum.ID, 0, len(cfg.Voters))
	for _, id := range cfg.Voters {
		e.isVoter[id] = true
		ids = append(ids, quorum.ID(id))
	}
	var err error
	if e.majority, err = quorum.NewMajority(ids...); err != nil {
		return nil, err
	}
	e.observer = !e.isVoter[cfg.ID]
	return e, nil
}

// Start begins a new round of looking for a leader, with this member's
// last logged zxid and current epoch, and sends its vote to every voter.
func (e *Election) Start(lastZxid uint64, peerEpoch uint32) {
	e.state = Looking
	e.round++
	e.own = Vote{}
	if !e.observer {
		e.own = Vote{Leader: e.cfg.ID, Zxid: lastZxid, PeerEpoch: peerEpoch}
	}
	e.proposal = e.own
	e.recv = map[ID]held{}
	e.out = map[ID]held{}
	e.finalizing = false
	e.idle = 0
	e.resendAfter = e.cfg.ResendTicks
	e.decision = Decision{}
	e.sendAll()
	e.maybeFinalize() // a quorum of one
}

// State is this member's state: zero before Start.
func (e *Election) State() State { return e.state }

// Round is the current logical clock.
func (e *Election) Round() uint64 { return e.round }

// Proposal is the vote this member currently holds (its decided vote once
// it decided).
func (e *Election) Proposal() Vote { return e.proposal }

// Decision returns how the election ended, and false while looking.
func (e *Election) Decision() (Decision, bool) {
	return e.decision, e.decision.State != 0
}

// Outbox returns the notifications to send and forgets them. The caller
// owns the slice.
func (e *Election) Outbox() []Notification {
	out := e.outbox
	e.outbox = nil
	return out
}

// Step takes one notification.
func (e *Election) Step(n Notification) {
	if n.To != e.cfg.ID || n.From == e.cfg.ID || e.state == 0 {
		return
	}
	if !e.isVoter[n.From] {
		// Observers (and unknown members) do not vote: tell them ours.
		e.reply(n.From)
		return
	}
	if e.state != Looking {
		// Out of the election: tell a looking member whom we follow.
		if n.State == Looking {
			e.reply(n.From)
		}
		return
	}
	if n.State == Looking && n.Round < e.round {
		e.reply(n.From) // it is behind: bring it to our round
	}
	if !e.isVoter[n.Vote.Leader] {
		return // a vote for a non-voter counts for nothing
	}
	e.idle = 0
	switch n.State {
	case Looking:
		e.stepLooking(n)
	case Following, Leading:
		e.stepDecided(n)
	}
}

// stepLooking handles a looking voter's vote (ZooKeeper's LOOKING case).
func (e *Election) stepLooking(n Notification) {
	switch {
	case n.Round > e.round:
		e.round = n.Round
		clear(e.recv)
		e.proposal = e.own
		if Better(n.Vote, e.own) {
			e.proposal = n.Vote
		}
		e.finalizing = false
		e.sendAll()
	case n.Round < e.round:
		return
	case Better(n.Vote, e.proposal):
		e.proposal = n.Vote
		e.finalizing = false
		e.sendAll()
	}
	e.recv[n.From] = held{vote: n.Vote, round: n.Round, state: Looking}
	e.maybeFinalize()
}

// maybeFinalize starts (or restarts) the wait for a better vote when a
// quorum holds this member's proposal in this round. Any notification
// restarts the wait, as ZooKeeper polls again for finalizeWait after each.
func (e *Election) maybeFinalize() {
	if e.quorum(e.recv, held{vote: e.proposal, round: e.round, state: Looking}) {
		e.finalizing = true
		e.finalizeLeft = e.cfg.FinalizeTicks
	} else {
		e.finalizing = false
	}
}

// stepDecided handles the vote of a voter that left the election
// (ZooKeeper's FOLLOWING/LEADING case).
func (e *Election) stepDecided(n Notification) {
	h := held{vote: n.Vote, round: n.Round, state: n.State}
	if n.Round == e.round {
		e.recv[n.From] = h
		if e.quorum(e.recv, h) && e.leaderConfirmed(e.recv, n.Vote.Leader, n.Round) {
			e.decide(n.Vote, n.Round)
			return
		}
	}
	e.out[n.From] = h
	if e.quorum(e.out, h) && e.leaderConfirmed(e.out, n.Vote.Leader, n.Round) {
		e.round = n.Round
		e.decide(n.Vote, n.Round)
	}
}

// quorum reports whether more than half of the voters hold a vote the
// same as v (see same).
func (e *Election) quorum(votes map[ID]held, v held) bool {
	return e.majority.Has(func(id quorum.ID) bool {
		h, ok := votes[ID(id)]
		return ok && same(h, v)
	})
}

// leaderConfirmed is ZooKeeper's checkLeader: another member may be
// followed only once it said itself that it leads; this member may lead
// only in the round it is in.
func (e *Election) leaderConfirmed(votes map[ID]held, leader ID, round uint64) bool {
	if leader != e.cfg.ID {
		h, ok := votes[leader]
		return ok && h.state == Leading
	}
	return e.round == round
}

func (e *Election) decide(v Vote, round uint64) {
	switch {
	case e.observer:
		e.state = Observing
	case v.Leader == e.cfg.ID:
		e.state = Leading
	default:
		e.state = Following
	}
	e.proposal = v
	e.finalizing = false
	e.decision = Decision{State: e.state, Vote: v, Round: round}
}

// UpdateEpoch sets the peer epoch of the vote a member that decided
// reports, once the leader it elected established a new epoch (the
// leader when a quorum synced, a learner at UPTODATE), so every member of
// the ensemble tells a member that starts late the same vote
// (ZooKeeper's updateElectionVote, ZOOKEEPER-1732). While looking it does
// nothing.
func (e *Election) UpdateEpoch(peerEpoch uint32) {
	if e.state == Looking || e.state == 0 {
		return
	}
	e.proposal.PeerEpoch = peerEpoch
	e.decision.Vote.PeerEpoch = peerEpoch
}

// Tick advances time by one tick: a finalizing member decides once its
// wait is over; a looking member that heard nothing for a while sends its
// vote again.
func (e *Election) Tick() {
	if e.state != Looking {
		return
	}
	if e.finalizing {
		e.finalizeLeft--
		if e.finalizeLeft <= 0 {
			e.decide(e.proposal, e.round)
		}
		return
	}
	e.idle++
	if e.idle >= e.resendAfter {
		e.idle = 0
		e.resendAfter = min(2*e.resendAfter, e.cfg.MaxResendTicks)
		e.sendAll()
	}
}

// sendAll sends the current proposal to every voter but this member, and
// (a voter) counts it as its own vote in this round, as ZooKeeper's member
// hears its own notification.
func (e *Election) sendAll() {
	if !e.observer && e.state == Looking {
		e.recv[e.cfg.ID] = held{vote: e.proposal, round: e.round, state: Looking}
	}
	for _, id := range e.voters {
		if id != e.cfg.ID {
			e.outbox = append(e.outbox, Notification{From: e.cfg.ID, To: id, State: e.state, Round: e.round, Vote: e.proposal})
		}
	}
}

// reply sends this member's current vote to one member.
func (e *Election) reply(to ID) {
	round := e.round
	if e.decision.State != 0 {
		round = e.decision.Round
	}
	e.outbox = append(e.outbox, Notification{From: e.cfg.ID, To: to, State: e.state, Round: round, Vote: e.proposal})
}
