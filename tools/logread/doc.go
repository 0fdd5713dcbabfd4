// Package logread opens a zabd data dir of any engine (native, pebble,
// badger) for reading only, with no server running or beside one: the
// txn log's records in zxid order, each with where it was found, the
// snapshot files, and the small markers (currentEpoch, logPurgedBelow).
// It is the one way the log tools (package logtool) reach a data dir. It
// does not decode txns or judge what it reads (logtool does).
//
// Invariants:
//
//   - Nothing under the data dir or the log dir is created, changed or
//     removed: files are read through vfs.ReadOnly (native log, snapshots,
//     markers), pebble through a filesystem that refuses writes, badger
//     in its read-only mode. zabd's lock (zabd.lock) is neither taken nor
//     waited for; whether a process holds it is looked up
//     (datadir.Holding) only to say so.
//   - Records hands out a prefix of the log as it was while it read it,
//     in strictly increasing zxid order, each record once, even when it
//     reads again after a failure beside a running server (see Records).
//   - Damage is reported, never skipped: a *log.CorruptionError (native:
//     segment, offset, last good zxid) or the storage library's error
//     with the last zxid read before it.
//
// Beside a running server: the native log and pebble are read as they
// stand (the tail may hold records written but not yet made durable, so
// not yet acknowledged); badger cannot be opened at all while the server
// holds its directory lock (ErrBadgerLive says so in one line).
//
// Usage:
//
//	d, err := logread.Open("/var/lib/zabd", logread.Options{})
//	sum, err := d.Records(0, func(r logread.Record) error { ...; return nil })
//	snaps, err := d.Snapshots()
package logread
