// Package log is zabd's native transaction log: a directory of segment
// files holding Records (opaque bytes keyed by a strictly increasing Zxid),
// each framed with its length, zxid and an xxhash64 checksum. It owns
// framing, segment files, torn-tail detection at open, iteration,
// truncation and purging. It does not know what a record means (tree does),
// when to sync (the engine's group-commit loop decides), or how snapshots
// are kept.
//
// # Format, version 1
//
// All integers are big-endian. A segment file is named "log." followed by
// the 16 lower-case hex digits of its first record's zxid (so names sort in
// zxid order), e.g. log.0000000100000001, and holds a header then frames:
//
//	segment header, 24 bytes
//	+--------+---------+------------+-----------------------------+
//	| magic  | version | first zxid | xxhash64(bytes 0..16)       |
//	| "ZBDL" | uint32  | uint64     | uint64                      |
//	| 4      | 4       | 8          | 8                           |
//	+--------+---------+------------+-----------------------------+
//
//	record frame, 20 + length bytes
//	+----------+--------+------------------------------+----------------+
//	| length   | zxid   | xxhash64(length, zxid, data) | data           |
//	| uint32   | uint64 | uint64                       | [length]byte   |
//	| 4        | 8      | 8                            | length         |
//	+----------+--------+------------------------------+----------------+
//
// The checksum covers the 12 bytes of length and zxid followed by the
// data. Frozen: the magic, version 1's layout above, byte order, the hash
// (xxhash64, seed 0), the name pattern, MaxRecordBytes (64 MiB) as the
// largest length a reader accepts, and "an all-zero frame header is
// unwritten space". A new layout gets a new version; readers keep reading
// every version ever shipped (golden files under testdata/format/).
//
// # Durability protocol
//
//   - Records are buffered by Append and written and fdatasynced by Sync;
//     Iter sees only synced records.
//   - Sync may be split: Flush writes and returns a SyncPoint, and
//     SyncThrough fdatasyncs through it without holding the write side,
//     so the next batch is appended and written meanwhile. Each
//     SyncThrough running at once uses its own file description (Linux
//     reports a writeback error once per description: two fdatasyncs on
//     one could leave one of them told "durable" wrongly). While a point
//     is pending the active segment is not rolled, cut or closed; a
//     success publishes everything written before that point (an
//     fdatasync covers every byte written before it was called).
//   - A new segment is created only when its first record is appended:
//     the previous segment is synced whole first (and, if preallocated,
//     cut to its last record), then the new file is created (or the
//     prepared one taken), its header written and fsynced, it is named, and
//     the directory fsynced. So every segment but the last ends at its last
//     record and was durable before its successor existed, and a crash can
//     damage only the last one. Records a roll synced are published to
//     Iter only by the Sync that ends the batch.
//   - Preallocation (Options.Preallocate): a new segment is SegmentBytes
//     of zeros on disk before its first record, so appends overwrite
//     allocated space and fdatasync need not update the file size. The
//     next one is prepared in the background (file_pipeline.go) under a
//     temporary name, "prealloc.N.tmp", that Open removes if a crash left
//     it. On a nearly full disk a segment is preallocated smaller (half,
//     a quarter, ... down to what its first record needs) and grows past
//     that as it is written; Options.Logger hears once when that starts
//     and once when whole segments fit again.
//   - A full disk (ENOSPC from a write, preallocation, create or rename)
//     is not sticky: the log is rolled back, durably, to the last
//     successful Sync (ErrNoSpace): segments created since are removed and
//     the last one is cut back, so no byte of a record whose Sync failed
//     can reappear after later writes or a crash. The caller may retry.
//     The error names the operation, what it asked for and what statfs
//     said was free (when the vfs can tell): "log: disk full: preallocating
//     segment log.X: asked 64 MiB, then down to 1.1 KiB, 512 B free on
//     /data/log: ...".
//   - Any other write-path failure (a failed fsync, even with ENOSPC; EIO;
//     a failed roll-back) is sticky: the log never claims durability past
//     it (ErrSyncFailed).
//   - TruncateAfter removes later segments newest first and PurgeBefore
//     removes earlier ones oldest first, fsyncing the directory after each,
//     so a crash part way leaves a contiguous log.
//
// # Open: torn tail versus corruption
//
// Open verifies every frame of every segment. In the last segment, zeros
// from the end of the last valid record to the end of the file are
// unwritten (preallocated) space: kept, not reported. Other bytes after the
// last valid record that contain no valid record (a short frame, zeros
// then garbage, a bad checksum in the final record) are a torn tail: a
// write in flight at a crash. Open cuts it, fsyncs, and says so in
// OpenReport. A
// last segment with a torn header or no record at all is removed whole.
// Anything else (a bad frame with a valid one after it, damage in an
// earlier segment, a bad header before valid records, zxids not increasing)
// is corruption: Open returns a *CorruptionError naming segment, offset and
// the last good zxid, matching ErrCorrupt, and changes nothing.
//
// Open keeps the bytes it verified (at most 1 GiB, the newest segments)
// for the first Iter, which parses them from memory instead of reading
// and checksumming the files again, and drops each segment's buffer once
// past it (open_cache.go): recovery reads the log once. The first Append,
// TruncateAfter, PurgeBefore or Close drops what no Iter took; after a
// TruncateAfter or PurgeBefore, an iterator holding them reads the files.
//
// # Usage
//
//	l, rep, err := log.Open(vfs.Default, dir, log.Options{})
//	if err != nil { ... }                 // errors.Is(err, log.ErrCorrupt)?
//	if rep.TornTail { slog.Warn("log: cut torn tail", "report", rep) }
//	_ = l.Append(log.Record{Zxid: z, Data: b})
//	if err := l.Sync(); err != nil { ... } // ErrNoSpace: retry later; else sticky: stop taking writes
//	it, _ := l.Iter(from)
//	for it.Next() { use(it.Record()) }
//	err = it.Err()
//
// Scan (scan.go) is the inspection tools' way in: it verifies and hands out
// every record with its segment and offset, one segment in memory at a
// time, changes nothing, and on corruption first hands out everything
// before the damage.
//
// Repair (repair.go) is the operator's opt-in way past corruption (zabd
// --repair): it copies the bytes from the first bad record to the end of
// the log into an aside directory, durably, then cuts the log there.
//
// Growth left for later: a per-segment index for Iter's seek
// (today it scans from the segment start), streaming verification at open
// (today each segment is read into memory once), retention policies.
package log
