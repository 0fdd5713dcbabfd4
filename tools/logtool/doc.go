// Package logtool is the log tools of zabctl: Dump (the txns of a data
// dir's log, as text or one JSON object per line, filtered by zxid or
// time range, path prefix, session and type), DumpSnapshot (a snapshot's
// header, sessions and nodes) and Verify (is a data dir whole, and if not,
// where is the first damage and what is intact). It reads through package
// logread and so inherits its invariants: any engine, with or without a
// running server, nothing in the data dir written, created or locked.
//
// What Verify checks:
//
//   - every record's checksum (native frames; pebble's and badger's own
//     block and table checksums as the store is read) and every snapshot's
//     (read whole);
//   - every record decodes as a txn whose header carries the record's zxid;
//   - zxids strictly increase, and continue without a gap: within an
//     epoch each counter is the previous one plus one, and an epoch
//     begins at counter 1 (gaps are warnings with AllowGaps: zabd skips
//     the zxids of writes refused for a full disk);
//   - the markers: the log's and the snapshots' epochs are at most
//     currentEpoch; logPurgedBelow is at most the newest readable
//     snapshot's start + 1 (as recovery requires);
//   - the snapshots against the log: each one's end zxid (its start, for
//     a format version 1 snapshot) is at most the log's last zxid, and a
//     start zxid inside the log's range is a zxid the log holds;
//   - recovery's view: the newest readable snapshot's start (or, with
//     none, the log's first txn at counter 1) is where the log takes over
//     without a gap.
//
// Verify reports in order found (the log in zxid order, then snapshots,
// then how they fit); Report.Problems[0] is "the first bad", with the
// file, offset and zxid where they apply, and Report.LastGood the last
// zxid before the log's first problem.
//
// Usage:
//
//	d, err := logread.Open(dir, logread.Options{})
//	rep := logtool.Verify(d, logtool.VerifyOptions{})
//	rep.WriteText(os.Stdout)
//	if !rep.Sound() { ... }
//	_, err = logtool.Dump(os.Stdout, d, logtool.DumpOptions{JSON: true, Filter: f})
package logtool
