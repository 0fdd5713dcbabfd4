// Package zab orders, makes durable, and applies every write to the data
// tree. It is shaped like ZooKeeper's Atomic Broadcast so that replication
// plugs in without a rewrite; today it runs with a quorum of one
// (standalone):
//
//	Submit ──prep──▶ stamp zxid ──▶ logger: engine.Append (group commit)
//	                                   │ durable = quorum of one: COMMIT
//	                                   ▼
//	                       applier: tree.Apply → watch deliveries → done()
//
// Invariants:
//   - zxids are epoch<<32 | counter and strictly increase in Submit order;
//     every start is a new epoch (as a new ZAB leader would be), so a zxid is
//     never reused even if the tail of a crashed run was never made durable.
//   - A client is told "ok" (done is called) only after its txn is durable
//     and applied. A request that fails prep (an error reply, or sync) still
//     takes its place in the queue, so its answer never overtakes an earlier
//     write it may depend on: a NodeExists seen from a pending create is only
//     reported once that create is durable.
//   - After a storage failure the pipeline is failed for good: it answers
//     every later write with the error and never acknowledges past it.
//     The one exception is a full disk on storage that can resume
//     (engine.Native, log.ErrNoSpace): the failed txns and every txn
//     prepped after them are answered with ErrDiskFull (SystemError on the
//     wire), dropped from the pending overlay, and never logged; their
//     zxids are skipped; reads go on, and the next write tries the disk
//     again. Apache ZooKeeper has no such path: its log-syncing thread dies
//     on the IOException and the server shuts down, so its clients see
//     the connection drop (ConnectionLoss) and cannot tell whether the
//     write happened; zabd knows it did not, and says so with SystemError.
//   - Apply and watch delivery happen in zxid order on one goroutine; a
//     connection receives a change's watch events before any reply that
//     reflects the change (deliveries are handed to net before done runs).
//
// Sessions: createSession and closeSession are txns like any write; the
// session tracker (sessions.go) expires idle sessions by submitting
// closeSession, which deletes their ephemerals.
package zab
