// Package member runs one server of a ZAB ensemble: the deterministic
// core (package peer) driven by one goroutine that does its I/O, and the
// client request path of whatever role the core has.
//
// The loop takes messages (the transport), ticks (a tenth of tickTime by
// default, so limits in ticks keep ZooKeeper's meaning) and inputs from
// client goroutines (proposals, forwarded writes, syncs), and does each
// Ready in the order the core requires: log ops durably (engine append,
// truncate, restore a snapshot, the epochs), then messages (a DIFF filled
// from the log, a SNAP with the exact state at its zxid), then commits.
// Messages that arrive together are stepped together, so one Ready acts
// on all of them. While serving, appends do not hold the loop: where the
// engine appends asynchronously (engine.AsyncAppender; all of zabd's do)
// the loop hands each batch to the engine's group commit and goes on,
// and a completer goroutine reports each batch durable, in order
// (appends.go, peer.Config.AsyncAppends): a follower ACKs what was
// reported, a leader counts its own ack then. Appends in flight are made
// durable before any other change to the log, or a DIFF or SNAP is
// filled from it.
//
// Request paths (zab.Pipeline, one per serving period):
//   - An established leader's pipeline stamps zxids in its epoch and
//     proposes each txn through the core; "durable" is "committed by a
//     quorum". A failed request is logged as its error txn, so every
//     member answers it the same way.
//   - A learner forwards its clients' writes (and createSession,
//     closeSession) to the leader and answers each when its txn, matched
//     by session and cxid, is applied here; syncs go to the leader and are
//     answered once everything the leader had proposed is applied here.
//     Sessions its clients touch are forwarded each tick; the leader
//     alone expires sessions and reaps containers and TTL nodes.
//
// Invariants:
//   - A client is answered "ok" for a write only after a quorum of
//     voters logged it durably (the leader's pipeline waits for the
//     commit) and it is applied on the member the client is connected to.
//   - The tree holds only committed txns while the member serves. Outside
//     serving it may hold txns a recovery applied that the next leader
//     truncates; a TRUNC below them rebuilds it from a snapshot usable
//     for the cut and the log, and a SNAP replaces it.
//   - Clients are served only between the core's "serving" and the next
//     change of role, leader or epoch; at that change every client
//     connection is closed (as ZooKeeper's member shuts its server down)
//     and requests in flight fail, so no answer comes from a member that
//     no longer knows the outcome.
//   - Installing a leader's snapshot is crash-safe: a marker names it
//     until the log behind it is emptied (FinishRestore completes or
//     forgets it at the next start).
//   - Snapshots the snapshotter takes hold committed state of one tree:
//     they are saved only while serving, and the tree is not replaced
//     while one is being saved.
package member
