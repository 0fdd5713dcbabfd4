// Package election is ZooKeeper's fast leader election (FastLeaderElection,
// electionAlg=3) as a deterministic state machine: notifications and ticks
// in, notifications out and a decision, with no goroutines, clock, network
// or randomness of its own. A driver delivers Notifications with Step,
// turns wall time into Tick calls, sends what Outbox returns, and reads
// Decision.
//
// A vote names a leader and what makes it best: the leader's peer epoch
// (currentEpoch), then its last logged zxid, then its server id, compared
// in that order (Better). Each member starts a round (a new logical clock,
// ZooKeeper's electionEpoch) voting for itself, tells every voter, and
// adopts any better vote it hears in the same round, telling every voter
// again. Hearing a higher round, it joins that round, starting again from
// the better of its own vote and the one heard. Once the votes it holds
// from the current round show a quorum of voters for its own proposal, it
// waits FinalizeTicks for a better vote; if none comes, it decides: leading
// if the proposal names itself, following (observing, for an observer)
// otherwise. Votes from members that already left the election (following
// or leading) let a member that starts late join the ensemble they agree
// on, but only once the named leader itself says it is leading
// (ZooKeeper's checkLeader), so a member never follows a leader that is
// not there.
//
// A member answers a looking member that is behind (an older round, or
// any round once this member has decided) with its own vote, so late
// joiners and observers catch up. Silence for ResendTicks makes it send
// its vote again, backing off to MaxResendTicks, as ZooKeeper does when no
// notification arrives.
//
// Observers never vote and are never elected: their votes are ignored,
// they propose no one, and they decide OBSERVING once a quorum of voters
// agrees on a leader.
//
// Invariants (checked by the tests, with the simulator in election_test):
//   - Outbox is a function of the calls made so far: recipients in
//     ascending id order, one Notification each.
//   - A member's proposal only ever gets better within a round.
//   - A member decides only for a vote held by a quorum of voters in one
//     round, or named by a quorum of members that already decided and by
//     the leader itself; in a run where every message is eventually
//     delivered and no member crashes, all members decide the same leader,
//     the one with the best (peerEpoch, zxid, id).
//
// What this package does not do: agree on an epoch or on the log. A
// decision is only a candidate leader; ZAB's discovery phase (a quorum of
// followers acknowledging the new epoch) is what makes a leader.
package election
