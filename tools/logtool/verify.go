package logtool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"zabd/engine/datadir"
	"zabd/log"
	"zabd/snapshot"
	"zabd/tools/logread"
	"zabd/tree"
)

// VerifyOptions configure Verify. The zero value is the strict check.
type VerifyOptions struct {
	// AllowGaps reports zxids missing inside an epoch as warnings, not
	// problems. zabd skips the zxids of writes it refused for a full disk
	// (zab's doc), which leaves exactly such a gap; nothing in the data
	// dir tells it from lost records.
	AllowGaps bool
}

// Problem is one thing wrong, where it was found.
type Problem struct {
	// File is relative to the data dir (snapshots, markers) or the log
	// dir (the log); empty when no one file is at fault.
	File string
	// Offset in File, -1 if none applies (pebble and badger records,
	// a snapshot's decompressed body).
	Offset int64
	// Zxid is the txn concerned, 0 if none.
	Zxid log.Zxid
	What string
}

func (p Problem) String() string {
	s := p.File
	if p.Offset >= 0 {
		s += fmt.Sprintf(" offset %d", p.Offset)
	}
	if p.Zxid != 0 {
		if s != "" {
			s += ", "
		}
		s += "zxid " + FormatZxid(p.Zxid)
	}
	if s == "" {
		return p.What
	}
	return s + ": " + p.What
}

// EpochSpan is the run of one epoch's txns in the log.
type EpochSpan struct {
	Epoch       uint32
	First, Last log.Zxid
	Txns        int
}

// SnapshotCheck is what Verify found of one snapshot.
type SnapshotCheck struct {
	logread.Snapshot
	Meta     snapshot.Meta // as far as it could be read
	Nodes    int
	Sessions int
	Err      error // nil: read whole, every checksum right
}

// Report is Verify's finding. Problems (in the order found: the log in
// zxid order, then the snapshots, then how they fit together) make the
// data dir unsound; Warnings do not.
type Report struct {
	Dir, LogDir, Engine string
	Live                logread.Live
	Log                 logread.Summary
	Epochs              []EpochSpan
	Markers             logread.Markers
	Snapshots           []SnapshotCheck
	// LastGood is the last zxid of the log before its first problem (the
	// log's last if it has none); IntactTxns counts the txns up to it.
	LastGood   log.Zxid
	IntactTxns int
	// Recovery says what a start would restore, when it can.
	Recovery string
	Problems []Problem
	Warnings []string
	// ReadErr is set when the data dir could not be read at all (a
	// badger store beside its server, an I/O error): nothing is judged.
	ReadErr error
}

// Sound reports whether the data dir was read and found whole.
func (r *Report) Sound() bool { return r.ReadErr == nil && len(r.Problems) == 0 }

// verifier is one Verify run's state. Single owner.
type verifier struct {
	d    *logread.DataDir
	o    VerifyOptions
	r    *Report
	prev log.Zxid // last record read, 0 before the first
	// firstProblem is set once the log has a problem; LastGood stops
	// moving then.
	firstProblem bool
	starts       map[log.Zxid]bool // snapshot start zxids, true once seen in the log
	// complete: the log was read to its end.
	complete bool
	// sortedStarts are the snapshots' start zxids, ascending; atOrBelow
	// counts the records at or below each, for the recovery summary.
	sortedStarts []log.Zxid
	nextStart    int
	atOrBelow    map[log.Zxid]int
	read         int
}

// Verify checks a data dir read-only (see the package doc for what).
func Verify(d *logread.DataDir, o VerifyOptions) *Report {
	r := &Report{Dir: d.Dir, LogDir: d.LogDir, Engine: d.Engine, Live: d.Live}
	v := &verifier{d: d, o: o, r: r, starts: map[log.Zxid]bool{}, atOrBelow: map[log.Zxid]int{}}
	var err error
	if r.Markers, err = d.Markers(); err != nil {
		v.problem(Problem{Offset: -1, What: err.Error()})
	}
	snaps, err := d.Snapshots()
	if err != nil {
		r.ReadErr = err
		return r
	}
	for _, s := range snaps {
		c := SnapshotCheck{Snapshot: s}
		c.Meta, c.Err = d.SnapshotMeta(s)
		if c.Err == nil {
			v.starts[c.Meta.StartZxid] = false
			v.sortedStarts = append(v.sortedStarts, c.Meta.StartZxid) // snaps are oldest first
		}
		r.Snapshots = append(r.Snapshots, c)
	}
	if !v.readLog() {
		return r
	}
	v.checkSnapshots()
	v.checkCoverage()
	v.checkEpochMarker()
	return r
}

func (v *verifier) problem(p Problem) { v.r.Problems = append(v.r.Problems, p) }

// logProblem is a problem in the log at the record after v.prev.
func (v *verifier) logProblem(p Problem) {
	if !v.firstProblem {
		v.firstProblem = true
	}
	v.problem(p)
}

// readLog reads every record, checking each; it returns false if the log
// could not be read at all (ReadErr).
func (v *verifier) readLog() bool {
	r := v.r
	if _, err := os.Stat(v.d.StoreDir()); err != nil {
		if os.IsNotExist(err) {
			v.logProblem(Problem{File: filepath.Base(v.d.StoreDir()), Offset: -1, What: "the " + v.d.Engine + " engine's directory is missing: there is no log"})
			return true
		}
		r.ReadErr = err
		return false
	}
	sum, err := v.d.Records(0, func(rec logread.Record) error {
		v.record(rec)
		return nil
	})
	r.Log = sum
	for ; v.nextStart < len(v.sortedStarts); v.nextStart++ {
		v.atOrBelow[v.sortedStarts[v.nextStart]] = v.read
	}
	var cerr *log.CorruptionError
	switch {
	case err == nil:
		v.complete = true
	case errors.As(err, &cerr):
		what := fmt.Sprintf("%s, after zxid %v (the last good record)", cerr.Reason, cerr.Zxid)
		if claimed, ok := claimedZxid(filepath.Join(v.d.StoreDir(), cerr.Segment), cerr.Offset); ok {
			what += fmt.Sprintf("; the damaged frame there says zxid %v (unverified)", claimed)
		}
		v.logProblem(Problem{File: filepath.Join(filepath.Base(v.d.StoreDir()), cerr.Segment), Offset: cerr.Offset, What: what})
	case errors.Is(err, logread.ErrBadgerLive) || v.d.Engine == "native":
		r.ReadErr = err
		return false
	default:
		v.logProblem(Problem{File: filepath.Base(v.d.StoreDir()), Offset: -1, What: fmt.Sprintf("reading after zxid %v: %v", v.prev, err)})
	}
	if !v.firstProblem {
		r.LastGood = v.prev
	}
	if sum.TornTail {
		if r.Live.Held {
			r.Warnings = append(r.Warnings, fmt.Sprintf("the server was writing %s at offset %d when it was read: read up to zxid %v", sum.TornFile, sum.TornOffset, v.prev))
		} else {
			r.Warnings = append(r.Warnings, fmt.Sprintf("torn tail: %s from offset %d, %d bytes (%s): a write a crash interrupted, never acknowledged; zabd cuts it at its next start", sum.TornFile, sum.TornOffset, sum.TornBytes, sum.TornReason))
		}
	}
	return true
}

// claimedZxid reads the zxid field of the frame at off, which failed its
// checks: what the damaged bytes say, for the report only.
func claimedZxid(path string, off int64) (log.Zxid, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	var hdr [log.FrameHeaderBytes]byte
	if off < log.SegmentHeaderBytes {
		return 0, false
	}
	if _, err := f.ReadAt(hdr[:], off); err != nil {
		return 0, false
	}
	z := log.Zxid(binary.BigEndian.Uint64(hdr[4:12]))
	return z, z != 0
}

// record checks one record: it decodes, its header agrees, and it follows
// the one before (order, continuity).
func (v *verifier) record(rec logread.Record) {
	r := v.r
	where := Problem{File: rec.File, Offset: rec.Offset, Zxid: rec.Zxid}
	bad := func(what string) {
		p := where
		p.What = what
		v.logProblem(p)
	}
	t, err := tree.DecodeTxn(rec.Data)
	switch {
	case err != nil:
		bad(fmt.Sprintf("the record does not decode as a txn: %v", err))
	case log.Zxid(t.Zxid) != rec.Zxid:
		bad(fmt.Sprintf("the txn's header says zxid %v, its record %v", log.Zxid(t.Zxid), rec.Zxid))
	}
	for ; v.nextStart < len(v.sortedStarts) && v.sortedStarts[v.nextStart] < rec.Zxid; v.nextStart++ {
		v.atOrBelow[v.sortedStarts[v.nextStart]] = v.read
	}
	v.read++
	prev := v.prev
	switch {
	case prev == 0:
	case rec.Zxid <= prev:
		bad(fmt.Sprintf("not above the previous zxid %v", prev))
	case rec.Zxid.Epoch() == prev.Epoch() && rec.Zxid.Counter() != prev.Counter()+1:
		v.gap(where, fmt.Sprintf("gap: zxid %v is followed by %v: %d zxids of epoch %d missing", prev, rec.Zxid, rec.Zxid.Counter()-prev.Counter()-1, prev.Epoch()))
	case rec.Zxid.Epoch() != prev.Epoch() && rec.Zxid.Counter() != 1:
		v.gap(where, fmt.Sprintf("gap: epoch %d begins at counter %d, not 1: the first %d zxids of the epoch are missing (the previous record is %v)", rec.Zxid.Epoch(), rec.Zxid.Counter(), rec.Zxid.Counter()-1, prev))
	}
	if _, ok := v.starts[rec.Zxid]; ok {
		v.starts[rec.Zxid] = true
	}
	if n := len(r.Epochs); n == 0 || r.Epochs[n-1].Epoch != rec.Zxid.Epoch() {
		r.Epochs = append(r.Epochs, EpochSpan{Epoch: rec.Zxid.Epoch(), First: rec.Zxid})
	}
	e := &r.Epochs[len(r.Epochs)-1]
	e.Last = rec.Zxid
	e.Txns++
	v.prev = rec.Zxid
	if !v.firstProblem {
		r.LastGood = rec.Zxid
		r.IntactTxns++
	}
}

func (v *verifier) gap(where Problem, what string) {
	if v.o.AllowGaps {
		v.r.Warnings = append(v.r.Warnings, where.String()+": "+what+" (allowed: --allow-gaps)")
		return
	}
	where.What = what + " (zabd skips the zxids of writes refused for a full disk, which leaves such a gap: --allow-gaps if that happened here)"
	v.logProblem(where)
}

// snapRel names a snapshot file relative to the data dir.
func snapRel(s logread.Snapshot) string { return filepath.Join("snapshot", s.Name) }

// checkSnapshots reads every snapshot whole and checks its zxids against
// the log that was read.
func (v *verifier) checkSnapshots() {
	r := v.r
	last := r.Log.Last
	for i := range r.Snapshots {
		c := &r.Snapshots[i]
		if c.Err == nil {
			c.Meta, c.Err = v.d.CheckSnapshot(c.Snapshot)
			if c.Err == nil {
				c.Nodes, c.Sessions = int(c.Meta.Nodes), int(c.Meta.Sessions)
			}
		}
		if c.Err != nil {
			p := Problem{File: snapRel(c.Snapshot), Offset: -1, What: fmt.Sprintf("unreadable: %v", c.Err)}
			var se *snapshot.CorruptError
			if errors.As(c.Err, &se) && (se.InHeader || se.InTrailer) {
				p.Offset = se.Offset
			}
			v.problem(p)
			continue
		}
		m := c.Meta
		whole := r.Log.Records > 0 && v.complete
		switch {
		case m.EndKnown() && m.EndZxid > last && whole:
			v.problem(Problem{File: snapRel(c.Snapshot), Offset: -1, Zxid: m.EndZxid,
				What: fmt.Sprintf("the snapshot's walk ended at zxid %v, past the log's last zxid %v: it holds txns the log does not have (was the log cut or lost after it was taken?)", m.EndZxid, last)})
		case !m.EndKnown() && m.StartZxid > last && whole:
			v.problem(Problem{File: snapRel(c.Snapshot), Offset: -1, Zxid: m.StartZxid,
				What: fmt.Sprintf("the snapshot starts at zxid %v, past the log's last zxid %v", m.StartZxid, last)})
		case m.StartZxid != 0 && whole && m.StartZxid >= r.Log.First && m.StartZxid <= last && !v.starts[m.StartZxid]:
			v.problem(Problem{File: snapRel(c.Snapshot), Offset: -1, Zxid: m.StartZxid,
				What: fmt.Sprintf("the snapshot starts at zxid %v, which the log (%v..%v) does not hold", m.StartZxid, r.Log.First, last)})
		}
		if r.Markers.CurrentEpoch != 0 && m.EndZxid.Epoch() > r.Markers.CurrentEpoch {
			v.problem(Problem{File: datadir.CurrentEpochFile, Offset: -1,
				What: fmt.Sprintf("currentEpoch says %d but %s reaches epoch %d: the marker is behind (it is written before an epoch's first txn)", r.Markers.CurrentEpoch, snapRel(c.Snapshot), m.EndZxid.Epoch())})
		}
	}
}

// checkCoverage checks what a start would do: the newest readable
// snapshot, the purge marker, and whether the log reaches back to it.
func (v *verifier) checkCoverage() {
	r := v.r
	var newest *SnapshotCheck
	for i := range r.Snapshots {
		if r.Snapshots[i].Err == nil {
			newest = &r.Snapshots[i]
		}
	}
	var start log.Zxid
	from := "an empty tree"
	if newest != nil {
		start = newest.Meta.StartZxid
		from = snapRel(newest.Snapshot)
	} else if len(r.Snapshots) > 0 {
		v.problem(Problem{Offset: -1, What: fmt.Sprintf("none of the %d snapshots can be read: zabd refuses to start rather than replay the log over an empty tree", len(r.Snapshots))})
		return
	}
	if p := r.Markers.PurgedBelow; p > start+1 {
		v.problem(Problem{File: datadir.PurgedBelowFile, Offset: -1,
			What: fmt.Sprintf("the log was purged below zxid %v but recovery would start from %s at zxid %v: the txns between are gone", p, from, start)})
	}
	first := r.Log.First
	switch {
	case r.Log.Records == 0 && newest != nil:
		v.problem(Problem{File: filepath.Base(v.d.StoreDir()), Offset: -1,
			What: fmt.Sprintf("the log is empty but %s exists (a purge always keeps the last txn): the log was lost", from)})
	case r.Log.Records == 0:
	case first <= start:
	case newest != nil && !follows(start, first):
		v.gap(Problem{File: filepath.Base(v.d.StoreDir()), Offset: -1, Zxid: first},
			fmt.Sprintf("gap: %s starts at zxid %v but the log begins at %v: the txns between are missing", from, start, first))
	case newest == nil && first.Counter() != 1:
		v.gap(Problem{File: filepath.Base(v.d.StoreDir()), Offset: -1, Zxid: first},
			fmt.Sprintf("gap: the log begins at zxid %v (counter %d of epoch %d) and no snapshot covers the txns before it", first, first.Counter(), first.Epoch()))
	}
	if r.Log.Records > 0 && v.complete {
		r.Recovery = fmt.Sprintf("restore %s, then replay %d txns of the log up to zxid %v", from, r.Log.Records-v.atOrBelow[start], r.Log.Last)
	}
}

// follows reports whether b can be the txn right after a: the next
// counter of a's epoch, or the first of a later epoch.
func follows(a, b log.Zxid) bool {
	if a.Epoch() == b.Epoch() {
		return b.Counter() == a.Counter()+1
	}
	return b.Epoch() > a.Epoch() && b.Counter() == 1
}

func (v *verifier) checkEpochMarker() {
	r := v.r
	if r.Log.Records == 0 {
		return
	}
	ce := r.Markers.CurrentEpoch
	switch {
	case ce == 0:
		r.Warnings = append(r.Warnings, "no currentEpoch file (a data dir from before zabd wrote one?)")
	case r.Log.Last.Epoch() > ce:
		v.problem(Problem{File: datadir.CurrentEpochFile, Offset: -1,
			What: fmt.Sprintf("currentEpoch says %d but the log reaches epoch %d: the marker is behind (it is written before an epoch's first txn)", ce, r.Log.Last.Epoch())})
	}
}
