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
	return it, nil
}

// Iterator yields records in zxid order. It re-verifies every frame it
// reads and stops with a *CorruptionError on damage.
//
// Concurrency: single owner. Record's Data is freshly allocated for each
// record and belongs to the caller.
type Iterator struct {
	fs   vfs.FS
	dir  string
	from Zxid
	segs []segment // to read, in order; each bounded by its size
	i    int       // index in segs of the open segment

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
		if it.f == nil {
			if it.i >= len(it.segs) {
				it.done = true
				return false
			}
			if err := it.openSegment(); err != nil {
				it.stop(err)
				return false
			}
		}
		s := &it.segs[it.i]
		if it.off >= s.size {
			it.f.Close()
			it.f, it.r = nil, nil
			it.i++
			continue
		}
		rec, err := it.readFrame(s)
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

func (it *Iterator) openSegment() error {
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
	it.off = SegmentHeaderBytes
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
	if it.f != nil {
		err := it.f.Close()
		it.f, it.r = nil, nil
		return err
	}
	return nil
}
