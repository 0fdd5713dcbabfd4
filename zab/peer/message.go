package peer

import (
	"fmt"

	"zabd/log"
	"zabd/zab/election"
)

// ID is a server id (myid).
type ID = uint64

// Entry is one txn of the log: its zxid and its encoded body, opaque here.
type Entry struct {
	Zxid log.Zxid
	Data []byte
}

// Type is a message's kind; the names are ZooKeeper's packet types.
type Type uint8

const (
	Vote         Type = iota + 1 // an election notification (Vote field)
	FollowerInfo                 // learner → leader: acceptedEpoch (Epoch), Observer
	LeaderInfo                   // leader → learner: the new epoch (Epoch)
	AckEpoch                     // learner → leader: currentEpoch (Epoch), last logged zxid (Zxid), the lowest it can truncate to (Prev)
	Trunc                        // leader → learner: remove every txn above Zxid
	Snap                         // leader → learner: the state at Zxid, in Snapshot (the driver's)
	Diff                         // leader → learner: the txns after Prev up to Zxid; the driver fills Entries
	NewLeader                    // leader → learner: the sync stream ended at Zxid; epoch Epoch
	Ack                          // learner → leader: durable through Zxid (NewLeaderAck: of NEWLEADER)
	UpToDate                     // leader → learner: serve; committed through Zxid
	Proposal                     // leader → follower: Entries after Prev
	Commit                       // leader → learner: committed through Zxid
	Inform                       // leader → observer: committed Entries after Prev
	Ping                         // both ways: liveness
	Forwarded                    // learner → leader: a forwarded write (Data)
	SyncReq                      // learner → leader: sync number SyncID
	SyncReply                    // leader → learner: sync number SyncID is done: committed through Zxid
	NotLeader                    // a member that does not lead → a learner's FOLLOWERINFO: look again

	// LastType is the greatest Type (for decoders).
	LastType = NotLeader
)

var typeNames = [...]string{Vote: "VOTE", FollowerInfo: "FOLLOWERINFO", LeaderInfo: "LEADERINFO",
	AckEpoch: "ACKEPOCH", Trunc: "TRUNC", Snap: "SNAP", Diff: "DIFF", NewLeader: "NEWLEADER",
	Ack: "ACK", UpToDate: "UPTODATE", Proposal: "PROPOSAL", Commit: "COMMIT", Inform: "INFORM",
	Ping: "PING", Forwarded: "REQUEST", SyncReq: "SYNC", SyncReply: "SYNCREPLY", NotLeader: "NOTLEADER"}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", uint8(t))
}

// Message is what members send each other. Which fields mean something
// depends on Type (see the constants).
type Message struct {
	Type     Type
	From, To ID
	// Conn names the leader-learner connection: chosen by the learner for
	// each attempt to follow (unique across its restarts), echoed on every
	// message of that connection both ways. Zero for Vote.
	Conn     uint64
	Epoch    uint32
	Zxid     log.Zxid
	Prev     log.Zxid
	Entries  []Entry
	Observer bool
	// NewLeaderAck marks the Ack of NEWLEADER.
	NewLeaderAck bool
	SyncID       uint64
	Data         []byte
	Vote         election.Notification
	// Snapshot is the driver's payload of a Snap: the state at Zxid. The
	// core never looks inside.
	Snapshot any
}

func (m Message) String() string {
	s := fmt.Sprintf("%s %d->%d conn %#x", m.Type, m.From, m.To, m.Conn)
	switch m.Type {
	case Vote:
		return "VOTE " + m.Vote.String()
	case FollowerInfo, LeaderInfo:
		s += fmt.Sprintf(" epoch %d", m.Epoch)
	case AckEpoch:
		s += fmt.Sprintf(" epoch %d last %v", m.Epoch, m.Zxid)
	case Proposal, Inform, Diff:
		s += fmt.Sprintf(" prev %v zxid %v (%d entries)", m.Prev, m.Zxid, len(m.Entries))
	case SyncReq, SyncReply:
		s += fmt.Sprintf(" sync %d", m.SyncID)
	default:
		s += fmt.Sprintf(" zxid %v", m.Zxid)
	}
	return s
}

// LastZxid returns the zxid of the last entry of m, or m.Zxid without
// entries.
func (m Message) LastZxid() log.Zxid {
	if n := len(m.Entries); n > 0 {
		return m.Entries[n-1].Zxid
	}
	return m.Zxid
}
