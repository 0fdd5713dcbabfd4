package log

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"zabd/log/vfs"
)

// RepairReport says what Repair found and cut.
type RepairReport struct {
	// Repaired is false when there was nothing to repair: the log opens
	// (a torn tail is Open's to cut, not Repair's).
	Repaired bool
	// Corruption is the damage that made Open refuse the log. The log now
	// ends just before it: at Segment, Offset (Offset 0: Segment was
	// removed whole, its header or first record being bad).
	Corruption *CorruptionError
	Segment    string
	Offset     int64
	// KeptZxid is the last record kept (Corruption.Zxid); 0 if none.
	KeptZxid Zxid
	// Removed lists the segment files removed whole, oldest first.
	Removed []string
	// CutBytes bytes were moved aside into AsideDir, as AsideFiles: the
	// rest of the damaged segment from the cut (named "<segment>.from-
	// <offset>", or the segment's own name if it went whole) and every
	// later segment (under its own name), byte for byte.
	CutBytes   int64
	AsideDir   string
	AsideFiles []string
	// LostRecords valid records were recognized in the cut bytes, with
	// zxids from LostFirst to LostLast. Records inside the damaged bytes
	// cannot be recognized, so more may have been lost.
	LostRecords         int
	LostFirst, LostLast Zxid
}

func (r RepairReport) String() string {
	if !r.Repaired {
		return "nothing to repair"
	}
	return fmt.Sprintf("cut the log at %s offset %d (%s): kept records up to zxid %v; "+
		"moved %d bytes aside to %s (%s); removed segments [%s]; "+
		"%d valid records recognized in the cut bytes, zxids [%v, %v]",
		r.Segment, r.Offset, r.Corruption.Reason, r.KeptZxid, r.CutBytes, r.AsideDir,
		strings.Join(r.AsideFiles, ", "), strings.Join(r.Removed, ", "),
		r.LostRecords, r.LostFirst, r.LostLast)
}

// asideReportName is the text file Repair writes next to the bytes it
// moved aside.
const asideReportName = "REPAIR.txt"

// Repair makes a log that Open refuses for corruption openable again, by
// cutting it just before the first damaged record: the operator's opt-in
// way past a CorruptionError (zabd --repair). Everything from the damage
// to the end of the log (the rest of that segment and every later segment)
// is first copied into the directory aside (created; it must not hold
// files of the same names) and made durable there; only then is the
// damaged segment cut (or removed, if nothing valid precedes the damage in
// it) and the later segments removed, newest first, fsyncing after each
// step. Records before the damage are untouched.
//
// A log that opens (possibly cutting a torn tail) is left alone and
// Repaired is false. Errors other than corruption (I/O, an unsupported
// format version) are returned without changing anything. The log must
// not be open.
func Repair(fsys vfs.FS, dir, aside string) (RepairReport, error) {
	var rep RepairReport
	_, _, err := Open(fsys, dir, Options{ReadOnly: true})
	var ce *CorruptionError
	if err == nil {
		return rep, nil
	}
	if !errors.As(err, &ce) {
		return rep, err
	}
	names, err := fsys.List(dir)
	if err != nil {
		return rep, fmt.Errorf("log: repair: list %s: %w", dir, err)
	}
	segs := segmentsOf(names)
	at := -1
	for i, s := range segs {
		if s.name == ce.Segment {
			at = i
		}
	}
	if at < 0 {
		return rep, fmt.Errorf("log: repair: corrupt segment %s not found in %s", ce.Segment, dir)
	}
	rep = RepairReport{Repaired: true, Corruption: ce, Segment: ce.Segment, Offset: ce.Offset,
		KeptZxid: ce.Zxid, AsideDir: aside}
	whole := ce.Offset <= SegmentHeaderBytes
	if whole {
		rep.Offset = 0
	}

	// Copy aside, durably, before touching the log.
	if err := mkdirDurable(fsys, aside); err != nil {
		return rep, fmt.Errorf("log: repair: %w", err)
	}
	for i := at; i < len(segs); i++ {
		s := segs[i]
		data, err := readFileInto(fsys, filepath.Join(dir, s.name), nil)
		if err != nil {
			return rep, fmt.Errorf("log: repair: read %s: %w", s.name, err)
		}
		name := s.name
		if i == at && !whole {
			data = data[rep.Offset:]
			name = fmt.Sprintf("%s.from-%d", s.name, rep.Offset)
		}
		if err := vfs.WriteFile(fsys, filepath.Join(aside, name), data); err != nil {
			return rep, fmt.Errorf("log: repair: copy %s aside: %w", s.name, err)
		}
		rep.AsideFiles = append(rep.AsideFiles, name)
		rep.CutBytes += int64(len(data))
		rep.noteLost(data, ce.Zxid)
		if i > at || whole {
			rep.Removed = append(rep.Removed, s.name)
		}
	}
	if err := vfs.WriteFile(fsys, filepath.Join(aside, asideReportName), []byte(rep.String()+"\n")); err != nil {
		return rep, fmt.Errorf("log: repair: write %s: %w", asideReportName, err)
	}

	// Cut the log: later segments newest first, then the damaged one.
	for i := len(segs) - 1; i >= at; i-- {
		p := filepath.Join(dir, segs[i].name)
		if i == at && !whole {
			f, err := fsys.OpenReadWrite(p)
			if err != nil {
				return rep, fmt.Errorf("log: repair: open %s: %w", segs[i].name, err)
			}
			err = f.Truncate(rep.Offset)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return rep, fmt.Errorf("log: repair: cut %s at %d: %w", segs[i].name, rep.Offset, err)
			}
			break
		}
		if err := fsys.Remove(p); err != nil {
			return rep, fmt.Errorf("log: repair: remove %s: %w", segs[i].name, err)
		}
		if err := vfs.SyncDir(fsys, dir); err != nil {
			return rep, fmt.Errorf("log: repair: fsync %s: %w", dir, err)
		}
	}
	return rep, nil
}

// noteLost counts the valid records with zxids above kept that can be
// recognized in data (cut bytes), resynchronizing byte by byte past
// damage. The checksums it computes are bounded by a budget linear in
// len(data); past it the count is a lower bound.
func (r *RepairReport) noteLost(data []byte, kept Zxid) {
	budget := 4*int64(len(data)) + 1<<20
	p := 0
	if len(data) >= SegmentHeaderBytes {
		if _, hp := decodeSegmentHeader(data); hp == headerOK {
			p = SegmentHeaderBytes
		}
	}
	for p+FrameHeaderBytes <= len(data) && budget > 0 {
		z, _, n, fp := decodeFrame(data[p:])
		budget -= FrameHeaderBytes + min(int64(binary.BigEndian.Uint32(data[p:])), int64(len(data)-p))
		if fp == frameZero && allZero(data[p:]) {
			return
		}
		if fp != frameOK || z <= kept {
			p++
			continue
		}
		r.LostRecords++
		if r.LostFirst == 0 || z < r.LostFirst {
			r.LostFirst = z
		}
		r.LostLast = max(r.LostLast, z)
		p += n
	}
}
