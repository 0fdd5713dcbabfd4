package log

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"

	"zabd/log/vfs"
)

// Options configure a Log. The zero value is usable.
type Options struct {
	// SegmentBytes: a segment that has reached this size is closed and the
	// next record starts a new one. A segment may pass it by one record.
	// Default 64 MiB.
	SegmentBytes int64
	// BufferBytes: Append writes buffered frames to the file (without
	// syncing) once this many are pending. Default 256 KiB.
	BufferBytes int
	// ReadOnly opens without changing anything on disk: a torn tail is
	// reported but not cut, and write methods return ErrReadOnly.
	ReadOnly bool
}

const (
	defaultSegmentBytes = 64 << 20
	defaultBufferBytes  = 256 << 10
)

func (o *Options) fill() error {
	if o.SegmentBytes < 0 || o.BufferBytes < 0 {
		return fmt.Errorf("log: negative option in %+v", *o)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = defaultSegmentBytes
	}
	if o.BufferBytes == 0 {
		o.BufferBytes = defaultBufferBytes
	}
	return nil
}

// OpenReport says what Open found and repaired.
type OpenReport struct {
	Segments  int  // segment files in the log after open
	Records   int  // valid records verified
	FirstZxid Zxid // first record, 0 if the log is empty
	LastZxid  Zxid // last record, 0 if the log is empty
	// TornTail reports that the last segment ended in a torn write, which
	// was cut (unless ReadOnly): TornBytes bytes from TornOffset of
	// TornSegment. If the whole segment file was removed (its header was
	// torn, or it held no record) SegmentRemoved is set too.
	TornTail       bool
	TornSegment    string
	TornOffset     int64
	TornBytes      int64
	TornReason     string
	SegmentRemoved bool
}

func (r OpenReport) String() string {
	s := fmt.Sprintf("%d segments, %d records, zxids [%v, %v]", r.Segments, r.Records, r.FirstZxid, r.LastZxid)
	if r.TornTail {
		s += fmt.Sprintf("; cut torn tail (%s) of %s at offset %d: %d bytes", r.TornReason, r.TornSegment, r.TornOffset, r.TornBytes)
		if r.SegmentRemoved {
			s += " (segment removed)"
		}
	}
	return s
}

// segment is the log's view of one segment file.
type segment struct {
	name  string
	first Zxid
	// size is the number of bytes readers may read: the whole file for a
	// closed segment, the synced prefix for the active one.
	size int64
	last Zxid // last record within size, 0 if none
}

// Log is a segmented, checksummed log of Records with strictly increasing
// zxids. See the package doc for the format and the durability protocol.
//
// Concurrency: write-side methods (Append, Sync, TruncateAfter, PurgeBefore,
// Close) are serialized by wmu and meant for one owner; Iter, LastZxid,
// SyncedZxid and FirstZxid may be called from any goroutine at any time and
// never wait for an fsync.
type Log struct {
	fs  vfs.FS
	dir string
	o   Options

	wmu sync.Mutex
	// Guarded by wmu:
	f       vfs.File // active (last) segment open for appending; nil if none
	buf     []byte   // encoded frames not yet written to f
	written int64    // bytes of the active segment written to f
	err     error    // sticky write-path failure, wraps ErrSyncFailed
	closed  bool

	appended atomic.Uint64 // last appended zxid (incl. unsynced); written under wmu

	mu sync.Mutex
	// Guarded by mu (and changed only under wmu as well):
	// Invariant: segs sorted by first; every segment but the last holds at
	// least one record and was synced whole before its successor existed.
	segs   []segment
	synced Zxid // last synced record, 0 if none
}

// Open opens (creating if needed) the log in dir, verifies every segment,
// cuts a torn tail of the last one, and returns the log ready to append
// after its last record. It fails with a *CorruptionError (matching
// ErrCorrupt) if any damage is not a torn tail.
func Open(fsys vfs.FS, dir string, o Options) (*Log, OpenReport, error) {
	if err := o.fill(); err != nil {
		return nil, OpenReport{}, err
	}
	l := &Log{fs: fsys, dir: dir, o: o}
	var rep OpenReport
	if !o.ReadOnly {
		if err := mkdirDurable(fsys, dir); err != nil {
			return nil, rep, err
		}
	}
	names, err := fsys.List(dir)
	if err != nil {
		return nil, rep, fmt.Errorf("log: list %s: %w", dir, err)
	}
	var segs []segment
	for _, n := range names {
		if z, ok := ParseSegmentName(n); ok {
			segs = append(segs, segment{name: n, first: z})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })

	var prev Zxid
	var buf []byte
	for i := range segs {
		s := &segs[i]
		isLast := i == len(segs)-1
		buf, err = readFileInto(fsys, l.path(s.name), buf[:0])
		if err != nil {
			return nil, rep, fmt.Errorf("log: read segment %s: %w", s.name, err)
		}
		res, err := scanSegment(s.name, s.first, buf, prev, isLast)
		if err != nil {
			return nil, rep, err
		}
		if isLast && res.records == 0 && !res.removeWhole {
			// Created and header synced, but no record made it: the
			// segment was being started at the crash.
			res.removeWhole, res.tornReason = true, "segment holds no record"
		}
		switch {
		case res.removeWhole:
			rep.TornTail, rep.SegmentRemoved = true, true
			rep.TornSegment, rep.TornOffset, rep.TornBytes = s.name, 0, int64(len(buf))
			rep.TornReason = res.tornReason
			segs = segs[:i]
		case res.torn:
			rep.TornTail = true
			rep.TornSegment, rep.TornOffset = s.name, res.end
			rep.TornBytes = int64(len(buf)) - res.end
			rep.TornReason = res.tornReason
			fallthrough
		default:
			s.size, s.last = res.end, res.last
			rep.Records += res.records
			prev = res.last
		}
	}
	if rep.TornTail && !o.ReadOnly {
		if err := l.cutTornTail(rep); err != nil {
			return nil, rep, err
		}
	}
	l.segs = segs
	l.synced = prev
	l.appended.Store(uint64(prev))
	rep.Segments = len(segs)
	rep.LastZxid = prev
	if len(segs) > 0 {
		rep.FirstZxid = segs[0].first
		if !o.ReadOnly {
			last := segs[len(segs)-1]
			f, err := fsys.OpenAppend(l.path(last.name))
			if err != nil {
				return nil, rep, fmt.Errorf("log: open segment %s: %w", last.name, err)
			}
			l.f, l.written = f, last.size
		}
	}
	return l, rep, nil
}

// cutTornTail makes the repair Open decided on durable.
func (l *Log) cutTornTail(rep OpenReport) error {
	p := l.path(rep.TornSegment)
	if rep.SegmentRemoved {
		if err := l.fs.Remove(p); err != nil {
			return fmt.Errorf("log: remove torn segment %s: %w", rep.TornSegment, err)
		}
		if err := vfs.SyncDir(l.fs, l.dir); err != nil {
			return fmt.Errorf("log: sync dir %s: %w", l.dir, err)
		}
		return nil
	}
	f, err := l.fs.OpenAppend(p)
	if err != nil {
		return fmt.Errorf("log: open %s to cut torn tail: %w", rep.TornSegment, err)
	}
	defer f.Close()
	if err := f.Truncate(rep.TornOffset); err != nil {
		return fmt.Errorf("log: cut torn tail of %s at %d: %w", rep.TornSegment, rep.TornOffset, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("log: sync %s after cutting torn tail: %w", rep.TornSegment, err)
	}
	return nil
}

// mkdirDurable creates dir and any missing parents, and fsyncs the parent
// of each directory it created so that the new entries survive a crash.
func mkdirDurable(fsys vfs.FS, dir string) error {
	var created []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		_, err := fsys.Stat(d)
		if err == nil {
			break
		}
		if !vfs.IsNotExist(err) {
			return fmt.Errorf("log: stat %s: %w", d, err)
		}
		created = append(created, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(created) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("log: create dir: %w", err)
	}
	for i := len(created) - 1; i >= 0; i-- {
		if err := vfs.SyncDir(fsys, filepath.Dir(created[i])); err != nil {
			return fmt.Errorf("log: fsync parent of %s: %w", created[i], err)
		}
	}
	return nil
}

func readFileInto(fsys vfs.FS, p string, buf []byte) ([]byte, error) {
	f, err := fsys.Open(p)
	if err != nil {
		return buf, err
	}
	defer f.Close()
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (l *Log) path(name string) string { return filepath.Join(l.dir, name) }

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.dir }

// LastZxid returns the zxid of the last record appended (durable or not),
// 0 if the log is empty.
func (l *Log) LastZxid() Zxid { return Zxid(l.appended.Load()) }

// SyncedZxid returns the zxid of the last durable record, 0 if none.
func (l *Log) SyncedZxid() Zxid {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.synced
}

// FirstZxid returns the zxid of the oldest record still in the log (after
// PurgeBefore), 0 if the log is empty.
func (l *Log) FirstZxid() Zxid {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) == 0 {
		return 0
	}
	return l.segs[0].first
}

// checkWritable returns why write methods may not run. Caller holds wmu.
func (l *Log) checkWritable() error {
	switch {
	case l.closed:
		return ErrClosed
	case l.o.ReadOnly:
		return ErrReadOnly
	}
	return l.err
}

// fail records a write-path failure; from now on every write method
// returns it. Caller holds wmu.
func (l *Log) fail(op string, err error) error {
	if l.err == nil {
		l.err = fmt.Errorf("%w: %s: %w", ErrSyncFailed, op, err)
	}
	return l.err
}

// Append buffers recs after the last record. They are not durable (nor
// visible to Iter) until Sync returns nil. Zxids must be non-zero and
// strictly increasing, across calls too; on such an error nothing is
// appended. Append may write (but not sync) buffered bytes and, when the
// active segment is full, roll to a new segment (which syncs the old one).
// The log does not keep recs' Data after Append returns.
func (l *Log) Append(recs ...Record) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	last := l.LastZxid()
	for _, r := range recs {
		if r.Zxid <= last {
			return fmt.Errorf("%w: append %v after %v", ErrOutOfOrder, r.Zxid, last)
		}
		if len(r.Data) > MaxRecordBytes {
			return fmt.Errorf("%w: zxid %v has %d bytes, max %d", ErrRecordTooLarge, r.Zxid, len(r.Data), MaxRecordBytes)
		}
		last = r.Zxid
	}
	for _, r := range recs {
		if l.f == nil || l.written+int64(len(l.buf)) >= l.o.SegmentBytes {
			if err := l.roll(r.Zxid); err != nil {
				return err
			}
		}
		l.buf = appendFrame(l.buf, r)
		l.appended.Store(uint64(r.Zxid))
		if len(l.buf) >= l.o.BufferBytes {
			if err := l.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes buffered frames to the active segment. Caller holds wmu.
func (l *Log) flush() error {
	if len(l.buf) == 0 {
		return nil
	}
	n, err := l.f.Write(l.buf)
	l.written += int64(n)
	if err != nil {
		return l.fail(fmt.Sprintf("write %s at offset %d", l.activeName(), l.written), err)
	}
	l.buf = l.buf[:0]
	return nil
}

// activeName is the file name of the active segment. Caller holds wmu.
func (l *Log) activeName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) == 0 {
		return ""
	}
	return l.segs[len(l.segs)-1].name
}

// syncActive writes the buffer, fsyncs the active segment and publishes
// its new size to readers. Caller holds wmu.
func (l *Log) syncActive() error {
	if l.f == nil {
		return nil
	}
	if err := l.flush(); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		return l.fail("fsync "+l.activeName(), err)
	}
	last := l.LastZxid()
	l.mu.Lock()
	s := &l.segs[len(l.segs)-1]
	s.size = l.written
	if l.written > SegmentHeaderBytes {
		s.last = last
		l.synced = last
	}
	l.mu.Unlock()
	return nil
}

// roll syncs and closes the active segment and starts a new one whose first
// record is first: create, write the header, fsync the file, fsync the
// directory. Any failure is sticky. Caller holds wmu.
func (l *Log) roll(first Zxid) error {
	if l.f != nil {
		if err := l.syncActive(); err != nil {
			return err
		}
		if err := l.f.Close(); err != nil {
			return l.fail("close "+l.activeName(), err)
		}
		l.f = nil
	}
	name := SegmentName(first)
	f, err := l.fs.Create(l.path(name))
	if err != nil {
		return l.fail("create "+name, err)
	}
	l.f, l.written = f, 0
	l.mu.Lock()
	l.segs = append(l.segs, segment{name: name, first: first})
	l.mu.Unlock()
	l.buf = appendSegmentHeader(l.buf[:0], first)
	if err := l.flush(); err != nil {
		return err
	}
	if err := l.f.Sync(); err != nil {
		return l.fail("fsync "+name, err)
	}
	if err := vfs.SyncDir(l.fs, l.dir); err != nil {
		return l.fail("fsync dir "+l.dir, err)
	}
	l.mu.Lock()
	l.segs[len(l.segs)-1].size = SegmentHeaderBytes
	l.mu.Unlock()
	return nil
}

// Sync makes every appended record durable and visible to Iter. A failure
// is sticky: this and every later Append, Sync, TruncateAfter and
// PurgeBefore return an error matching ErrSyncFailed (and the cause), and
// SyncedZxid never moves again; reopen the log to recover.
func (l *Log) Sync() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	return l.syncActive()
}

// TruncateAfter removes every record with a zxid above z and makes that
// durable (any unsynced records at or below z become durable too). Later
// segments are removed newest first with a directory fsync after each, then
// the segment holding z is cut and fsynced, so a crash part way leaves a
// longer prefix of the old log, never a gap. If no record at or below z
// remains the log becomes empty. Iterators reading past z while this runs
// may fail. A failure is sticky.
func (l *Log) TruncateAfter(z Zxid) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	if z >= l.LastZxid() {
		return l.syncActive()
	}
	if err := l.flush(); err != nil {
		return err
	}
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	l.mu.Unlock()
	keep := sort.Search(len(segs), func(i int) bool { return segs[i].first > z }) // segs[:keep] stay
	for i := len(segs) - 1; i >= keep; i-- {
		if i == len(segs)-1 && l.f != nil {
			if err := l.f.Close(); err != nil {
				return l.fail("close "+segs[i].name, err)
			}
			l.f = nil
		}
		if err := l.fs.Remove(l.path(segs[i].name)); err != nil {
			return l.fail("remove "+segs[i].name, err)
		}
		if err := vfs.SyncDir(l.fs, l.dir); err != nil {
			return l.fail("fsync dir "+l.dir, err)
		}
		l.mu.Lock()
		l.segs = l.segs[:i]
		l.mu.Unlock()
	}
	if keep == 0 {
		l.mu.Lock()
		l.synced = 0
		l.mu.Unlock()
		l.appended.Store(0)
		l.buf, l.written = l.buf[:0], 0
		return nil
	}
	s := segs[keep-1]
	data, err := readFileInto(l.fs, l.path(s.name), nil)
	if err != nil {
		return l.fail("read "+s.name, err)
	}
	end, last := int64(SegmentHeaderBytes), Zxid(0)
	for end < int64(len(data)) {
		rz, _, n, fp := decodeFrame(data[end:])
		if fp != frameOK {
			return l.fail("truncate "+s.name, &CorruptionError{Segment: s.name, Offset: end, Zxid: last, Reason: fp.String()})
		}
		if rz > z {
			break
		}
		end, last = end+int64(n), rz
	}
	// Reopen for appending: a handle from Create writes at its own
	// position, which a truncation does not move.
	if l.f != nil {
		if err := l.f.Close(); err != nil {
			return l.fail("close "+s.name, err)
		}
		l.f = nil
	}
	f, err := l.fs.OpenAppend(l.path(s.name))
	if err != nil {
		return l.fail("open "+s.name, err)
	}
	l.f = f
	if err := l.f.Truncate(end); err != nil {
		return l.fail(fmt.Sprintf("truncate %s at %d", s.name, end), err)
	}
	if err := l.f.Sync(); err != nil {
		return l.fail("fsync "+s.name, err)
	}
	l.buf, l.written = l.buf[:0], end
	l.appended.Store(uint64(last))
	l.mu.Lock()
	l.segs[keep-1].size, l.segs[keep-1].last = end, last
	l.synced = last
	l.mu.Unlock()
	return nil
}

// PurgeBefore removes, oldest first, whole segments whose records all have
// zxids below z, fsyncing the directory after each so that what remains
// is always a contiguous suffix. It never removes the last segment, and
// never a record >= z. Iterators already past a removed segment are not
// affected; one that has not reached it yet fails. A failed removal is
// returned but is not sticky.
func (l *Log) PurgeBefore(z Zxid) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	for {
		l.mu.Lock()
		if len(l.segs) < 2 || l.segs[1].first > z {
			l.mu.Unlock()
			return nil
		}
		s := l.segs[0]
		l.segs = l.segs[1:]
		l.mu.Unlock()
		if err := l.fs.Remove(l.path(s.name)); err != nil {
			return fmt.Errorf("log: purge %s: %w", s.name, err)
		}
		if err := vfs.SyncDir(l.fs, l.dir); err != nil {
			return fmt.Errorf("log: purge %s: fsync dir: %w", s.name, err)
		}
	}
}

// Close syncs unsynced records (unless the log has failed) and closes the
// active segment. Iterators stay usable.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.closed {
		return ErrClosed
	}
	l.closed = true
	var err error
	if l.err == nil && !l.o.ReadOnly {
		err = l.syncActive()
	}
	if l.f != nil {
		err = errors.Join(err, l.f.Close())
		l.f = nil
	}
	return err
}
