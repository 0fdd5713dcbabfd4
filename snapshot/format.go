package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"

	"zabd/log"
)

// Format constants. Frozen for version 1 (see the package doc).
const (
	Magic   = "ZBDS"
	Version = 1
	// HeaderBytes is the size of the uncompressed header.
	HeaderBytes = 32
	// MaxFieldBytes bounds every length a reader accepts (path, data,
	// scheme, id): no txn can carry more (log.MaxRecordBytes).
	MaxFieldBytes = log.MaxRecordBytes

	tagSession = 1
	tagNode    = 2
	tagEnd     = 3
)

// Meta describes one snapshot.
type Meta struct {
	// StartZxid is the tree's LastZxid when the walk began: replaying the
	// log from StartZxid+1 over the restored tree makes it exact.
	StartZxid log.Zxid
	// Time is when the walk began (millisecond precision).
	Time time.Time
	// Nodes and Sessions count what the snapshot holds; known once the
	// whole stream is written or read (zero from ReadHeader).
	Nodes    int64
	Sessions int64
	// RawBytes is the size of the decompressed body, checksum included.
	RawBytes int64
	// Bytes is the size of the whole stream as stored (header and
	// compressed body).
	Bytes int64
}

// ErrCorrupt is matched (errors.Is) by every *CorruptError.
var ErrCorrupt = errors.New("snapshot: corrupt")

// CorruptError says where a snapshot stream is damaged: in the header
// (Offset is a file offset) or in the body (Offset is an offset in the
// decompressed body, since compressed offsets are not precise).
type CorruptError struct {
	InHeader bool
	Offset   int64
	Reason   string
	Err      error // the underlying cause, if any (e.g. a zstd error)
}

func (e *CorruptError) Error() string {
	where := "body (decompressed) offset"
	if e.InHeader {
		where = "header offset"
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

// appendHeader encodes a header.
func appendHeader(dst []byte, start log.Zxid, timeMs int64) []byte {
	dst = append(dst, Magic...)
	dst = binary.BigEndian.AppendUint32(dst, Version)
	dst = binary.BigEndian.AppendUint64(dst, uint64(start))
	dst = binary.BigEndian.AppendUint64(dst, uint64(timeMs))
	return binary.BigEndian.AppendUint64(dst, xxhash.Sum64(dst[len(dst)-24:]))
}

// decodeHeader checks and decodes a header of HeaderBytes bytes.
func decodeHeader(b []byte) (Meta, error) {
	if string(b[:4]) != Magic {
		return Meta{}, &CorruptError{InHeader: true, Offset: 0, Reason: fmt.Sprintf("bad magic %q", b[:4])}
	}
	if sum := binary.BigEndian.Uint64(b[24:32]); sum != xxhash.Sum64(b[:24]) {
		return Meta{}, &CorruptError{InHeader: true, Offset: 24, Reason: fmt.Sprintf("header checksum %#016x does not match", sum)}
	}
	if v := binary.BigEndian.Uint32(b[4:8]); v != Version {
		return Meta{}, &CorruptError{InHeader: true, Offset: 4, Reason: fmt.Sprintf("unknown version %d", v)}
	}
	return Meta{
		StartZxid: log.Zxid(binary.BigEndian.Uint64(b[8:16])),
		Time:      time.UnixMilli(int64(binary.BigEndian.Uint64(b[16:24]))),
	}, nil
}
