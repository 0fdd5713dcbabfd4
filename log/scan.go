package log

import (
	"fmt"
	"path/filepath"

	"zabd/log/vfs"
)

// ScanOptions configure Scan. The zero value scans the whole log.
type ScanOptions struct {
	// From skips every segment whose successor starts at or below From:
	// those hold only records below it, and are neither read nor
	// verified. Records below From in the segments read are verified and
	// handed out all the same (the caller filters).
	From Zxid
}

// ScannedRecord is one valid record Scan found, and where: the segment
// file's name (base) and the offset of its frame in that file.
type ScannedRecord struct {
	Record
	Segment string
	Offset  int64
}

// Scan reads the log in dir, one segment at a time, verifying every byte
// as Open does (the same rules tell a torn tail from corruption), and
// calls fn with each valid record in zxid order. It changes nothing (no
// torn tail is cut, no file created or removed), so it may read a log
// another process is appending to: what it hands out is a prefix of that
// log as it was while Scan read it.
//
// Damage that Open would refuse (a *CorruptionError) ends the scan, after
// fn was called with every valid record before the damage; the error
// names the segment, the offset and the last good zxid. A torn tail is not
// an error: it is reported in the OpenReport as Open with ReadOnly does
// (the records before it are handed out). An error from fn stops the scan
// and is returned as it is. The Record's Data aliases a buffer that is
// reused after fn returns.
//
// Segments is the number of segment files found; Records counts the
// valid records of the segments read, FirstZxid and LastZxid are the first
// and last of them.
func Scan(fsys vfs.FS, dir string, o ScanOptions, fn func(ScannedRecord) error) (OpenReport, error) {
	var rep OpenReport
	names, err := fsys.List(dir)
	if err != nil {
		return rep, fmt.Errorf("log: list %s: %w", dir, err)
	}
	segs := segmentsOf(names)
	rep.Segments = len(segs)
	var prev Zxid
	var buf []byte
	for i, s := range segs {
		isLast := i == len(segs)-1
		if !isLast && segs[i+1].first <= o.From {
			continue
		}
		buf, err = readFileInto(fsys, filepath.Join(dir, s.name), buf[:0])
		if err != nil {
			return rep, fmt.Errorf("log: read segment %s: %w", s.name, err)
		}
		res, scanErr := scanSegment(s.name, s.first, buf, prev, isLast)
		if isLast && scanErr == nil && res.records == 0 && !res.removeWhole {
			res.removeWhole, res.tornReason = true, "segment holds no record"
		}
		if res.removeWhole {
			rep.TornTail, rep.SegmentRemoved = true, true
			rep.TornSegment, rep.TornOffset, rep.TornBytes = s.name, 0, int64(len(buf))
			rep.TornReason = res.tornReason
			break
		}
		for off := int64(SegmentHeaderBytes); off < res.end; {
			// scanSegment verified every frame before res.end.
			z, data, n := verifiedFrame(buf[off:res.end])
			if rep.FirstZxid == 0 {
				rep.FirstZxid = z
			}
			if err := fn(ScannedRecord{Record: Record{Zxid: z, Data: data}, Segment: s.name, Offset: off}); err != nil {
				return rep, err
			}
			off += int64(n)
		}
		rep.Records += res.records
		if res.records > 0 {
			prev = res.last
			rep.LastZxid = prev
		}
		if scanErr != nil {
			return rep, scanErr
		}
		if res.torn {
			rep.TornTail = true
			rep.TornSegment, rep.TornOffset = s.name, res.end
			rep.TornBytes = int64(len(buf)) - res.end
			rep.TornReason = res.tornReason
		}
	}
	return rep, nil
}
