package peer

import (
	"fmt"

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
