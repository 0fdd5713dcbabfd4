// Package datadir owns a zabd data directory's state besides the log and
// the snapshot files themselves, over vfs so that a crash at any point can
// be tested on a crashable in-memory filesystem (the lock excepted):
//
//   - Lock: the one process that may use the dir (see below).
//   - Dir.NextEpoch, Dir.CurrentEpoch: the currentEpoch file; a start
//     takes an epoch above every one used before and records it first.
//   - Dir.PurgeRecorder, Dir.CheckLogCovers: the logPurgedBelow marker,
//     recorded durably before the log is purged, so recovery refuses a
//     snapshot the log no longer reaches back to (ErrLogHole).
//   - Dir.Recover and Replay: the tree from the newest snapshot that reads
//     back whole plus the log after it.
//   - SetAsideUnusable: after a cut of the log at a zxid (a repair, a
//     TRUNC), every snapshot that cannot stand for the state there is
//     moved aside (snapshot.Meta.UsableFor).
//
// Each marker file is replaced whole (a .tmp written and fsynced, renamed,
// the directory fsynced): a crash leaves its old value or its new one.
//
// # The lock
//
// Acquire takes an exclusive flock(2) on <dir>/zabd.lock and holds it until
// Release or the process's death (the kernel drops it with the file
// descriptor, so a kill -9 never leaves a stale lock behind). The holder
// writes its pid and what it is (its client address) into the file; a
// contender reads them to say who holds the dir.
//
// Invariants:
//
//   - A process that holds the lock of a dir is the only zabd process
//     reading or writing anything else in it: zabd takes the lock of its
//     data dir and its log dir before it reads or writes anything in them,
//     and never releases it while it runs.
//   - The lock file is never removed: removing it would let two processes
//     lock two different files of the same name. Its content is only a
//     description; the flock is the truth.
//   - A dir held by a live process is refused at once (*HeldError). A dir
//     held by a process that is exiting (killed, its files not yet closed)
//     is waited for, up to Options.WaitForExiting, and then refused. After
//     Acquire returns, the previous holder, if it was still exiting, has
//     closed every file it had (its other locks, its listening sockets).
//
// Holding tells, without taking the lock or creating anything, whether a
// process holds it now (Linux: /proc/locks), for the read-only tools.
//
// The lock is advisory: it keeps zabd processes apart, not other programs.
// It is an operating-system lock, not a vfs one: it exists to keep
// processes apart, which an in-memory filesystem has no notion of.
package datadir
