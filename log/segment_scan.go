package log

import (
	"encoding/binary"
	"fmt"
)

// scanResult is what verifying one segment's bytes found.
type scanResult struct {
	end     int64 // offset just past the last whole valid record (header size if none)
	records int
	last    Zxid // zxid of the last valid record, 0 if none
	// torn reports that data[end:] is a torn tail to cut (last segment
	// only). removeWhole reports that the segment holds no record and its
	// header is missing or torn, so the whole file goes.
	torn        bool
	removeWhole bool
	tornReason  string
}

// scanSegment verifies the bytes of the segment file name, whose name says
// its first zxid is first. prev is the last zxid of the segments before it
// (0 if none). isLast says whether it is the newest segment: only there can
// a crash have left a torn tail.
//
// Torn tail versus corruption: a crash can only damage bytes that were never
// covered by a successful Sync, and the writer syncs in append order and
// syncs a segment fully before creating its successor. So damage is a torn
// tail exactly when it is in the last segment and no valid record (with a
// zxid above the last good one) starts anywhere after it. A bad record with
// a valid one after it was followed by a later write, so it was not the
// write in flight at the crash: that is corruption, and so is any damage in
// an earlier segment.
//
// Zeros from the end of the last record to the end of the last segment are
// unwritten space (preallocation), neither torn nor corrupt. In an earlier
// segment they are corruption: a closed segment ends at its last record.
//
// NB: if a filesystem persisted a later page of an unsynced batch but not an
// earlier one, that crash is reported as corruption. That errs on the side
// of refusing to open over silently dropping records.
func scanSegment(name string, first Zxid, data []byte, prev Zxid, isLast bool) (scanResult, error) {
	corrupt := func(off int64, last Zxid, format string, args ...any) error {
		return &CorruptionError{Segment: name, Offset: off, Zxid: last, Reason: fmt.Sprintf(format, args...)}
	}
	h, hp := decodeSegmentHeader(data)
	switch hp {
	case headerTorn:
		// A segment's header is synced before any record is written to it,
		// so a torn header with no valid record anywhere after it is the
		// remains of an interrupted segment creation.
		if isLast && !validFrameAfter(data, 0, prev) {
			return scanResult{removeWhole: true, tornReason: "torn segment header"}, nil
		}
		return scanResult{}, corrupt(0, prev, "bad segment header checksum")
	case headerBadMagic:
		return scanResult{}, corrupt(0, prev, "bad magic %q", data[:4])
	case headerBadVersion:
		return scanResult{}, fmt.Errorf("%w: segment %s has version %d, this build reads %d",
			ErrUnsupportedVersion, name, h.version, formatVersion)
	}
	if h.first != first {
		return scanResult{}, corrupt(8, prev, "header first zxid %v does not match file name", h.first)
	}
	res := scanResult{end: SegmentHeaderBytes}
	last := prev
	off := int64(SegmentHeaderBytes)
	for off < int64(len(data)) {
		z, _, n, fp := decodeFrame(data[off:])
		if fp == frameOK {
			switch {
			case res.records == 0 && z != first:
				return res, corrupt(off, last, "first record has zxid %v, segment name says %v", z, first)
			case z <= last:
				return res, corrupt(off, last, "zxid %v not above previous %v", z, last)
			}
			last = z
			res.records++
			res.last = z
			off += int64(n)
			res.end = off
			continue
		}
		if fp == frameZero && isLast && allZero(data[off:]) {
			// Unwritten space: preallocated, or allocated by a crash
			// before the data reached it. It holds no record; appends
			// overwrite it.
			return res, nil
		}
		if fp == frameZeroZxid || !isLast || validFrameAfter(data, off+1, last) {
			return res, corrupt(off, last, "%v", fp)
		}
		res.torn = true
		res.tornReason = fp.String()
		return res, nil
	}
	return res, nil
}

// validFrameAfter reports whether a valid frame with a zxid above min may
// start at any offset in data[from:]. It is only run on a damaged tail, at
// open. Cheap header checks come first; the checksums it computes are
// bounded by a budget linear in len(data) so that crafted bytes cannot make
// open quadratic. NB: when the budget runs out it answers true: it could
// not prove the tail torn, so Open reports corruption rather than cut
// bytes it has not examined.
func validFrameAfter(data []byte, from int64, min Zxid) bool {
	budget := 4*int64(len(data)) + 1<<20
	for p := from; p+FrameHeaderBytes <= int64(len(data)); p++ {
		b := data[p:]
		n := int64(binary.BigEndian.Uint32(b[0:4]))
		z := Zxid(binary.BigEndian.Uint64(b[4:12]))
		if z <= min || n > MaxRecordBytes || n > int64(len(b))-FrameHeaderBytes {
			continue
		}
		if budget -= n + 12; budget < 0 {
			return true
		}
		if _, _, _, fp := decodeFrame(b); fp == frameOK {
			return true
		}
	}
	return false
}
