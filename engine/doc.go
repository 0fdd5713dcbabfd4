// Package engine is the storage seam of the write path: the Engine
// interface (append a batch durably, iterate from a zxid, truncate after,
// purge before) and its implementations, plus the group-commit loop that
// turns many concurrent appends into few fsyncs.
//
//   - GroupCommitter: the one group-commit flush loop (modelled on
//     pebble's record.LogWriter flush loop) under every engine below, for
//     any store whose commit is one synced batch.
//   - Native: the native segmented log (package log) under a
//     GroupCommitter whose commit is one log Append and one Sync.
//   - pebble and badger (sub-packages): one key per record (big-endian
//     zxid) in github.com/cockroachdb/pebble/v2 or dgraph-io/badger/v4,
//     under a GroupCommitter.
//   - Open picks native, pebble or badger by name (sub-packages register
//     themselves when imported) on a data dir whose ENGINE file records
//     the kind that wrote it; another kind is refused (*MismatchError).
//   - Memory: records in a slice, for tests of the layers above; same
//     ordering, stickiness and truncation semantics, failures injected
//     with Fail.
//
// Invariants every implementation keeps (engine/enginetest checks them):
//
//   - Append returns nil only once its records are durable, and records
//     become durable in Append call order. Zxids are strictly increasing
//     in call order; a violation is rejected and nothing is appended.
//   - A durability failure is sticky: the failing batch, everything queued
//     behind it and every later Append get the error (matching
//     log.ErrSyncFailed); LastZxid never moves past the last success. zab
//     stops taking writes; reopening the engine re-verifies the disk.
//     One exception: a commit that fails with log.ErrNoSpace, promising
//     nothing of the batch became durable, pauses the engine instead: the
//     batch, everything queued behind it and every later append fail with
//     it until Resume (refused once a sticky error is set), so nothing
//     prepared on top of a refused record can reach the log. Only native
//     makes that promise (the log rolls back to its last Sync); pebble and
//     badger cannot tell, so for them every failure stays sticky (their
//     Resume only reports it, their Paused is always nil).
//   - Iter and LastZxid see only durable records.
//
// Usage from a pipeline that stamps zxids in a critical section:
//
//	mu.Lock()
//	z := next(); done := eng.(engine.AsyncAppender).AppendAsync([]log.Record{{Zxid: z, Data: b}})
//	mu.Unlock()
//	if err := <-done; err != nil { ... stop taking writes ... }
//
// Snapshots are not an Engine method: every engine shares SnapshotStore,
// files under <dataDir>/snapshot (written as .tmp, fsynced, renamed,
// directory fsynced; newest valid one restored, older ones as fallback).
// Retention (zab.Snapshotter) purges the store and the engine together.
// Files are named by the zxid the walk began at; whether one can stand
// for the state at a zxid z, which a cut of the log at z must ask, is
// SnapshotStore.UsableFor (the rule is snapshot.Meta.UsableFor: its walk
// also ended at or before z), which reads only the file's header and
// trailer.
package engine
