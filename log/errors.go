package log

import (
	"errors"
	"fmt"
	"syscall"
)

var (
	// ErrCorrupt matches every *CorruptionError.
	ErrCorrupt = errors.New("log: corrupt record")
	// ErrSyncFailed matches the sticky error of a log whose write path
	// (write, fsync, segment roll, truncation) failed. The durable state is
	// unknown past the last successful Sync; the log refuses all further
	// writes until it is reopened (which re-verifies the files).
	ErrSyncFailed = errors.New("log: sync failed")
	// ErrNoSpace matches the error of an Append or Sync that found the
	// disk full (it wraps syscall.ENOSPC). Unlike ErrSyncFailed it is not
	// sticky: the log was put back where the last successful Sync left it,
	// and writes may be retried once space is freed.
	ErrNoSpace error = noSpace{}
	// ErrOutOfOrder is returned by Append for a zxid that is not greater
	// than the last one appended.
	ErrOutOfOrder = errors.New("log: zxid not increasing")
	// ErrRecordTooLarge is returned by Append for Data longer than
	// MaxRecordBytes.
	ErrRecordTooLarge = errors.New("log: record too large")
	// ErrUnsupportedVersion is returned by Open for a segment written in a
	// format version this build does not read.
	ErrUnsupportedVersion = errors.New("log: unsupported segment format version")
	// ErrReadOnly is returned by write methods of a log opened ReadOnly.
	ErrReadOnly = errors.New("log: opened read-only")
	// ErrClosed is returned by methods of a closed log.
	ErrClosed = errors.New("log: closed")
)

// CorruptionError reports damage inside the log that is not a torn tail: a
// bad record followed by valid data, a bad segment header, or a damaged
// record in a segment that is not the last. The log refuses to open.
type CorruptionError struct {
	Segment string // file name (base) of the segment
	Offset  int64  // byte offset in the segment of the first bad byte range
	// Zxid is the zxid of the last valid record before Offset (in this or
	// an earlier segment), 0 if none: everything up to it is intact.
	Zxid   Zxid
	Reason string
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("log: corrupt segment %s at offset %d (after zxid %v): %s",
		e.Segment, e.Offset, e.Zxid, e.Reason)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptionError) Is(target error) bool { return target == ErrCorrupt }

// noSpace is ErrNoSpace: "log: disk full", unwrapping to syscall.ENOSPC.
type noSpace struct{}

func (noSpace) Error() string { return "log: disk full" }
func (noSpace) Unwrap() error { return syscall.ENOSPC }
