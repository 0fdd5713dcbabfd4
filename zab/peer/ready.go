package peer

import (
	"fmt"
	"slices"

	"zabd/log"
)

// HardState is what a member keeps durably beside its log (ZooKeeper's
// acceptedEpoch and currentEpoch files).
type HardState struct {
	AcceptedEpoch uint32 // the newest epoch this member agreed to follow or lead
	CurrentEpoch  uint32 // the epoch of the newest history this member synced
}

// LogOpKind is what a LogOp does to the log.
type LogOpKind uint8

const (
	// OpRestore replaces the log and the applied state with the snapshot
	// Message carries: the state at its Zxid; the log then continues after
	// it.
	OpRestore LogOpKind = iota + 1
	// OpTruncate removes every entry above Zxid (and the applied state
	// goes back to Zxid: a driver that applied past it rebuilds).
	OpTruncate
	// OpAppend appends Entries.
	OpAppend
	// OpHardState writes HardState.
	OpHardState
)

// LogOp is one change to the log, done durably in Ready order.
type LogOp struct {
	Kind    LogOpKind
	Zxid    log.Zxid // OpRestore, OpTruncate
	Message *Message // OpRestore: the Snap message
	Entries []Entry  // OpAppend
	// HardState is what OpHardState writes.
	HardState HardState
}

func (op LogOp) String() string {
	switch op.Kind {
	case OpRestore:
		return fmt.Sprintf("restore snapshot at %v", op.Zxid)
	case OpTruncate:
		return fmt.Sprintf("truncate after %v", op.Zxid)
	case OpAppend:
		return fmt.Sprintf("append %v..%v", op.Entries[0].Zxid, op.Entries[len(op.Entries)-1].Zxid)
	case OpHardState:
		return fmt.Sprintf("hard state: accepted epoch %d, current epoch %d", op.HardState.AcceptedEpoch, op.HardState.CurrentEpoch)
	}
	return fmt.Sprintf("LogOp(%d)", op.Kind)
}

// Role is a member's part in the ensemble at the moment.
type Role uint8

const (
	Looking Role = iota + 1
	Following
	Leading
	Observing
)

func (r Role) String() string {
	switch r {
	case Looking:
		return "looking"
	case Following:
		return "follower"
	case Leading:
		return "leader"
	case Observing:
		return "observer"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Status is a member's role as a driver and operators see it.
type Status struct {
	Role   Role
	Leader ID     // the leader followed or led; 0 while looking
	Epoch  uint32 // the epoch being led or followed (the accepted one)
	// Serving: a leader that is established, a learner that got UPTODATE.
	// Clients are served (writes accepted) only then.
	Serving bool
}

func (s Status) String() string {
	return fmt.Sprintf("%s leader %d epoch %d serving %t", s.Role, s.Leader, s.Epoch, s.Serving)
}

// Request is a write a learner forwarded to the leader.
type Request struct {
	From ID
	Data []byte
}

// Ready is what a driver does next, in the order the package doc gives.
type Ready struct {
	Status   Status
	Log      []LogOp
	Messages []Message
	// CommitTo: apply every logged entry up to it that is not yet applied
	// (after a restore or truncation, what was applied is at most their
	// zxid).
	CommitTo log.Zxid
	// Syncs are the sync numbers (Sync) that are done once CommitTo is
	// applied.
	Syncs []uint64
	// Requests are writes forwarded by learners, for the leader to prepare
	// and Propose.
	Requests []Request
	// Notes say in words what the member decided and why (a leader's
	// sync plan, a learner giving up on its leader), for the log.
	Notes []string
	// AppendAsync (Config.AsyncAppends): the Log ops are appends the
	// driver may make durable after Advance, in order, calling Appended
	// as they become durable; everything else of the Ready is done as
	// Overlap allows, and nothing of it waits for the appends. A driver
	// with appends in flight makes them durable (and says so) before it
	// does any Ready that is not AppendAsync and has Log ops or fills
	// messages from its log (DIFF, SNAP).
	AppendAsync bool
}

// LogEnd returns where the log ends once the Ready's Log ops are done,
// and false when none of them changes the log.
func (rd *Ready) LogEnd() (log.Zxid, bool) {
	for i := len(rd.Log) - 1; i >= 0; i-- {
		switch op := rd.Log[i]; op.Kind {
		case OpAppend:
			return op.Entries[len(op.Entries)-1].Zxid, true
		case OpRestore, OpTruncate:
			return op.Zxid, true
		}
	}
	return 0, false
}

// Overlap is how a driver may overlap a Ready's log ops (an fsync) with
// the rest of it. Early messages may leave, and entries that earlier
// Readys logged up to CommitEarly may be applied, before the Log ops are
// durable; Late messages, the rest of CommitTo and Syncs come after, in
// the package doc's order.
//
// What goes early claims nothing about this member's disk:
//   - a leader's PROPOSALs (its own ack counts only after Advance, so its
//     fsync and its followers' run side by side, as ZooKeeper's leader's
//     do);
//   - while serving, when the Log ops only append: COMMIT, INFORM and
//     SYNCREPLY from a leader, REQUEST (a forwarded write) and SYNC from a
//     learner, PING either way, and the commits themselves. What CommitTo covers was logged
//     by an earlier Ready (a leader's own ack and a learner's entries
//     count only once durable), or, on a learner, arrives in this one and
//     is applied after it;
//   - while serving, when the Log ops only append: a follower's ACK of
//     what was durable before them (with Config.AsyncAppends, an ACK
//     never covers the entries of the Ready it is in).
//
// Messages to one member keep their order: after a message that stays
// late, every later one to the same member stays late too. A SNAP holds
// the state at its zxid, so with one in the Ready nothing is applied
// early.
type Overlap struct {
	Early, Late []Message
	// CommitEarly: apply what earlier Readys logged up to it before the
	// Log ops are durable (0: nothing).
	CommitEarly log.Zxid
}

// Overlap splits rd for a driver that overlaps its log ops (see Overlap).
func (rd *Ready) Overlap() Overlap {
	if len(rd.Log) == 0 {
		return Overlap{Early: rd.Messages, CommitEarly: rd.CommitTo}
	}
	broadcast := rd.Status.Serving && rd.onlyAppends()
	if !slices.ContainsFunc(rd.Messages, func(m Message) bool { return !rd.mayGoEarly(m, broadcast) }) {
		// Every message goes early (a steady broadcast's Ready): Early
		// is Messages itself, and nothing is held, so no SNAP is late.
		o := Overlap{Early: rd.Messages}
		if broadcast {
			o.CommitEarly = rd.CommitTo
		}
		return o
	}
	var o Overlap
	var held map[ID]bool
	for _, m := range rd.Messages {
		if rd.mayGoEarly(m, broadcast) && !held[m.To] {
			o.Early = append(o.Early, m)
			continue
		}
		if held == nil {
			held = map[ID]bool{}
		}
		held[m.To] = true
		o.Late = append(o.Late, m)
	}
	if broadcast && !slices.ContainsFunc(o.Late, func(m Message) bool { return m.Type == Snap }) {
		o.CommitEarly = rd.CommitTo
	}
	return o
}

// mayGoEarly reports whether m, by itself, may leave before rd's log ops
// are durable (Overlap); broadcast: rd is a serving member's and only
// appends. Caller checks rd has log ops.
func (rd *Ready) mayGoEarly(m Message, broadcast bool) bool {
	return rd.Status.Role == Leading && m.Type == Proposal ||
		broadcast && m.claimsNothingDurable(rd.Status.Role) ||
		broadcast && m.Type == Ack && !m.NewLeaderAck && m.Zxid < rd.Log[0].Entries[0].Zxid
}

// asyncable reports whether a serving member may leave rd's appends to
// become durable after Advance: it only appends, and every message and
// commit of it may go before the appends are durable (with every message
// early, nothing is held and no SNAP is late, so all of CommitTo is
// early too).
func (rd *Ready) asyncable() bool {
	if !rd.Status.Serving || len(rd.Log) == 0 || !rd.onlyAppends() {
		return false
	}
	for _, m := range rd.Messages {
		if !rd.mayGoEarly(m, true) {
			return false
		}
	}
	return true
}

// NeedsAppendsDurable reports whether a driver that has AppendAsync
// appends in flight must make them durable, and say so with Appended,
// before it does rd: rd is not AppendAsync and changes the log, or holds
// a message the driver fills from its log (DIFF, SNAP).
func (rd *Ready) NeedsAppendsDurable() bool {
	if rd.AppendAsync {
		return false
	}
	return len(rd.Log) > 0 || slices.ContainsFunc(rd.Messages, func(m Message) bool {
		return m.Type == Diff || m.Type == Snap
	})
}

func (rd *Ready) onlyAppends() bool {
	for _, op := range rd.Log {
		if op.Kind != OpAppend {
			return false
		}
	}
	return true
}

// claimsNothingDurable reports whether m, sent by a member in role r
// while serving, says nothing about the sender's log.
func (m Message) claimsNothingDurable(r Role) bool {
	switch m.Type {
	case Ping:
		return true
	case Commit, Inform, SyncReply:
		return r == Leading
	case Forwarded, SyncReq:
		return r == Following || r == Observing
	}
	return false
}
