// Package catchup decides how a ZAB leader brings a learner (follower or
// observer) that connects to it up to date, from the learner's last logged
// zxid and the leader's log, as ZooKeeper's LearnerHandler.syncFollower
// does:
//
//   - DIFF: the learner's last zxid is in the leader's history; send every
//     txn after it.
//   - TRUNC: the learner has txns past everything the leader has (logged
//     in an earlier epoch and never committed); cut them.
//   - TRUNC+DIFF: the learner's last zxid is not in the leader's history
//     but falls inside it (it logged txns of an old epoch that a later
//     leader never had); cut back to the leader's greatest zxid below it,
//     then send what follows.
//   - SNAP: the leader cannot tell where the learner's history meets its
//     own (the learner is behind the oldest record the leader kept), or
//     the txns to send would cost more than a snapshot.
//
// Plan is a pure function of its inputs. It relies on ZAB's prefix
// property: two members that logged the same zxid logged the same txn and
// the same history before it, so where the learner's log meets the
// leader's is decided by zxids alone.
//
// What it does not decide: what the learner does with the plan. A learner
// makes everything it was sent durable before it acknowledges NEWLEADER,
// and only then records the new epoch (the sync-phase data-loss bugs
// ZOOKEEPER-4643, -4646 and -4785 were each a learner that did not).
package catchup

import (
	"fmt"

	"zabd/log"
)

// Log is what Plan reads of the leader's history.
type Log interface {
	// Bounds returns the oldest and the last zxid the log holds (0, 0 when
	// it holds none).
	Bounds() (oldest, last log.Zxid)
	// Floor returns the greatest zxid the log holds that is <= z; ok is
	// false when z is below the oldest zxid it holds (it cannot tell).
	Floor(z log.Zxid) (floor log.Zxid, ok bool)
}

// Input is what the leader knows when a learner connects.
type Input struct {
	// Learner is the learner's last logged zxid (0: it has nothing).
	Learner log.Zxid
	// Log is the leader's log.
	Log Log
	// Whole: the leader's log holds its whole history (nothing was ever
	// purged and it started from nothing), so every learner can be
	// brought up to date from it without a snapshot.
	Whole bool
	// TooBig, if set, reports whether sending every txn after zxid after
	// would cost more than a snapshot (ZooKeeper compares the txns' size
	// with the snapshot's times snapshotSizeFactor); a SNAP is sent then.
	TooBig func(after log.Zxid) bool
}

// Kind is the kind of sync. Zero is invalid.
type Kind uint8

const (
	Diff Kind = iota + 1
	Trunc
	TruncDiff
	Snap
)

func (k Kind) String() string {
	switch k {
	case Diff:
		return "DIFF"
	case Trunc:
		return "TRUNC"
	case TruncDiff:
		return "TRUNC+DIFF"
	case Snap:
		return "SNAP"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Decision is a plan for one learner.
type Decision struct {
	Kind Kind
	// TruncTo: for Trunc and TruncDiff, the learner removes every txn
	// above it.
	TruncTo log.Zxid
	// After: for Diff and TruncDiff, the leader sends every txn of its
	// log above it (none when it is the leader's last).
	After log.Zxid
	// Why says in words why this kind was chosen, for the leader's log.
	Why string
}

func (d Decision) String() string {
	switch d.Kind {
	case Diff:
		return fmt.Sprintf("DIFF after %v (%s)", d.After, d.Why)
	case Trunc:
		return fmt.Sprintf("TRUNC to %v (%s)", d.TruncTo, d.Why)
	case TruncDiff:
		return fmt.Sprintf("TRUNC to %v, DIFF after it (%s)", d.TruncTo, d.Why)
	}
	return fmt.Sprintf("%s (%s)", d.Kind, d.Why)
}

// Plan decides how to bring the learner up to date.
func Plan(in Input) Decision {
	oldest, last := in.Log.Bounds()
	snap := func(why string) Decision { return Decision{Kind: Snap, Why: why} }
	diff := func(after log.Zxid, why string) Decision {
		if after < last && in.TooBig != nil && in.TooBig(after) {
			return snap(fmt.Sprintf("the txns after %v cost more than a snapshot", after))
		}
		return Decision{Kind: Diff, After: after, Why: why}
	}
	switch {
	case in.Learner == last:
		return Decision{Kind: Diff, After: last, Why: "the learner has what the leader has"}
	case in.Learner == 0:
		if in.Whole {
			return diff(0, "the learner is empty and the leader's log holds its whole history")
		}
		return snap("the learner is empty and the leader's log does not reach back to the start")
	case last == 0:
		// The leader logged nothing: with its whole (empty) history, the
		// learner's txns were never committed.
		if in.Whole {
			return Decision{Kind: Trunc, TruncTo: 0, Why: "the leader's history is empty"}
		}
		return snap("the leader's log is empty past its snapshot")
	}
	floor, ok := in.Log.Floor(in.Learner)
	if !ok {
		if in.Whole {
			// Below the oldest record of a whole log: nothing of the
			// leader's history is at or below the learner's last.
			floor, ok = 0, true
		} else {
			return snap(fmt.Sprintf("the learner's last zxid %v is below the oldest the leader kept (%v)", in.Learner, oldest))
		}
	}
	switch {
	case floor == in.Learner:
		return diff(in.Learner, "the learner's last zxid is in the leader's history")
	case floor == last:
		return Decision{Kind: Trunc, TruncTo: last, Why: fmt.Sprintf("the learner is ahead of the leader (%v > %v)", in.Learner, last)}
	}
	d := diff(floor, "")
	if d.Kind == Snap {
		return d
	}
	return Decision{Kind: TruncDiff, TruncTo: floor, After: floor,
		Why: fmt.Sprintf("the learner's last zxid %v is not in the leader's history; it meets it at %v", in.Learner, floor)}
}
