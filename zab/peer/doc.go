// Package peer is one member of a ZAB ensemble as a deterministic state
// machine: leader election (package election), then discovery,
// synchronization and broadcast in the role the election gave it. It has
// no goroutines, clock, network or files of its own. A driver, in the
// manner of etcd's raft:
//
//	Step(m)   a message from another member
//	Tick()    one tick of time (ZooKeeper's tickTime)
//	Propose   a txn to replicate (the established leader only)
//	Ready()   what to do now; do it in the order below, then Advance(rd)
//
// Doing a Ready, in order:
//
//  1. Log: restore a snapshot, truncate, append entries, write the hard
//     state (acceptedEpoch, currentEpoch), in the order given, each
//     durable before the next is (a crash may leave any prefix of them);
//  2. Messages: send them, to each member in the order given (after 1: a
//     follower's ACK or NEWLEADER ack is only true once its log and
//     epochs are durable);
//  3. CommitTo: apply every logged entry up to it, in zxid order; then
//     answer Syncs, and hand Requests (forwarded writes) to the leader's
//     request path.
//
// A driver may overlap 1 with the rest (Ready.Overlap): what claims
// nothing about this member's disk (a leader's PROPOSALs, and while
// serving with only appends to do, the commits and the messages that
// carry them) goes before the log ops are durable, so one fsync does not
// hold back the answers of the round before it. With Config.AsyncAppends
// a serving member's Ready that only appends, and has nothing that must
// wait for them, is AppendAsync: the driver calls Advance without
// waiting for the appends and reports them durable with Appended; a
// follower then ACKs only what was reported.
//
// Protocol, as ZooKeeper 3.8 runs it (Leader, LearnerHandler, Learner):
//
//   - Discovery: a learner sends FOLLOWERINFO (its acceptedEpoch); once a
//     quorum of voters (the leader included) has, the leader picks the new
//     epoch, one above the greatest accepted, records it as its own
//     acceptedEpoch, and sends LEADERINFO. A learner accepts a newer epoch
//     durably, then answers ACKEPOCH with its currentEpoch and last zxid;
//     one with an older epoch than it accepted goes back to looking.
//   - Synchronization: once a quorum of voters acknowledged the epoch, the
//     leader records it as its currentEpoch and sends each learner a plan
//     from package catchup: TRUNC, SNAP, then DIFF (every txn after the
//     meeting point up to the leader's last), then NEWLEADER. A learner
//     logs durably everything it was sent before it acknowledges NEWLEADER
//     and records the epoch as its currentEpoch only then (ZOOKEEPER-4643,
//     -4646, -4785). The leader is established once a quorum of voters
//     acknowledged NEWLEADER holding its whole history; that history is
//     then committed, and UPTODATE lets learners serve.
//   - Broadcast: PROPOSAL to followers, each ACKs cumulatively once durable
//     (one ACK per Ready, a group commit), the leader's own durable append
//     counts after Advance; a zxid a quorum of voters has is committed
//     (COMMIT, cumulative); observers get INFORM (the txns) at commit and
//     never count. SYNC is answered once everything proposed before it is
//     committed.
//
// Every entry and DIFF chunk names the zxid before it (Prev), so a learner
// never logs past a gap; sync messages are accepted only in the phase they
// belong to, and every message of a leader-learner connection carries the
// connection's id, so a duplicated, late or reordered message can at worst
// end the connection (the learner goes back to looking), never corrupt the
// log. A lost connection shows as silence: a learner that hears nothing
// from its leader for syncLimit ticks (initLimit while syncing), and a
// leader whose synced voters heard within syncLimit ticks are no longer a
// quorum, go back to looking.
//
// Invariants (checked by package sim over thousands of seeded runs):
//   - At most one leader is established per epoch.
//   - Members apply the same txns in the same order (committed prefixes
//     agree); a txn the leader applied (a client's "ok") is on a quorum's
//     disks and survives any crash that leaves a quorum.
//   - A follower acknowledges only what it logged durably, and its log is
//     a prefix of its leader's history from the moment it acknowledges
//     NEWLEADER.
package peer
