package log

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Format version 1. Every constant in this block is frozen: it is on disk.
// A change needs a new version, and readers keep reading the old ones.
const (
	// segmentMagic opens every segment file.
	segmentMagic = "ZBDL"
	// formatVersion is the version this build writes.
	formatVersion = 1
	// SegmentHeaderBytes is the size of a segment header.
	SegmentHeaderBytes = 24
	// FrameHeaderBytes is the size of a record frame's header.
	FrameHeaderBytes = 20
	// MaxRecordBytes bounds a record's Data. A frame declaring more is
	// invalid.
	MaxRecordBytes = 64 << 20
	// segmentPrefix and the 16 lower-case hex digits of the segment's first
	// zxid make a segment file name.
	segmentPrefix = "log."
)

// segmentsOf returns the segment files among names, in zxid order.
func segmentsOf(names []string) []segment {
	var segs []segment
	for _, n := range names {
		if z, ok := ParseSegmentName(n); ok {
			segs = append(segs, segment{name: n, first: z})
		}
	}
	sort.Slice(segs, func(i, j int) bool { return segs[i].first < segs[j].first })
	return segs
}

// SegmentName returns the file name of the segment whose first record is
// first: "log." and 16 hex digits, so names sort in zxid order.
func SegmentName(first Zxid) string { return fmt.Sprintf("%s%016x", segmentPrefix, uint64(first)) }

// ParseSegmentName is the inverse of SegmentName.
func ParseSegmentName(name string) (Zxid, bool) {
	hex, ok := strings.CutPrefix(name, segmentPrefix)
	if !ok || len(hex) != 16 || strings.ToLower(hex) != hex {
		return 0, false
	}
	v, err := strconv.ParseUint(hex, 16, 64)
	if err != nil || v == 0 {
		return 0, false
	}
	return Zxid(v), true
}

// appendSegmentHeader appends the header of a segment starting at first.
func appendSegmentHeader(dst []byte, first Zxid) []byte {
	start := len(dst)
	dst = append(dst, segmentMagic...)
	dst = binary.BigEndian.AppendUint32(dst, formatVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(first))
	return binary.BigEndian.AppendUint64(dst, xxhash.Sum64(dst[start:]))
}

// segmentHeader is a decoded segment header.
type segmentHeader struct {
	version uint32
	first   Zxid
}

// headerProblem says what is wrong with a segment header.
type headerProblem int

const (
	headerOK         headerProblem = iota
	headerTorn                     // short or checksum mismatch: may be a torn write
	headerBadMagic                 // checksum fine, not our magic
	headerBadVersion               // checksum fine, unknown version
)

func decodeSegmentHeader(b []byte) (segmentHeader, headerProblem) {
	if len(b) < SegmentHeaderBytes {
		return segmentHeader{}, headerTorn
	}
	if xxhash.Sum64(b[:16]) != binary.BigEndian.Uint64(b[16:24]) {
		return segmentHeader{}, headerTorn
	}
	h := segmentHeader{
		version: binary.BigEndian.Uint32(b[4:8]),
		first:   Zxid(binary.BigEndian.Uint64(b[8:16])),
	}
	if string(b[:4]) != segmentMagic {
		return h, headerBadMagic
	}
	if h.version != formatVersion {
		return h, headerBadVersion
	}
	return h, headerOK
}

// frameSize is the on-disk size of a record with n bytes of data.
func frameSize(n int) int { return FrameHeaderBytes + n }

// appendFrame appends the frame of r to dst.
func appendFrame(dst []byte, r Record) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Data)))
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Zxid))
	dst = binary.BigEndian.AppendUint64(dst, 0) // checksum, filled below
	dst = append(dst, r.Data...)
	binary.BigEndian.PutUint64(dst[start+12:], frameChecksum(dst[start:start+12], r.Data))
	return dst
}

// frameChecksum is xxhash64 over the frame's length and zxid fields
// followed by its data.
func frameChecksum(lenZxid []byte, data []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.Write(lenZxid)
	d.Write(data)
	return d.Sum64()
}

// frameProblem says why bytes are not a valid frame.
type frameProblem int

const (
	frameOK          frameProblem = iota
	frameShort                    // header or data runs past the end
	frameZero                     // header is all zeros (unwritten space)
	frameTooLarge                 // length over MaxRecordBytes
	frameBadChecksum              // checksum mismatch
	frameZeroZxid                 // checksum fine but zxid 0
)

var frameProblems = [...]string{"ok", "short frame", "zero-filled frame header",
	"length over MaxRecordBytes", "checksum mismatch", "zero zxid"}

func (p frameProblem) String() string { return frameProblems[p] }

// decodeFrame decodes the frame at the start of b. On success it returns
// the zxid, the data (aliasing b) and the frame's size.
func decodeFrame(b []byte) (Zxid, []byte, int, frameProblem) {
	if len(b) < FrameHeaderBytes {
		if allZero(b) {
			return 0, nil, 0, frameZero
		}
		return 0, nil, 0, frameShort
	}
	n := binary.BigEndian.Uint32(b[0:4])
	z := Zxid(binary.BigEndian.Uint64(b[4:12]))
	sum := binary.BigEndian.Uint64(b[12:20])
	if n == 0 && z == 0 && sum == 0 {
		return 0, nil, 0, frameZero
	}
	if n > MaxRecordBytes {
		return 0, nil, 0, frameTooLarge
	}
	if int64(len(b)-FrameHeaderBytes) < int64(n) {
		return 0, nil, 0, frameShort
	}
	data := b[FrameHeaderBytes : FrameHeaderBytes+int(n)]
	if frameChecksum(b[0:12], data) != sum {
		return 0, nil, 0, frameBadChecksum
	}
	if z == 0 {
		return 0, nil, 0, frameZeroZxid
	}
	return z, data, FrameHeaderBytes + int(n), frameOK
}

// verifiedFrame reads a frame that decodeFrame has already found whole
// and valid (its checksum checked): it only splits it.
func verifiedFrame(b []byte) (Zxid, []byte, int) {
	n := binary.BigEndian.Uint32(b[0:4])
	return Zxid(binary.BigEndian.Uint64(b[4:12])), b[FrameHeaderBytes : FrameHeaderBytes+int(n)], FrameHeaderBytes + int(n)
}

var zeroPage [4096]byte

func allZero(b []byte) bool {
	for len(b) >= len(zeroPage) {
		if !bytes.Equal(b[:len(zeroPage)], zeroPage[:]) {
			return false
		}
		b = b[len(zeroPage):]
	}
	return bytes.Equal(b, zeroPage[:len(b)])
}
