// Package pebble is the txn-log engine on github.com/cockroachdb/pebble
// (v2): one key per record, the zxid as 8 big-endian bytes (so key order is
// zxid order), the record's Data as the value.
//
// Writes go through engine.GroupCommitter: every group commit is one pebble
// batch committed with pebble.Sync, i.e. one WAL write and one fdatasync
// (pebble's own WAL would also coalesce concurrent Syncs, but our flusher
// already hands it one batch at a time, which keeps Append ordered and a
// failure sticky as engine.Engine requires). TruncateAfter and PurgeBefore
// are one DeleteRange each, committed with Sync.
//
// Crash safety of TruncateAfter: DB.DeleteRange builds one batch holding
// one range tombstone [z+1, end) and applies it with pebble.Sync, and a
// batch is one WAL record, replayed whole or (torn, at the WAL's end) not
// at all. So after a crash at any moment the store holds the log as it
// was before the truncation or the log cut at z, never a part of the cut;
// once TruncateAfter returns the cut is durable. PurgeBefore is atomic the
// same way. (Its cost does not grow with the records removed: the
// tombstone is dropped with the data at compaction.)
//
// Invariants:
//
//   - Every key in the store is exactly 8 bytes; any other key is reported
//     by Iter as corruption.
//   - Iter and LastZxid see only records whose group commit returned: Iter
//     is bounded above by the last durable zxid as of the call.
//   - PurgeBefore never deletes the last record, so LastZxid survives it.
//
// Usage:
//
//	e, err := pebble.Open(dir, pebble.Options{Logger: logger})
//	...
//	err = e.Append(ctx, recs) // durable once it returns nil
package pebble
