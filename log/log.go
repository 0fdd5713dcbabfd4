package log

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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
	// Preallocate makes every new segment SegmentBytes long on disk before
	// its first record (vfs.File.Preallocate), so that appends do not
	// change the file's size and fdatasync need not write metadata. The
	// next segment is prepared in the background while the active one
	// fills, so a roll costs a header write, two fsyncs and a rename. A
	// closed segment is cut to its last record. Off by default (tests look
	// at every byte); zabd turns it on.
	//
	// When the disk has not room for SegmentBytes, a segment is
	// preallocated smaller: half, a quarter, ... down to what the record
	// that starts it needs; only when even that does not fit does the
	// roll fail with ErrNoSpace. Logger hears once when segments start
	// being preallocated smaller and once when they are whole again.
	Preallocate bool
	// Logger receives the log's few lines of its own (preallocation
	// shrinking on a nearly full disk). Default: nothing is logged.
	Logger *slog.Logger

	// openCacheBytes bounds the verified segment bytes Open keeps for the
	// first Iter: 0 means defaultOpenCacheBytes, negative keeps none.
	openCacheBytes int64
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
	if o.openCacheBytes == 0 {
		o.openCacheBytes = defaultOpenCacheBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
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
	f        vfs.File // active (last) segment open for writing; nil if none
	buf      []byte   // encoded frames not yet written to f
	written  int64    // bytes of the active segment written to f: the next write's offset
	fileSize int64    // the active segment file's size as far as known (>= written if preallocated)
	closed   bool
	// The commit point: the log as of the last successful Sync (or Open,
	// TruncateAfter, or rollback). commitFirst is the first zxid of the
	// segment that was then the last (0 if the log was empty), commitOff
	// its size, commitZxid the last record. ErrNoSpace rolls back to it.
	// Changed under wmu, or under mu by SyncThrough while points are
	// pending (rollback and TruncateAfter wait for none to be).
	// Invariant: commitZxid <= LastZxid(); every segment after commitFirst
	// was created after the commit point.
	commitFirst Zxid
	commitOff   int64
	commitZxid  Zxid
	next        *preparation // the next segment being prepared; nil if none
	seq         int          // numbers preparation files

	appended atomic.Uint64 // last appended zxid (incl. unsynced); written under wmu
	// shrunk is set while segments are preallocated smaller than
	// SegmentBytes for want of space (logged when it flips).
	shrunk atomic.Bool

	mu sync.Mutex
	// Guarded by mu (and changed only under wmu as well):
	// Invariant: segs sorted by first; every segment but the last holds at
	// least one record and was synced whole before its successor existed.
	segs   []segment
	synced Zxid // last synced record, 0 if none
	// closed segments rolled since the commit point, with their final size
	// and last record; published to readers by the next Sync or
	// SyncThrough.
	rolled []segment
	err    error // sticky write-path failure, wraps ErrSyncFailed
	// pending counts SyncPoints that Flush returned and SyncThrough has
	// not finished with. While it is non-zero the active segment stays
	// the active one, open, uncut: roll, rollback, TruncateAfter and Close
	// wait for it to reach zero (syncIdle) before they touch it.
	pending  int
	syncIdle *sync.Cond // broadcast whenever a point is resolved
	// Points are numbered by Flush (issued) and resolved strictly in that
	// order (resolved: the last one whose SyncThrough has finished): a
	// later point's success is published only after every earlier one's
	// outcome. A description opened after another one saw a writeback
	// error is not told of it, so a later fdatasync may return nil over
	// lost pages; resolving in order lets the failure land first.
	issued, resolved uint64
	// syncFiles are idle handles on the active segment for SyncThrough,
	// one per sync that ran at once. Each is its own open file
	// description, so a writeback error is reported to every fdatasync
	// that was waiting for it, never to just the first (Linux reports an
	// error once per file description). Closed when the segment changes.
	syncFiles []vfs.File
	// cache: what Open read and verified, for the first Iter (nil once
	// taken or dropped); lent: the cache the first Iter took, until
	// TruncateAfter or PurgeBefore marks it stale. See openCache.
	cache *openCache
	lent  *openCache
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
	l.syncIdle = sync.NewCond(&l.mu)
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
	segs := segmentsOf(names)
	var stale []string
	for _, n := range names {
		if isPrepName(n) {
			stale = append(stale, n)
		}
	}
	if len(stale) > 0 && !o.ReadOnly {
		// Segments prepared by a previous run and never used.
		for _, n := range stale {
			if err := fsys.Remove(l.path(n)); err != nil {
				return nil, rep, fmt.Errorf("log: remove unused prepared segment %s: %w", n, err)
			}
		}
		if err := vfs.SyncDir(fsys, dir); err != nil {
			return nil, rep, fmt.Errorf("log: sync dir %s: %w", dir, err)
		}
	}

	var prev Zxid
	var buf []byte
	var lastFileSize int64
	keep := cacheSegments{budget: o.openCacheBytes}
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
		lastFileSize = int64(len(buf))
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
			if i > 0 {
				lastFileSize = segs[i-1].size
			}
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
			// Verified: keep the bytes for the first Iter, within budget.
			buf = keep.add(s.first, buf)
		}
	}
	if rep.TornTail && !o.ReadOnly {
		if err := l.cutTornTail(rep); err != nil {
			return nil, rep, err
		}
		if !rep.SegmentRemoved {
			lastFileSize = rep.TornOffset
		}
	}
	l.segs = segs
	l.cache = keep.cache(segs)
	l.synced = prev
	l.appended.Store(uint64(prev))
	l.commitZxid = prev
	rep.Segments = len(segs)
	rep.LastZxid = prev
	if len(segs) > 0 {
		rep.FirstZxid = segs[0].first
		last := segs[len(segs)-1]
		l.commitFirst, l.commitOff = last.first, last.size
		if !o.ReadOnly {
			f, err := fsys.OpenReadWrite(l.path(last.name))
			if err != nil {
				return nil, rep, fmt.Errorf("log: open segment %s: %w", last.name, err)
			}
			l.f, l.written, l.fileSize = f, last.size, lastFileSize
			if err := l.preallocateActive(); err != nil {
				f.Close()
				return nil, rep, err
			}
		}
	}
	if !o.ReadOnly {
		l.startPrepare()
	}
	return l, rep, nil
}

// preallocateActive extends the active segment to SegmentBytes if
// preallocation is on (a segment written without it, or cut at open). It is
// best effort: without space the segment just grows as it is written.
// Caller holds wmu or owns l.
func (l *Log) preallocateActive() error {
	if !l.o.Preallocate || l.f == nil || l.fileSize >= l.o.SegmentBytes || l.written >= l.o.SegmentBytes {
		return nil
	}
	if err := l.f.Preallocate(l.o.SegmentBytes); err != nil {
		if !errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("log: preallocate %s: %w", l.activeName(), err)
		}
		// Part of the space may have been allocated (zeros, harmless).
		if fi, serr := l.f.Stat(); serr == nil {
			l.fileSize = fi.Size()
		}
		return nil
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("log: fsync %s after preallocating: %w", l.activeName(), err)
	}
	l.fileSize = l.o.SegmentBytes
	return nil
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
	// Size the buffer once from the file's size (+1 to see EOF without
	// growing): growing by doubling copied and zeroed a 64 MiB segment
	// several times, most of the log's open time.
	if info, err := f.Stat(); err == nil && int64(cap(buf)-len(buf)) < info.Size()+1 {
		nb := make([]byte, len(buf), int64(len(buf))+info.Size()+1)
		copy(nb, buf)
		buf = nb
	}
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
	return l.failure()
}

// failure returns the sticky write-path failure, nil if none.
func (l *Log) failure() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// fail records a write-path failure; from now on every write method
// returns it. Caller holds wmu or is SyncThrough; not mu.
func (l *Log) fail(op string, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = fmt.Errorf("%w: %s: %w", ErrSyncFailed, op, err)
	}
	return l.err
}

// waitSyncs waits until no SyncPoint is pending and closes the idle sync
// handles: the caller is about to change, cut or close the active segment.
// Caller holds wmu (so no Flush adds a point meanwhile); not mu.
func (l *Log) waitSyncs() {
	l.mu.Lock()
	for l.pending > 0 {
		l.syncIdle.Wait()
	}
	files := l.syncFiles
	l.syncFiles = nil
	l.mu.Unlock()
	for _, f := range files {
		f.Close() // only ever synced through; nothing to lose
	}
}

// noSpaceErr is a write-path failure for lack of space that rollback can
// undo: ENOSPC from a write, a preallocation, a create or a rename (never
// from an fsync, whose failure leaves the durable state unknown). detail
// says what was asked for and what was free when it failed.
type noSpaceErr struct {
	op     string
	detail string
	err    error
}

// what is the failed operation and its detail.
func (e *noSpaceErr) what() string {
	if e.detail == "" {
		return e.op
	}
	return e.op + ": " + e.detail
}

func (e *noSpaceErr) Error() string { return e.what() + ": " + e.err.Error() }

// writeFailed classifies err from op: running out of space is returned as
// a *noSpaceErr for recover to roll back; anything else is sticky. Caller
// holds wmu.
func (l *Log) writeFailed(op string, err error) error {
	return l.writeFailedAsking(op, -1, err)
}

// writeFailedAsking is writeFailed for an operation that asked for asked
// bytes (-1: unknown): a full disk's error says so and what was free.
func (l *Log) writeFailedAsking(op string, asked int64, err error) error {
	if !errors.Is(err, syscall.ENOSPC) {
		return l.fail(op, err)
	}
	var detail string
	if pe := (*preallocError)(nil); errors.As(err, &pe) {
		detail = pe.describe()
		if free := vfs.NoSpaceDetail(l.fs, l.dir, -1); free != "" {
			detail += ", " + free
		}
		err = pe.err
	} else {
		detail = vfs.NoSpaceDetail(l.fs, l.dir, asked)
	}
	return &noSpaceErr{op: op, detail: detail, err: err}
}

// recover turns a *noSpaceErr into a rollback to the commit point and an
// error matching ErrNoSpace; other errors pass through. Caller holds wmu.
func (l *Log) recover(err error) error {
	var ns *noSpaceErr
	if !errors.As(err, &ns) {
		return err
	}
	if rerr := l.rollback(); rerr != nil {
		return rerr
	}
	return fmt.Errorf("%w: %s: %w", ErrNoSpace, ns.what(), ns.err)
}

// rollback puts the log back at the commit point, durably: segments created
// since are removed (newest first, fsyncing the directory after each) and
// the commit segment is cut back to its committed size and fsynced. So
// records appended since the last successful Sync (or SyncThrough), which
// no caller was told are durable, can never reappear (a later record might
// otherwise land before their leftover frames). It first waits for the
// pending SyncPoints, which may move the commit point. Any failure here is
// sticky. Caller holds wmu.
func (l *Log) rollback() error {
	l.waitSyncs()
	if err := l.failure(); err != nil {
		return err // a sync in flight failed: the durable state is unknown
	}
	l.buf = l.buf[:0]
	l.mu.Lock()
	l.rolled = nil
	l.mu.Unlock()
	if l.f != nil {
		l.f.Close() // the handle is replaced below; the cut is what counts
		l.f = nil
	}
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	l.mu.Unlock()
	for i := len(segs) - 1; i >= 0 && segs[i].first > l.commitFirst; i-- {
		if err := l.fs.Remove(l.path(segs[i].name)); err != nil {
			return l.fail("roll back: remove "+segs[i].name, err)
		}
		if err := vfs.SyncDir(l.fs, l.dir); err != nil {
			return l.fail("roll back: fsync dir "+l.dir, err)
		}
		l.mu.Lock()
		l.segs = l.segs[:i]
		l.mu.Unlock()
	}
	l.written, l.fileSize = 0, 0
	l.appended.Store(uint64(l.commitZxid))
	if l.commitFirst == 0 {
		return nil
	}
	name := SegmentName(l.commitFirst)
	f, err := l.fs.OpenReadWrite(l.path(name))
	if err != nil {
		return l.fail("roll back: open "+name, err)
	}
	l.f = f
	if err := f.Truncate(l.commitOff); err != nil {
		return l.fail(fmt.Sprintf("roll back: truncate %s at %d", name, l.commitOff), err)
	}
	if err := f.Sync(); err != nil {
		return l.fail("roll back: fsync "+name, err)
	}
	l.written, l.fileSize = l.commitOff, l.commitOff
	return nil
}

// Append buffers recs after the last record. They are not durable (nor
// visible to Iter) until Sync returns nil. Zxids must be non-zero and
// strictly increasing, across calls too; on such an error nothing is
// appended. Append may write (but not sync) buffered bytes and, when the
// active segment is full, roll to a new segment (which syncs the old one).
// The log does not keep recs' Data after Append returns.
//
// Append and Sync fail with an error matching ErrNoSpace (and
// syscall.ENOSPC) when a write, preallocation or segment creation finds
// the disk full. That failure is not sticky: the log has been put back, on
// disk too, where the last successful Sync left it (LastZxid is
// SyncedZxid again; every record appended since is gone), and the next
// Append may retry, with the same zxids or later ones.
func (l *Log) Append(recs ...Record) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.checkWritable(); err != nil {
		return err
	}
	l.dropOpenCache(false)
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
		if n := l.written + int64(len(l.buf)); l.f == nil || (n >= l.o.SegmentBytes && n > SegmentHeaderBytes) {
			if err := l.roll(r.Zxid, SegmentHeaderBytes+FrameHeaderBytes+int64(len(r.Data))); err != nil {
				return l.recover(err)
			}
		}
		l.buf = appendFrame(l.buf, r)
		l.appended.Store(uint64(r.Zxid))
		if len(l.buf) >= l.o.BufferBytes {
			if err := l.flush(); err != nil {
				return l.recover(err)
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
	n, err := l.f.WriteAt(l.buf, l.written)
	if err != nil {
		// NB: n bytes may have reached the file; a rollback cuts them.
		return l.writeFailedAsking(fmt.Sprintf("write %s at offset %d", l.activeName(), l.written), int64(len(l.buf)), err)
	}
	l.written += int64(n)
	l.fileSize = max(l.fileSize, l.written)
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

// commit writes the buffer, fsyncs the active segment, publishes to
// readers every segment rolled since the commit point and the active
// segment's new size, and moves the commit point there. Caller holds wmu.
func (l *Log) commit() error {
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
	l.publishRolled()
	s := &l.segs[len(l.segs)-1]
	s.size = l.written
	if l.written > SegmentHeaderBytes {
		s.last = last
		l.synced = last
	}
	l.commitFirst, l.commitOff, l.commitZxid = s.first, s.size, l.synced
	l.mu.Unlock()
	return nil
}

// publishRolled makes the final size of segments rolled since the commit
// point visible to readers. Caller holds wmu and mu.
func (l *Log) publishRolled() {
	for _, r := range l.rolled {
		for i := range l.segs {
			if l.segs[i].first == r.first {
				l.segs[i].size, l.segs[i].last = r.size, r.last
				l.synced = max(l.synced, r.last)
			}
		}
	}
	l.rolled = l.rolled[:0]
}

// roll syncs and closes the active segment and starts a new one whose first
// record is first. The old segment is flushed, cut to its last record (if
// it was preallocated) and fsynced, so that every segment but the last ends
// at its last record. The new one is the prepared file (see
// file_pipeline.go), or a file created now: its header is written and
// fsynced, it gets its name (create or rename) and the directory is
// fsynced. need is what the record that starts the new segment takes with
// the header: the least a preallocation on a nearly full disk may shrink
// to. The old segment's new records are not published to readers until
// the next Sync. ENOSPC is returned as *noSpaceErr; other failures are
// sticky. Caller holds wmu.
func (l *Log) roll(first Zxid, need int64) error {
	if l.f != nil {
		l.waitSyncs()
		if err := l.flush(); err != nil {
			return err
		}
		name := l.activeName()
		if l.fileSize > l.written {
			if err := l.f.Truncate(l.written); err != nil {
				return l.fail(fmt.Sprintf("cut preallocated space of %s at %d", name, l.written), err)
			}
			l.fileSize = l.written
		}
		if err := l.f.Sync(); err != nil {
			return l.fail("fsync "+name, err)
		}
		if err := l.f.Close(); err != nil {
			return l.fail("close "+name, err)
		}
		l.f = nil
		l.mu.Lock()
		s := l.segs[len(l.segs)-1]
		s.size = l.written
		if l.written > SegmentHeaderBytes {
			s.last = l.LastZxid()
		}
		l.rolled = append(l.rolled, s)
		l.mu.Unlock()
	}
	name := SegmentName(first)
	hdr := appendSegmentHeader(nil, first)
	var f vfs.File
	var size int64
	if l.o.Preallocate {
		p, err := l.takePrepared(need)
		if err != nil {
			return l.writeFailed("preallocating segment "+name, err)
		}
		if _, err := p.f.WriteAt(hdr, 0); err != nil {
			p.discard(l.fs)
			return l.writeFailedAsking("write header of "+name, int64(len(hdr)), err)
		}
		if err := p.f.Sync(); err != nil {
			p.discard(l.fs)
			return l.fail("fsync "+p.name, err)
		}
		if err := l.fs.Rename(l.path(p.name), l.path(name)); err != nil {
			p.discard(l.fs)
			return l.writeFailed("rename "+p.name+" to "+name, err)
		}
		f, size = p.f, max(p.size, SegmentHeaderBytes)
	} else {
		var err error
		if f, err = l.fs.Create(l.path(name)); err != nil {
			return l.writeFailed("create "+name, err)
		}
		l.mu.Lock()
		l.segs = append(l.segs, segment{name: name, first: first})
		l.mu.Unlock()
		l.f, l.written, l.fileSize = f, 0, 0
		if _, err := f.WriteAt(hdr, 0); err != nil {
			return l.writeFailedAsking("write header of "+name, int64(len(hdr)), err)
		}
		if err := f.Sync(); err != nil {
			return l.fail("fsync "+name, err)
		}
		size = SegmentHeaderBytes
	}
	if l.f != f {
		l.mu.Lock()
		l.segs = append(l.segs, segment{name: name, first: first})
		l.mu.Unlock()
	}
	l.f, l.written, l.fileSize = f, SegmentHeaderBytes, size
	if err := vfs.SyncDir(l.fs, l.dir); err != nil {
		return l.fail("fsync dir "+l.dir, err)
	}
	l.startPrepare()
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
	return l.recover(l.commit())
}

// SyncPoint is where Flush left the log: SyncThrough(p) makes the records
// up to it durable.
type SyncPoint struct {
	seg  Zxid   // first zxid of the active segment, 0 for nothing to sync
	off  int64  // bytes of it written
	last Zxid   // last record written
	seq  uint64 // Flush's number for it (Log.issued)
}

// Last is the last record the point covers.
func (p SyncPoint) Last() Zxid { return p.last }

// Flush writes every appended record to the active segment without
// syncing it, and returns the point SyncThrough makes durable. It splits
// Sync in two so that the next batch can be appended and written while
// this one's fdatasync runs (the engine keeps two in flight): Sync is
// Flush then SyncThrough, less the overlap.
//
// Every point Flush returns must be passed to SyncThrough exactly once,
// soon, and not by a goroutine that holds the write side: until then the
// active segment cannot roll, roll back, be cut or closed (those wait).
// A full disk fails as Append does (ErrNoSpace, after the rollback).
func (l *Log) Flush() (SyncPoint, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.checkWritable(); err != nil {
		return SyncPoint{}, err
	}
	if l.f == nil {
		return SyncPoint{}, nil
	}
	if err := l.flush(); err != nil {
		return SyncPoint{}, l.recover(err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := SyncPoint{seg: l.segs[len(l.segs)-1].first, off: l.written, last: l.LastZxid()}
	if p.last <= l.synced || l.written <= SegmentHeaderBytes {
		// Nothing new in the active segment: a roll synced what there is.
		l.publishRolled()
		return SyncPoint{}, nil
	}
	l.pending++
	l.issued++
	p.seq = l.issued
	return p, nil
}

// SyncThrough makes the records up to p durable and visible to Iter (and
// those of segments rolled before p). It does not hold the write side, so
// Append and Flush go on while its fdatasync runs, and several may run at
// once, each on its own handle; a later point's success also publishes
// every earlier one's records (the fdatasync covers every byte written
// before it). It returns only after the SyncThrough of every earlier point
// has: outcomes are decided in Flush order. A failure is sticky, as
// Sync's, and fails every later point.
func (l *Log) SyncThrough(p SyncPoint) error {
	_, err := l.SyncThroughTimed(p, nil)
	return err
}

// SyncThroughTimed is SyncThrough, and also says how long its fdatasync
// took by now (the fsync latency a metric wants), without the wait for
// earlier points' outcomes that follows it; 0 if there was none to do or
// now is nil.
func (l *Log) SyncThroughTimed(p SyncPoint, now func() time.Time) (time.Duration, error) {
	if p.seg == 0 {
		return 0, l.failure()
	}
	var took time.Duration
	f, err := l.takeSyncFile(p)
	if err == nil {
		var start time.Time
		if now != nil {
			start = now()
		}
		err = f.Sync()
		if now != nil {
			took = now().Sub(start)
		}
		if err != nil {
			f.Close() // this description has reported its error; never reuse it
			f = nil
		}
	}
	return took, l.decide(p, f, err)
}

// decide records the outcome of p's fdatasync once every earlier point's
// is decided, gives its handle back to the pool (nil: it reported an
// error), and publishes what it made durable.
func (l *Log) decide(p SyncPoint, f vfs.File, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f != nil {
		l.syncFiles = append(l.syncFiles, f)
	}
	for l.resolved != p.seq-1 {
		l.syncIdle.Wait()
	}
	l.resolved = p.seq
	l.pending--
	l.syncIdle.Broadcast()
	if err != nil {
		if l.err == nil {
			l.err = fmt.Errorf("%w: fsync %s through offset %d (zxid %v): %w", ErrSyncFailed, SegmentName(p.seg), p.off, p.last, err)
		}
		return l.err
	}
	if l.err != nil {
		return l.err
	}
	l.publishRolled()
	s := &l.segs[len(l.segs)-1]
	if s.first != p.seg {
		panic(fmt.Sprintf("log: active segment %s changed under a pending sync of %s", s.name, SegmentName(p.seg)))
	}
	if p.off > s.size {
		s.size, s.last = p.off, p.last
		l.synced = max(l.synced, p.last)
		l.commitFirst, l.commitOff, l.commitZxid = s.first, s.size, l.synced
	}
	return nil
}

// takeSyncFile returns an idle handle on p's segment (the active one), or
// opens one.
func (l *Log) takeSyncFile(p SyncPoint) (vfs.File, error) {
	l.mu.Lock()
	if n := len(l.syncFiles); n > 0 {
		f := l.syncFiles[n-1]
		l.syncFiles = l.syncFiles[:n-1]
		l.mu.Unlock()
		return f, nil
	}
	l.mu.Unlock()
	name := SegmentName(p.seg)
	// Read-write: some systems' sync (FlushFileBuffers) needs write access.
	f, err := l.fs.OpenReadWrite(l.path(name))
	if err != nil {
		return nil, fmt.Errorf("open %s to sync it: %w", name, err)
	}
	return f, nil
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
	l.dropOpenCache(true)
	if z >= l.LastZxid() {
		return l.recover(l.commit())
	}
	l.waitSyncs()
	if err := l.flush(); err != nil {
		return l.recover(err)
	}
	l.mu.Lock()
	segs := append([]segment(nil), l.segs...)
	l.mu.Unlock()
	activeWritten := l.written
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
		l.rolled = l.rolled[:0]
		l.mu.Unlock()
		l.appended.Store(0)
		l.buf, l.written, l.fileSize = l.buf[:0], 0, 0
		l.commitFirst, l.commitOff, l.commitZxid = 0, 0, 0
		return nil
	}
	s := segs[keep-1]
	data, err := readFileInto(l.fs, l.path(s.name), nil)
	if err != nil {
		return l.fail("read "+s.name, err)
	}
	if keep == len(segs) {
		// The active segment: what follows its last write is unwritten
		// (preallocated) or not ours.
		data = data[:min(int64(len(data)), activeWritten)]
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
	f, err := l.fs.OpenReadWrite(l.path(s.name))
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
	l.buf, l.written, l.fileSize = l.buf[:0], end, end
	l.appended.Store(uint64(last))
	l.mu.Lock()
	l.publishRolled() // earlier segments rolled since the last Sync were synced whole
	l.segs[keep-1].size, l.segs[keep-1].last = end, last
	l.synced = last
	l.commitFirst, l.commitOff, l.commitZxid = s.first, end, last
	l.mu.Unlock()
	return l.preallocateActive()
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
	l.dropOpenCache(true)
	for {
		l.mu.Lock()
		// NB: the segment holding the commit point stays (rollback cuts it).
		if len(l.segs) < 2 || l.segs[1].first > z || l.segs[1].first > l.commitFirst {
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
	l.dropOpenCache(false)
	l.waitSyncs()
	var err error
	if l.failure() == nil && !l.o.ReadOnly {
		err = l.recover(l.commit())
	}
	if l.f != nil {
		err = errors.Join(err, l.f.Close())
		l.f = nil
	}
	l.dropPrepared()
	return err
}
