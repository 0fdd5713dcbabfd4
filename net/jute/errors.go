package jute

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error this package returns matches exactly one of
// them with errors.Is; decoding errors are *DecodeError values that say
// which record and primitive failed and at which byte offset of the frame
// (offsets count from the first byte after the 4-byte length prefix).
var (
	// ErrMalformed: the bytes do not form the expected record (truncated,
	// a negative or impossible length, an op that does not belong where it
	// appears).
	ErrMalformed = errors.New("jute: malformed input")
	// ErrTooLarge: a frame's length prefix is negative or above the limit,
	// or a multi carries more than MaxMultiOps ops.
	ErrTooLarge = errors.New("jute: too large")
	// ErrUnknownOp: a RequestHeader names an op this codec does not decode.
	ErrUnknownOp = errors.New("jute: unknown op")
)

// DecodeError describes one decoding failure. Err is one of the package
// sentinels; Unwrap exposes it to errors.Is.
type DecodeError struct {
	Record string // the jute record being decoded ("CreateRequest"), may be empty
	What   string // the primitive or field that failed ("ustring", "MultiHeader.type")
	Offset int    // byte offset in the frame where What starts
	Detail string // human-readable specifics ("length 9 exceeds 3 remaining bytes")
	Err    error  // ErrMalformed, ErrTooLarge or ErrUnknownOp
}

func (e *DecodeError) Error() string {
	rec := ""
	if e.Record != "" {
		rec = e.Record + ": "
	}
	if e.Detail == "" {
		return fmt.Sprintf("%v: %s%s at offset %d", e.Err, rec, e.What, e.Offset)
	}
	return fmt.Sprintf("%v: %s%s at offset %d: %s", e.Err, rec, e.What, e.Offset, e.Detail)
}

func (e *DecodeError) Unwrap() error { return e.Err }
