package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"zabd/log"
)

// Format constants. Frozen: the magic, every version's layout and the
// codec numbers (see the package doc).
const (
	Magic = "ZBDS"
	// Version1 files have no trailer: they do not record where the walk
	// ended (Meta.EndZxid is unknown).
	Version1 = 1
	// Version2 adds the trailer after the body: the walk's end zxid.
	Version2 = 2
	// Version3 adds the codec byte after the header: the body may be
	// stored with s2, zstd or no compression (Codec).
	Version3 = 3
	// Version is what Write writes.
	Version = Version3
	// HeaderBytes is the size of the uncompressed header.
	HeaderBytes = 32
	// TrailerBytes is the size of the uncompressed trailer (version 2 on).
	TrailerBytes = 16
	// s2BlockBytes is the largest s2 block Write makes and Read accepts:
	// it bounds what one block of a (possibly hostile) file can make the
	// reader allocate.
	s2BlockBytes = 1 << 20
	// MaxFieldBytes bounds every length a reader accepts (path, data,
	// scheme, id): no txn can carry more (log.MaxRecordBytes).
	MaxFieldBytes = log.MaxRecordBytes

	tagSession = 1
	tagNode    = 2
	tagEnd     = 3
	// tagSessionSecret: the tree's session secret (version 2 streams,
	// when the tree has one).
	tagSessionSecret = 4
)

// Codec is how a snapshot's body is stored: the byte after a version 3
// header. Versions 1 and 2 are always CodecZstd. In Options the zero
// value means the default, CodecS2; in a file 0 is not a codec.
type Codec uint8

// The codecs. Frozen numbers.
const (
	// CodecNone stores the body as it is: the most disk, the least CPU.
	CodecNone Codec = 1
	// CodecZstd is one zstd stream (klauspost/compress, SpeedFastest by
	// default): the smallest files, about three times s2's CPU to write
	// and four times to read.
	CodecZstd Codec = 2
	// CodecS2 is one s2 stream (klauspost/compress's framed format,
	// blocks of at most 1 MiB, each with a CRC): the default.
	CodecS2 Codec = 3
)

// ParseCodec reads a codec's name: "s2", "zstd" or "none".
func ParseCodec(name string) (Codec, error) {
	for _, c := range []Codec{CodecNone, CodecZstd, CodecS2} {
		if c.String() == name {
			return c, nil
		}
	}
	return 0, fmt.Errorf("snapshot: unknown codec %q (s2, zstd or none)", name)
}

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecZstd:
		return "zstd"
	case CodecS2:
		return "s2"
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

func (c Codec) valid() bool { return c >= CodecNone && c <= CodecS2 }

// Meta describes one snapshot.
//
// Invariant (checked by every reader): StartZxid <= EndZxid when the end
// is known (Version >= Version2).
type Meta struct {
	// Version is the format version of the stream: Version for one just
	// written (Version2 for zstd); Version1 for an old one, whose EndZxid
	// is unknown.
	Version int
	// Codec is how the body is stored (CodecZstd before version 3).
	Codec Codec
	// StartZxid is the tree's LastZxid when the walk began: replaying the
	// log from StartZxid+1 over the restored tree makes it exact.
	StartZxid log.Zxid
	// EndZxid is the tree's LastZxid when the walk ended (when it copied
	// its last chunk): a fuzzy snapshot may hold txns applied during the
	// walk, and every one of them is <= EndZxid. Zero in a version 1
	// snapshot, which does not record it (unknown, not "zxid 0"), and from
	// ReadHeader (it is in the trailer; ReadMeta reads both). See
	// UsableFor.
	EndZxid log.Zxid
	// Time is when the walk began (millisecond precision).
	Time time.Time
	// Nodes and Sessions count what the snapshot holds; known once the
	// whole stream is written or read (zero from ReadHeader and ReadMeta).
	Nodes    int64
	Sessions int64
	// RawBytes is the size of the decompressed body, checksum included.
	RawBytes int64
	// Bytes is the size of the whole stream as stored (header, compressed
	// body and trailer).
	Bytes int64
}

// EndKnown reports whether the snapshot records where its walk ended
// (version 2 on).
func (m Meta) EndKnown() bool { return m.Version >= Version2 }

// UsableFor reports whether the snapshot can stand for the state at zxid
// z: restored, then replayed with the log's txns in (StartZxid, z], it is
// exactly the tree the server had at z. That holds if and only if every
// txn the snapshot may hold is <= z: StartZxid <= z and EndZxid <= z. A
// snapshot whose walk began at or before z but ended after it (start <= z
// < end) straddles z: it may hold txns above z, and no replay takes them
// out again.
//
// A version 1 snapshot does not know its end, which may be anywhere at or
// after its start, so it is never provably usable for a zxid: UsableFor is
// false for it, whatever z. Every cut of the log (--repair, TRUNC) and
// every replay to a zxid must use this rule. Plain recovery need not: it
// replays the whole log after StartZxid, which holds every txn a snapshot
// can hold (a txn is applied, and so can be walked, only once it is
// durable in the log) as long as the log was not cut after the snapshot
// was taken; there a version 1 snapshot serves as it always did.
func (m Meta) UsableFor(z log.Zxid) bool {
	return m.EndKnown() && m.StartZxid <= z && m.EndZxid <= z
}

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("snapshot: corrupt")

// CorruptError says where a snapshot stream is damaged: in the header or
// the trailer (Offset is a file offset) or in the body (Offset is an
// offset in the decompressed body, since compressed offsets are not
// precise).
type CorruptError struct {
	InHeader  bool
	InTrailer bool
	Offset    int64
	Reason    string
	Err       error // the underlying cause, if any (e.g. a zstd error)
}

func (e *CorruptError) Error() string {
	where := "body (decompressed) offset"
	switch {
	case e.InHeader:
		where = "header offset"
	case e.InTrailer:
		where = "trailer, file offset"
	}
	s := fmt.Sprintf("snapshot: corrupt at %s %d: %s", where, e.Offset, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func (e *CorruptError) Unwrap() error { return e.Err }

// appendHeader encodes a header of the given version.
func appendHeader(dst []byte, version uint32, start log.Zxid, timeMs int64) []byte {
	dst = append(dst, Magic...)
	dst = binary.BigEndian.AppendUint32(dst, version)
	dst = binary.BigEndian.AppendUint64(dst, uint64(start))
	dst = binary.BigEndian.AppendUint64(dst, uint64(timeMs))
	return binary.BigEndian.AppendUint64(dst, xxhash.Sum64(dst[len(dst)-24:]))
}

// decodeHeader checks and decodes a header of HeaderBytes bytes, of any
// version this package reads.
func decodeHeader(b []byte) (Meta, error) {
	if string(b[:4]) != Magic {
		return Meta{}, &CorruptError{InHeader: true, Offset: 0, Reason: fmt.Sprintf("bad magic %q", b[:4])}
	}
	if sum := binary.BigEndian.Uint64(b[24:32]); sum != xxhash.Sum64(b[:24]) {
		return Meta{}, &CorruptError{InHeader: true, Offset: 24, Reason: fmt.Sprintf("header checksum %#016x does not match", sum)}
	}
	v := binary.BigEndian.Uint32(b[4:8])
	if v < Version1 || v > Version3 {
		return Meta{}, &CorruptError{InHeader: true, Offset: 4, Reason: fmt.Sprintf("unknown version %d", v)}
	}
	m := Meta{
		Version:   int(v),
		StartZxid: log.Zxid(binary.BigEndian.Uint64(b[8:16])),
		Time:      time.UnixMilli(int64(binary.BigEndian.Uint64(b[16:24]))),
	}
	if v < Version3 {
		m.Codec = CodecZstd // from version 3 on, the codec byte says
	}
	return m, nil
}

// appendTrailer encodes the trailer that follows the body of a snapshot
// whose header is hdr: the end zxid and a checksum of the header and the
// end zxid, which ties the trailer to its header.
func appendTrailer(dst, hdr []byte, end log.Zxid) []byte {
	at := len(dst)
	dst = binary.BigEndian.AppendUint64(dst, uint64(end))
	return binary.BigEndian.AppendUint64(dst, trailerSum(hdr, dst[at:at+8]))
}

func trailerSum(hdr, end []byte) uint64 {
	h := xxhash.New()
	h.Write(hdr)
	h.Write(end)
	return h.Sum64()
}

// decodeTrailer checks the TrailerBytes bytes b found at file offset at
// after the body of a snapshot whose header is hdr (decoded as m), and
// sets m.EndZxid.
func decodeTrailer(b, hdr []byte, at int64, m *Meta) error {
	if sum := binary.BigEndian.Uint64(b[8:16]); sum != trailerSum(hdr, b[:8]) {
		return &CorruptError{InTrailer: true, Offset: at + 8, Reason: fmt.Sprintf("trailer checksum %#016x does not match", sum)}
	}
	end := log.Zxid(binary.BigEndian.Uint64(b[:8]))
	if end < m.StartZxid {
		return &CorruptError{InTrailer: true, Offset: at, Reason: fmt.Sprintf("end zxid %v is before start zxid %v", end, m.StartZxid)}
	}
	m.EndZxid = end
	return nil
}
