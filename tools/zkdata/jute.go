package zkdata

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
)

// ErrCorrupt matches every error about bytes that are not what Apache
// ZooKeeper writes.
var ErrCorrupt = errors.New("zkdata: corrupt")

// CorruptError says what is wrong and where: the file and the byte offset
// (in the decompressed stream, for a compressed snapshot).
type CorruptError struct {
	File   string
	Offset int64
	Reason string
	Err    error
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("zkdata: %s at offset %d: %s", e.File, e.Offset, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }
func (e *CorruptError) Unwrap() error        { return e.Err }

// maxField bounds one string, buffer or vector: what a ZooKeeper server
// accepts (jute.maxbuffer) is far below it, so anything larger is damage,
// not data, and is refused before it is allocated.
const maxField = 1 << 30

// reader decodes jute's binary archive (big-endian int and long, a boolean
// as one byte, a ustring or buffer as an int length (-1: null) and its
// bytes, a vector as an int count (-1: null) and its items) from a
// stream, feeding every byte it consumes to sum when set (ZooKeeper's
// snapshots checksum the stream with Adler32).
type reader struct {
	file string
	r    *bufio.Reader
	sum  hash.Hash32
	off  int64
	err  error
	tmp  [8]byte
}

func newReader(file string, r io.Reader, sum hash.Hash32) *reader {
	return &reader{file: file, r: bufio.NewReaderSize(r, 256<<10), sum: sum}
}

func (d *reader) fail(reason string, err error) {
	if d.err == nil {
		d.err = &CorruptError{File: d.file, Offset: d.off, Reason: reason, Err: err}
	}
}

func (d *reader) full(b []byte, what string) bool {
	if d.err != nil {
		return false
	}
	n, err := io.ReadFull(d.r, b)
	if d.sum != nil {
		d.sum.Write(b[:n])
	}
	d.off += int64(n)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			d.fail("truncated "+what, nil)
		} else {
			d.err = fmt.Errorf("zkdata: reading %s: %w", d.file, err)
		}
		return false
	}
	return true
}

func (d *reader) int(what string) int32 {
	if !d.full(d.tmp[:4], what) {
		return 0
	}
	return int32(binary.BigEndian.Uint32(d.tmp[:4]))
}

func (d *reader) long(what string) int64 {
	if !d.full(d.tmp[:8], what) {
		return 0
	}
	return int64(binary.BigEndian.Uint64(d.tmp[:8]))
}

func (d *reader) bool(what string) bool {
	if !d.full(d.tmp[:1], what) {
		return false
	}
	return d.tmp[0] != 0
}

// length reads a length or count; -1 (null) is nil true.
func (d *reader) length(what string) (int, bool) {
	n := d.int(what + " length")
	switch {
	case d.err != nil:
		return 0, false
	case n == -1:
		return 0, true
	case n < 0 || n > maxField:
		d.fail(fmt.Sprintf("%s length %d", what, n), nil)
		return 0, false
	}
	return int(n), false
}

// buffer reads a buffer: nil for null, else a new slice.
func (d *reader) buffer(what string) []byte {
	n, null := d.length(what)
	if null || d.err != nil {
		return nil
	}
	return d.bytes(n, what)
}

// bytes reads n bytes into a new slice, growing it as they arrive, so a
// damaged length costs no more memory than the stream really holds.
func (d *reader) bytes(n int, what string) []byte {
	const step = 1 << 20
	b := make([]byte, 0, min(n, step))
	for len(b) < n && d.err == nil {
		k := min(n-len(b), step)
		b = append(b, make([]byte, k)...)
		d.full(b[len(b)-k:], what)
	}
	return b
}

func (d *reader) string(what string) string {
	n, null := d.length(what)
	if null || d.err != nil || n == 0 {
		return ""
	}
	b := d.bytes(n, what)
	if d.err != nil {
		return ""
	}
	return string(b)
}

// atEOF reports whether the stream has ended (nothing more to read).
func (d *reader) atEOF() bool {
	if d.err != nil {
		return false
	}
	_, err := d.r.Peek(1)
	return errors.Is(err, io.EOF)
}

// writer encodes jute's binary archive into a buffer, feeding what it
// writes to sum when set.
type writer struct {
	b []byte
}

func (w *writer) int(v int32)  { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *writer) long(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }
func (w *writer) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *writer) buffer(p []byte) {
	if p == nil {
		w.int(-1)
		return
	}
	w.int(int32(len(p)))
	w.b = append(w.b, p...)
}

func (w *writer) string(s string) {
	w.int(int32(len(s)))
	w.b = append(w.b, s...)
}
