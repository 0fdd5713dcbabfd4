package log

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"zabd/log/vfs"
)

// Iter returns an iterator over the durable records with zxid >= from, as
// of this call: records synced later are not seen. If from is below
// FirstZxid the iterator starts at the oldest record kept; callers that
// need contiguity check the first record's zxid.
func (l *Log) Iter(from Zxid) (*Iterator, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Start in the last segment whose first zxid is <= from.
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > from })
	if i > 0 {
		i--
	}
	it := &Iterator{fs: l.fs, dir: l.dir, from: from}
	for _, s := range l.segs[i:] {
		if s.size > SegmentHeaderBytes {
			it.segs = append(it.segs, s)
		}
	}
	if c := l.cache; c != nil {
		// The first Iter after Open takes the bytes Open verified; the
		// buffers of segments it will not read are released here.
		l.cache, l.lent = nil, c
		it.cache, it.mem = c, make([][]byte, len(it.segs))
		for j, s := range it.segs {
			if b, ok := c.bufs[s.first]; ok && int64(len(b)) >= s.size {
				it.mem[j] = b[:s.size]
			}
		}
		c.bufs = nil
	}
	return it, nil
}

// Iterator yields records in zxid order. It re-verifies every frame it
// reads from a file and stops with a *CorruptionError on damage. The first
// iterator after Open reads the segments Open verified from Open's buffers
// (see openCache): it parses their frames but does not recompute their
// checksums, and drops each buffer once past its segment.
//
// Concurrency: single owner. Record's Data is freshly allocated for each
// record and belongs to the caller.
type Iterator struct {
	fs   vfs.FS
	dir  string
	from Zxid
	segs []segment // to read, in order; each bounded by its size
	i    int       // index in segs of the open segment

	// cache is the openCache this iterator took, if any; mem[j] is the
	// verified bytes of segs[j] (nil: read the file); cur is the bytes of
	// the segment being read from memory, nil when reading a file.
	cache *openCache
	mem   [][]byte
	cur   []byte

	f    vfs.File
	r    *bufio.Reader
	off  int64
	prev Zxid
	hdr  [FrameHeaderBytes]byte
	rec  Record
	err  error
	done bool
}

// Next advances to the next record and reports whether there is one. When
// it returns false, Err says whether iteration ended cleanly.
func (it *Iterator) Next() bool {
	for !it.done {
		if it.f == nil && it.cur == nil {
			if it.i >= len(it.segs) {
				it.done = true
				it.release()
				return false
			}
			if b := it.takeMem(); b != nil {
				it.cur, it.off = b, SegmentHeaderBytes
			} else if err := it.openSegment(SegmentHeaderBytes); err != nil {
				it.stop(err)
				return false
			}
		}
		s := &it.segs[it.i]
		if it.off >= s.size {
			if it.f != nil {
				it.f.Close()
			}
			it.f, it.r, it.cur = nil, nil, nil
			it.i++
			continue
		}
		if it.cur != nil && it.cache.stale.Load() {
			// The log was truncated or purged: read the file from here,
			// as an iterator that never had the buffers does.
			it.release()
			if err := it.openSegment(it.off); err != nil {
				it.stop(err)
				return false
			}
		}
		var rec Record
		var err error
		if it.cur != nil {
			rec, err = it.memFrame(s)
		} else {
			rec, err = it.readFrame(s)
		}
		if err != nil {
			it.stop(err)
			return false
		}
		if rec.Zxid >= it.from {
			it.rec = rec
			return true
		}
	}
	return false
}

// takeMem returns the verified bytes of the next segment, nil if it must
// be read from its file.
func (it *Iterator) takeMem() []byte {
	if it.mem == nil {
		return nil
	}
	b := it.mem[it.i]
	it.mem[it.i] = nil
	if it.cache.stale.Load() {
		it.release()
		return nil
	}
	return b
}

// release drops every buffer taken from Open.
func (it *Iterator) release() {
	it.mem, it.cur = nil, nil
}

// memFrame parses the frame at it.off of the current segment's verified
// bytes. Open checked every frame's checksum and zxid order; the bounds
// and order are checked again because they are cheap.
func (it *Iterator) memFrame(s *segment) (Record, error) {
	corrupt := func(reason string) error {
		return &CorruptionError{Segment: s.name, Offset: it.off, Zxid: it.prev, Reason: reason}
	}
	b := it.cur[it.off:]
	if len(b) < FrameHeaderBytes {
		return Record{}, corrupt("short frame")
	}
	n := binary.BigEndian.Uint32(b[0:4])
	if n > MaxRecordBytes || int64(n) > int64(len(b))-FrameHeaderBytes {
		return Record{}, corrupt("short frame")
	}
	z := Zxid(binary.BigEndian.Uint64(b[4:12]))
	if z <= it.prev {
		return Record{}, corrupt(fmt.Sprintf("zxid %v not above previous %v", z, it.prev))
	}
	var data []byte
	if z >= it.from {
		// A copy: Data belongs to the caller and must not pin the segment.
		data = make([]byte, n)
		copy(data, b[FrameHeaderBytes:])
	}
	it.off += int64(frameSize(int(n)))
	it.prev = z
	return Record{Zxid: z, Data: data}, nil
}

// openSegment opens the current segment's file, checks its header, and
// positions the reader at off.
func (it *Iterator) openSegment(off int64) error {
	s := &it.segs[it.i]
	f, err := it.fs.Open(filepath.Join(it.dir, s.name))
	if err != nil {
		return fmt.Errorf("log: iterate: open segment %s: %w", s.name, err)
	}
	it.f = f
	it.r = bufio.NewReaderSize(f, 64<<10)
	var hb [SegmentHeaderBytes]byte
	if _, err := io.ReadFull(it.r, hb[:]); err != nil {
		return it.ioErr(s, 0, err)
	}
	h, hp := decodeSegmentHeader(hb[:])
	if hp != headerOK || h.first != s.first {
		return &CorruptionError{Segment: s.name, Offset: 0, Zxid: it.prev, Reason: "bad segment header"}
	}
	if _, err := it.r.Discard(int(off - SegmentHeaderBytes)); err != nil {
		return it.ioErr(s, SegmentHeaderBytes, err)
	}
	it.off = off
	return nil
}

func (it *Iterator) readFrame(s *segment) (Record, error) {
	corrupt := func(reason string) error {
		return &CorruptionError{Segment: s.name, Offset: it.off, Zxid: it.prev, Reason: reason}
	}
	if s.size-it.off < FrameHeaderBytes {
		return Record{}, corrupt("short frame")
	}
	if _, err := io.ReadFull(it.r, it.hdr[:]); err != nil {
		return Record{}, it.ioErr(s, it.off, err)
	}
	n := binary.BigEndian.Uint32(it.hdr[0:4])
	if n > MaxRecordBytes || int64(n) > s.size-it.off-FrameHeaderBytes {
		return Record{}, corrupt("short frame")
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(it.r, data); err != nil {
		return Record{}, it.ioErr(s, it.off, err)
	}
	z := Zxid(binary.BigEndian.Uint64(it.hdr[4:12]))
	if frameChecksum(it.hdr[0:12], data) != binary.BigEndian.Uint64(it.hdr[12:20]) {
		return Record{}, corrupt("checksum mismatch")
	}
	if z <= it.prev {
		return Record{}, corrupt(fmt.Sprintf("zxid %v not above previous %v", z, it.prev))
	}
	it.off += int64(frameSize(int(n)))
	it.prev = z
	return Record{Zxid: z, Data: data}, nil
}

// ioErr describes a read failure; a file shorter than the log believed is
// reported as corruption.
func (it *Iterator) ioErr(s *segment, off int64, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &CorruptionError{Segment: s.name, Offset: off, Zxid: it.prev, Reason: "file shorter than expected"}
	}
	return fmt.Errorf("log: iterate: read %s at offset %d: %w", s.name, off, err)
}

func (it *Iterator) stop(err error) {
	it.err, it.done = err, true
	it.Close()
}

// Record returns the current record; valid after Next returned true.
func (it *Iterator) Record() Record { return it.rec }

// Err returns the error that stopped iteration, nil at a clean end.
func (it *Iterator) Err() error { return it.err }

// Close releases the open file. It is safe to call more than once.
func (it *Iterator) Close() error {
	it.done = true
	it.release()
	if it.f != nil {
		err := it.f.Close()
		it.f, it.r = nil, nil
		return err
	}
	return nil
}
