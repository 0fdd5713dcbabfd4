package jute

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"zabd/tree"
)

// Minimum encoded sizes of vector elements. A vector count is rejected when
// count*min exceeds the bytes left, so a count can never make the decoder
// allocate more than a small multiple of the input it was given.
const (
	minStringBytes = 4                       // ustring: int length
	minACLBytes    = 4 + 4 + 4               // perms + scheme length + id length
	statBytes      = 8*4 + 4*3 + 8 + 4*2 + 8 // 68, data.Stat
)

// Decoder reads jute primitives from one in-memory frame, big-endian, the
// way BinaryInputArchive does. It never panics and never reads past its
// slice: every length is checked against the bytes remaining before anything
// is allocated. The first failure is sticky: later reads return zero values
// and Err reports the first error.
//
// Decoded []byte and string values are copies; the input slice may be reused
// as soon as decoding is done.
//
// A Decoder is owned by one goroutine.
type Decoder struct {
	b   []byte
	off int
	err error
	rec string // record being decoded, for error messages
}

// NewDecoder returns a Decoder reading b from offset 0.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// Err returns the first error met, or nil.
func (d *Decoder) Err() error { return d.err }

// Remaining returns the number of bytes not yet consumed (0 after an error).
func (d *Decoder) Remaining() int {
	if d.err != nil {
		return 0
	}
	return len(d.b) - d.off
}

// Offset returns the offset of the next byte to be read.
func (d *Decoder) Offset() int { return d.off }

// record sets the record name used in error messages.
func (d *Decoder) record(name string) { d.rec = name }

func (d *Decoder) fail(sentinel error, what, detail string) {
	if d.err == nil {
		d.err = &DecodeError{Record: d.rec, What: what, Offset: d.off, Detail: detail, Err: sentinel}
	}
}

// take returns the next n bytes (n >= 0) without copying, or nil after
// recording an error.
func (d *Decoder) take(n int, what string) []byte {
	if d.err != nil {
		return nil
	}
	if rem := len(d.b) - d.off; n > rem {
		d.fail(ErrMalformed, what, fmt.Sprintf("need %d bytes, %d remaining", n, rem))
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

// Int reads a jute int (4 bytes, big-endian, signed).
func (d *Decoder) Int() int32 {
	p := d.take(4, "int")
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

// Long reads a jute long (8 bytes, big-endian, signed).
func (d *Decoder) Long() int64 {
	p := d.take(8, "long")
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

// Bool reads a jute boolean: one byte, non-zero is true (DataInput.readBoolean).
func (d *Decoder) Bool() bool {
	p := d.take(1, "boolean")
	if p == nil {
		return false
	}
	return p[0] != 0
}

// length reads an int length prefix for a buffer or ustring. It returns -1
// for null and -2 after an error.
func (d *Decoder) length(what string) int {
	start := d.off
	n := d.Int()
	if d.err != nil {
		return -2
	}
	if n == -1 {
		return -1
	}
	if n < 0 {
		d.off = start
		d.fail(ErrMalformed, what, fmt.Sprintf("negative length %d", n))
		return -2
	}
	if rem := len(d.b) - d.off; int(n) > rem {
		d.off = start
		d.fail(ErrMalformed, what, fmt.Sprintf("length %d exceeds %d remaining bytes", n, rem))
		return -2
	}
	return int(n)
}

// Buffer reads a jute buffer: an int length then that many bytes. Length -1
// is null and yields nil; length 0 yields a non-nil empty slice, so the
// null/empty distinction survives a round trip (ZooKeeper keeps it: a znode
// created with null data reads back as null). The result is a copy.
func (d *Decoder) Buffer() []byte {
	n := d.length("buffer")
	if n < 0 {
		return nil
	}
	p := d.take(n, "buffer")
	out := make([]byte, n)
	copy(out, p)
	return out
}

// StringAndBuffer reads a ustring then a buffer (String, then Buffer)
// into one allocation, the buffer's bytes right behind the string's, as
// a create's path and data come: the tree keeps a znode's path and value
// in one such allocation (it checks that they touch), so they are not
// copied again, and the request costs one object instead of two. A null
// buffer reads as nil, an empty one as empty, as Buffer reads them.
func (d *Decoder) StringAndBuffer() (string, []byte) {
	n := d.length("ustring")
	if n < 0 {
		return "", d.Buffer()
	}
	s := d.take(n, "ustring")
	m := d.length("buffer")
	if m <= 0 {
		if m == 0 {
			return string(s), []byte{}
		}
		return string(s), nil
	}
	b := d.take(m, "buffer")
	if d.err != nil {
		return "", nil
	}
	joined := make([]byte, n+m)
	copy(joined, s)
	copy(joined[n:], b)
	return unsafe.String(unsafe.SliceData(joined), n), joined[n : n+m : n+m]
}

// String reads a jute ustring: an int length then UTF-8 bytes. Null (-1)
// reads as "". Invalid UTF-8 is passed through unchanged (Java would
// substitute U+FFFD; a Go string keeps the bytes).
//
// NB: this method has the fmt.Stringer signature but consumes input;
// never hand a Decoder to fmt.
func (d *Decoder) String() string {
	n := d.length("ustring")
	if n < 0 {
		return ""
	}
	return string(d.take(n, "ustring"))
}

// aclString is String for an ACL's scheme or id: the common words are
// returned as constants, so the world:anyone ACL that comes with nearly
// every create costs no string.
func (d *Decoder) aclString() string {
	n := d.length("ustring")
	if n < 0 {
		return ""
	}
	b := d.take(n, "ustring")
	switch {
	case string(b) == "world":
		return "world"
	case string(b) == "anyone":
		return "anyone"
	case string(b) == "auth":
		return "auth"
	case string(b) == "digest":
		return "digest"
	case string(b) == "ip":
		return "ip"
	}
	return string(b)
}

// count reads a vector count. -1 is null and returns -1; any other negative
// count reads as empty (0), as BinaryInputArchive's index treats it; a count
// that cannot fit in the remaining bytes at minElem bytes per element is an
// error (returns -2).
func (d *Decoder) count(what string, minElem int) int {
	start := d.off
	n := d.Int()
	if d.err != nil {
		return -2
	}
	if n == -1 {
		return -1
	}
	if n < 0 {
		return 0
	}
	if rem := len(d.b) - d.off; int64(n)*int64(minElem) > int64(rem) {
		d.off = start
		d.fail(ErrMalformed, what, fmt.Sprintf("count %d cannot fit in %d remaining bytes", n, rem))
		return -2
	}
	return int(n)
}

// Strings reads a vector<ustring>. Null (-1) yields nil; a zero count yields
// a non-nil empty slice.
func (d *Decoder) Strings() []string {
	n := d.count("vector<ustring>", minStringBytes)
	if n < 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.String()
		if d.err != nil {
			return nil
		}
	}
	return out
}

// ACLs reads a vector<data.ACL> (perms int, then Id{scheme, id}). Null (-1)
// yields nil; a zero count yields a non-nil empty slice.
//
// The list nearly every create brings, world:anyone with every
// permission (ZooKeeper's OPEN_ACL_UNSAFE), is returned as one shared
// slice: callers must not change a decoded list in place (the tree never
// does: its ACL lists are immutable).
func (d *Decoder) ACLs() []tree.ACL {
	n := d.count("vector<ACL>", minACLBytes)
	if n < 0 {
		return nil
	}
	var first tree.ACL
	if n > 0 {
		first = d.acl()
		if d.err != nil {
			return nil
		}
		if n == 1 && first == openACL[0] {
			return openACL
		}
	}
	out := make([]tree.ACL, n)
	if n > 0 {
		out[0] = first
	}
	for i := 1; i < n; i++ {
		if out[i] = d.acl(); d.err != nil {
			return nil
		}
	}
	return out
}

// openACL is world:anyone with every permission; len == cap, so an append
// to it copies.
var openACL = []tree.ACL{{Perms: tree.PermAll, ID: tree.Id{Scheme: "world", ID: "anyone"}}}[:1:1]

// acl reads one data.ACL.
func (d *Decoder) acl() tree.ACL {
	var a tree.ACL
	a.Perms = d.Int()
	a.ID.Scheme = d.aclString()
	a.ID.ID = d.aclString()
	return a
}

// Stat reads a data.Stat (68 bytes, fields in tree.Stat order).
func (d *Decoder) Stat() tree.Stat {
	p := d.take(statBytes, "Stat")
	if p == nil {
		return tree.Stat{}
	}
	be := binary.BigEndian
	return tree.Stat{
		Czxid:          int64(be.Uint64(p[0:])),
		Mzxid:          int64(be.Uint64(p[8:])),
		Ctime:          int64(be.Uint64(p[16:])),
		Mtime:          int64(be.Uint64(p[24:])),
		Version:        int32(be.Uint32(p[32:])),
		Cversion:       int32(be.Uint32(p[36:])),
		Aversion:       int32(be.Uint32(p[40:])),
		EphemeralOwner: int64(be.Uint64(p[44:])),
		DataLength:     int32(be.Uint32(p[52:])),
		NumChildren:    int32(be.Uint32(p[56:])),
		Pzxid:          int64(be.Uint64(p[60:])),
	}
}
