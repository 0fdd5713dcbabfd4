package log

import "fmt"

// Zxid is a ZooKeeper transaction id: the leader's epoch in the high 32
// bits and a counter within the epoch in the low 32 bits. Zero means "no
// transaction"; every Record in a log has a non-zero Zxid.
type Zxid uint64

// MakeZxid builds a Zxid from an epoch and a counter.
func MakeZxid(epoch, counter uint32) Zxid { return Zxid(uint64(epoch)<<32 | uint64(counter)) }

// Epoch returns the high 32 bits.
func (z Zxid) Epoch() uint32 { return uint32(z >> 32) }

// Counter returns the low 32 bits.
func (z Zxid) Counter() uint32 { return uint32(z) }

// String formats z as ZooKeeper does in logs and file names: 0x100000003.
func (z Zxid) String() string { return fmt.Sprintf("0x%x", uint64(z)) }

// Record is one log entry: opaque bytes keyed by a Zxid. The log does not
// look inside Data.
type Record struct {
	Zxid Zxid
	Data []byte
}
