package log

import (
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Describe writes a readable, byte-stable dump of a segment file's bytes:
// the header, one line per valid frame with its offset, and where and why
// decoding stopped if it did not reach the end. It is for golden files and
// inspection tools; it never fails on bad input (only on w's errors).
func Describe(w io.Writer, name string, data []byte) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("segment %s: %d bytes\n", name, len(data))
	h, hp := decodeSegmentHeader(data)
	switch hp {
	case headerOK:
		p("%-6d header magic=%q version=%d first=%v checksum=%#016x\n",
			0, data[:4], h.version, h.first, binary.BigEndian.Uint64(data[16:24]))
	case headerTorn:
		p("%-6d bad header: short or checksum mismatch\n", 0)
		return err
	case headerBadMagic:
		p("%-6d bad header: magic %q\n", 0, data[:4])
		return err
	case headerBadVersion:
		p("%-6d header version=%d: unsupported\n", 0, h.version)
		return err
	}
	off := SegmentHeaderBytes
	for off < len(data) {
		z, d, n, fp := decodeFrame(data[off:])
		if fp == frameZero && allZero(data[off:]) {
			p("%-6d unwritten (zeros) to end: %d bytes\n", off, len(data)-off)
			return err
		}
		if fp != frameOK {
			p("%-6d invalid frame: %v (%d bytes to end)\n", off, fp, len(data)-off)
			return err
		}
		p("%-6d record len=%d zxid=%v checksum=%#016x data=%s\n",
			off, len(d), z, binary.BigEndian.Uint64(data[off+12:off+20]), quoteData(d))
		off += n
	}
	p("%-6d end\n", off)
	return err
}

// quoteData shows short data quoted, long data as its length and prefix.
func quoteData(d []byte) string {
	const max = 64
	if len(d) <= max {
		return strconv.Quote(string(d))
	}
	return strconv.Quote(string(d[:max])) + "..."
}
