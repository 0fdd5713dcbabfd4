// Package vfs is the filesystem seam of the durable write path. The log, the
// snapshot writer and the native engine touch files only through [FS] and
// [File], so tests can run them on a crashable memory filesystem ([NewMem])
// or behind an error-injecting wrapper (package errorfs).
//
// Implementations:
//
//   - [Default]: the operating system. File.Sync on a regular file is
//     fdatasync(2) on Linux (data plus the metadata needed to read it back,
//     such as the size); on a directory opened with OpenDir it is fsync(2).
//   - [NewMem]: an in-memory filesystem that remembers what was made durable.
//     [MemFS.CrashClone] returns the filesystem a machine would find after a
//     power cut: file contents as of their last Sync (optionally with a torn,
//     partly zeroed prefix of later appends) and directory entries as of the
//     directory's last Sync.
//
// Durability contract every caller must follow (and which MemFS enforces):
//
//   - Bytes written to a file are durable only after File.Sync returns nil.
//   - Creating, removing or renaming a file is durable only after the parent
//     directory, opened with OpenDir, is Synced.
//   - A failed Sync leaves the file's durable state unknown; callers must not
//     retry it as if nothing happened (the log makes such failures sticky).
//
// Preallocation (File.Preallocate) is fallocate(2) on Linux with a fallback
// of writing zeros; MemFS extends the file with zeros.
//
// Deliberately missing: locking, memory mapping, permissions beyond MkdirAll's mode. Paths are slash-separated; use
// path/filepath.Join to build them.
package vfs
