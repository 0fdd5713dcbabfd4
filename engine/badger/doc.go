// Package badger is the txn-log engine on github.com/dgraph-io/badger/v4:
// one key per record, the zxid as 8 big-endian bytes (so key order is zxid
// order), the record's Data as the value.
//
// Writes go through engine.GroupCommitter: every group commit is one
// badger transaction (several if the batch exceeds badger's transaction
// size bound, committed in order) followed by one DB.Sync, which msyncs
// the active memtable's WAL and the value log. SyncWrites stays off: with
// it on, badger swallows value-log sync errors (it only logs them), while
// DB.Sync returns them; and one explicit Sync per group commit costs the
// same. Values up to 1 MiB (badger's maximum ValueThreshold) stay in the
// LSM tree, so the value log is used only for larger records and needs no
// garbage collection in the common case.
//
// TruncateAfter and PurgeBefore delete key by key (badger has no range
// deletion) in transactions, then Sync.
//
// Invariants:
//
//   - Every user key is exactly 8 bytes; any other key is reported by Iter
//     as corruption.
//   - Iter and LastZxid see only records whose group commit returned: Iter
//     stops at the last durable zxid as of the call.
//   - PurgeBefore never deletes the last record, so LastZxid survives it.
//
// Badger does not fsync its directory when it creates a new memtable WAL
// file; on power loss the newest WAL file's directory entry could be lost
// with acknowledged records in it. So every group commit ends with a
// directory check (dirSyncer): when the directory changed since it was last
// fsynced, it is fsynced before the commit is acknowledged.
package badger
