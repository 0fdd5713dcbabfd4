package tree

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unsafe"
)

// TxnFormatV1 is the first byte of every encoded txn. The layout below is
// frozen once written to a log; a new layout gets a new version byte and
// DecodeTxn keeps reading the old ones.
//
// Format v1 (varint = zig-zag LEB128 as encoding/binary.AppendVarint,
// uvarint = LEB128; str = uvarint length + bytes; buf = uvarint (length+1)
// + bytes, 0 meaning nil; acl = uvarint count, then per entry varint perms,
// str scheme, str id):
//
//	+------+----------+-------------+----------+----------+----------+------+
//	| 0x01 | type vi  | session vi  | cxid vi  | zxid vi  | time vi  | body |
//	+------+----------+-------------+----------+----------+----------+------+
//
// body by type:
//
//	create, create2, createContainer, createTTL:
//	        str path | buf data | acl | u8 kind | varint ttl | varint parentCversion
//	delete, deleteContainer:      str path
//	setData, reconfig:            str path | buf data | varint version
//	setACL:                       str path | acl | varint version
//	check:                        str path | varint version
//	createSession:                varint timeout
//	closeSession:                 (empty)
//	error:                        varint code
//	multi:                        uvarint n | n × (varint type | body)
//
// A multi's sub-txns are create*, delete*, setData, check or error only
// (no nesting). Varints must be minimal (one encoding per txn). Nothing may
// follow the body.
//
// Format v2 (first byte 0x02) is v1 plus what an audit of the log needs;
// AppendTxn writes it only for a txn that carries some of it, so every
// other txn stays byte for byte v1:
//
//	create, create2, createContainer, createTTL:
//	        v1 body | u8 flags (bit 0: the request asked for a sequential name)
//	createSession:                varint timeout | str client (host:port)
//	error (not inside a multi):   varint code | varint request type | str path |
//	                              varint create mode | acl (setACL's)
//	auth:                         uvarint n | n × (str scheme | str id)
//
// In a v2 multi every create sub-txn has the flags byte.
const (
	TxnFormatV1 byte = 1
	TxnFormatV2 byte = 2
)

// ErrCorruptTxn is matched (errors.Is) by every DecodeTxn failure.
var ErrCorruptTxn = errors.New("tree: corrupt txn")

// TxnDecodeError says where and why decoding failed.
type TxnDecodeError struct {
	Offset int // byte offset in the input where decoding failed
	Reason string
}

func (e *TxnDecodeError) Error() string {
	return fmt.Sprintf("tree: corrupt txn at offset %d: %s", e.Offset, e.Reason)
}

func (e *TxnDecodeError) Is(target error) bool { return target == ErrCorruptTxn }

// AppendTxn appends the encoding of txn to dst. It panics if txn is not
// encodable (unknown type, nested multi): those are programming errors.
func AppendTxn(dst []byte, txn Txn) []byte {
	if dst == nil {
		// One allocation for the common single-node txn: header varints,
		// path, data, a few ACL entries and trailing fields.
		dst = make([]byte, 0, 64+len(txn.Path)+len(txn.Data)+24*len(txn.ACL))
	}
	v := TxnFormatV1
	if needsV2(&txn) {
		v = TxnFormatV2
	}
	dst = append(dst, v)
	dst = binary.AppendVarint(dst, int64(txn.Type))
	dst = binary.AppendVarint(dst, txn.Session)
	dst = binary.AppendVarint(dst, int64(txn.Cxid))
	dst = binary.AppendVarint(dst, txn.Zxid)
	dst = binary.AppendVarint(dst, txn.Time)
	return appendBody(dst, &txn, v, false)
}

// needsV2 reports whether txn carries something format v1 cannot hold.
func needsV2(t *Txn) bool {
	switch t.Type {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
		return t.Sequential
	case OpCreateSession:
		return t.Client != ""
	case OpError:
		return t.FailedOp != 0 || t.Path != "" || t.FailedMode != 0 || len(t.ACL) > 0
	case OpAuth:
		return true
	case OpMulti:
		for i := range t.Txns {
			if t.Txns[i].Sequential {
				return true
			}
		}
	}
	return false
}

func appendBody(dst []byte, t *Txn, v byte, sub bool) []byte {
	switch t.Type {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
		dst = appendStr(dst, t.Path)
		dst = appendBuf(dst, t.Data)
		dst = appendACL(dst, t.ACL)
		dst = append(dst, byte(t.Kind))
		dst = binary.AppendVarint(dst, t.TTL)
		dst = binary.AppendVarint(dst, int64(t.ParentCversion))
		if v == TxnFormatV2 {
			var flags byte
			if t.Sequential {
				flags |= 1
			}
			dst = append(dst, flags)
		}
		return dst
	case OpDelete, OpDeleteContainer:
		return appendStr(dst, t.Path)
	case OpSetData, OpReconfig:
		dst = appendStr(dst, t.Path)
		dst = appendBuf(dst, t.Data)
		return binary.AppendVarint(dst, int64(t.Version))
	case OpSetACL:
		dst = appendStr(dst, t.Path)
		dst = appendACL(dst, t.ACL)
		return binary.AppendVarint(dst, int64(t.Version))
	case OpCheck:
		dst = appendStr(dst, t.Path)
		return binary.AppendVarint(dst, int64(t.Version))
	case OpCreateSession:
		dst = binary.AppendVarint(dst, int64(t.Timeout))
		if v == TxnFormatV2 {
			dst = appendStr(dst, t.Client)
		}
		return dst
	case OpSessionSecret:
		return appendBuf(dst, t.Data)
	case OpCloseSession:
		return dst
	case OpError:
		dst = binary.AppendVarint(dst, int64(t.Err))
		if v == TxnFormatV2 && !sub {
			dst = binary.AppendVarint(dst, int64(t.FailedOp))
			dst = appendStr(dst, t.Path)
			dst = binary.AppendVarint(dst, int64(t.FailedMode))
			dst = appendACL(dst, t.ACL)
		}
		return dst
	case OpAuth:
		if sub {
			panic("tree: auth txn inside a multi")
		}
		dst = binary.AppendUvarint(dst, uint64(len(t.Ids)))
		for _, id := range t.Ids {
			dst = appendStr(dst, id.Scheme)
			dst = appendStr(dst, id.ID)
		}
		return dst
	case OpMulti:
		if sub {
			panic("tree: nested multi txn")
		}
		dst = binary.AppendUvarint(dst, uint64(len(t.Txns)))
		for i := range t.Txns {
			s := &t.Txns[i]
			if !subTxnType(s.Type) {
				panic(fmt.Sprintf("tree: %v txn inside a multi", s.Type))
			}
			dst = binary.AppendVarint(dst, int64(s.Type))
			dst = appendBody(dst, s, v, true)
		}
		return dst
	}
	panic(fmt.Sprintf("tree: cannot encode txn type %v", t.Type))
}

func subTxnType(op Op) bool {
	switch op {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL, OpDelete,
		OpDeleteContainer, OpSetData, OpCheck, OpError:
		return true
	}
	return false
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendBuf(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

func appendACL(dst []byte, acl []ACL) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(acl)))
	for _, a := range acl {
		dst = binary.AppendVarint(dst, int64(a.Perms))
		dst = appendStr(dst, a.ID.Scheme)
		dst = appendStr(dst, a.ID.ID)
	}
	return dst
}

// DecodeTxn decodes one txn encoded by AppendTxn. It never panics; every
// length is checked against the remaining input before allocating, and any
// malformed input yields a *TxnDecodeError matching ErrCorruptTxn. The
// returned txn does not alias b except for Data, which does (copy b if it
// will be reused).
func DecodeTxn(b []byte) (Txn, error) {
	d := decoder{b: b}
	var t Txn
	if d.v = d.byte("version"); d.err == nil && d.v != TxnFormatV1 && d.v != TxnFormatV2 {
		d.fail(0, fmt.Sprintf("unknown format version %d", d.v))
	}
	t.Type = d.op()
	t.Session = d.varint("session")
	t.Cxid = d.int32("cxid")
	t.Zxid = d.varint("zxid")
	t.Time = d.varint("time")
	d.body(&t, false)
	if d.err == nil && d.off != len(d.b) {
		d.fail(d.off, fmt.Sprintf("%d trailing bytes", len(d.b)-d.off))
	}
	if d.err == nil && d.v == TxnFormatV2 && !needsV2(&t) {
		// One encoding per txn: v2 only for what v1 cannot hold.
		d.fail(0, fmt.Sprintf("format v2 for a %v txn that v1 holds", t.Type))
	}
	if d.err != nil {
		return Txn{}, d.err
	}
	return t, nil
}

type decoder struct {
	b   []byte
	v   byte // the format version
	off int
	err error
}

func (d *decoder) fail(off int, reason string) {
	if d.err == nil {
		d.err = &TxnDecodeError{Offset: off, Reason: reason}
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil {
		return 0
	}
	if d.off >= len(d.b) {
		d.fail(d.off, "truncated "+what)
		return 0
	}
	c := d.b[d.off]
	d.off++
	return c
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 || (n > 1 && d.b[d.off+n-1] == 0) {
		d.fail(d.off, "bad varint "+what)
		return 0
	}
	d.off += n
	return v
}

// uvarint reads a uvarint; what and then suffix name it in an error
// (joined only then: a string built on every call would cost an
// allocation per field decoded).
func (d *decoder) uvarint(what, suffix string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 || (n > 1 && d.b[d.off+n-1] == 0) { // overflow or not minimal
		d.fail(d.off, "bad uvarint "+what+suffix)
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) int32(what string) int32 {
	start := d.off
	v := d.varint(what)
	if d.err == nil && int64(int32(v)) != v {
		d.fail(start, what+" out of int32 range")
	}
	return int32(v)
}

func (d *decoder) op() Op {
	start := d.off
	v := d.int32("type")
	if d.err == nil {
		if _, ok := opNames[Op(v)]; !ok {
			d.fail(start, fmt.Sprintf("unknown txn type %d", v))
		}
	}
	return Op(v)
}

// count reads a length and checks that at least n*minSize bytes remain;
// what and suffix name it as uvarint's do.
func (d *decoder) count(what, suffix string, minSize int) int {
	start := d.off
	v := d.uvarint(what, suffix)
	if d.err == nil && v > uint64(len(d.b)-d.off)/uint64(minSize) {
		d.fail(start, fmt.Sprintf("%s%s %d exceeds the remaining %d bytes", what, suffix, v, len(d.b)-d.off))
		return 0
	}
	return int(v)
}

func (d *decoder) str(what string) string {
	n := d.count(what, " length", 1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s
}

// pathAndData reads a create's path and data into one allocation, the
// data right behind the path, as the tree keeps a znode's (packPathData):
// applying the txn then copies neither again. Data that is empty or nil
// is returned as buf returns it.
func (d *decoder) pathAndData() (string, []byte) {
	n := d.count("path", " length", 1)
	if d.err != nil {
		return "", nil
	}
	path := d.b[d.off : d.off+n]
	d.off += n
	data := d.buf("data")
	if d.err != nil {
		return "", nil
	}
	switch {
	case len(data) == 0:
		return string(path), data
	case len(path) == 0:
		return "", slices.Clip(slices.Clone(data)) // never logged: prep refuses an empty path
	}
	// Both still point into the record: packPathData copies them, since
	// the data's length sits between them there.
	return packPathData(unsafe.String(unsafe.SliceData(path), len(path)), data)
}

// common are strings an ACL holds often, returned without allocating.
var common = []string{SchemeWorld, "anyone", SchemeDigest, SchemeIP, "auth", "x509", "sasl", "super"}

// internStr is str for strings that repeat (ACL schemes and ids).
func (d *decoder) internStr(what string) string {
	start := d.off
	n := d.count(what, " length", 1)
	if d.err != nil {
		return ""
	}
	b := d.b[d.off : d.off+n]
	for _, c := range common {
		if string(b) == c {
			d.off += n
			return c
		}
	}
	d.off = start
	return d.str(what)
}

func (d *decoder) buf(what string) []byte {
	start := d.off
	v := d.uvarint(what, " length")
	if d.err != nil || v == 0 {
		return nil
	}
	n := v - 1
	if n > uint64(len(d.b)-d.off) {
		d.fail(start, fmt.Sprintf("%s length %d exceeds the remaining %d bytes", what, n, len(d.b)-d.off))
		return nil
	}
	out := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return out
}

// openACLBytes is OpenACLUnsafe as acl() reads it.
var openACLBytes = appendACL(nil, OpenACLUnsafe)

// decodedOpenACL is what every decoded OpenACLUnsafe shares: most znodes
// have it, and a shared slice is one allocation fewer per txn (and, in a
// tree rebuilt by replay, per znode). Nothing mutates a txn's or a node's
// ACL in place (setACL replaces the slice), so sharing is safe.
var decodedOpenACL = []ACL{{Perms: PermAll, ID: AnyoneID}}

func (d *decoder) acl() []ACL {
	if d.err == nil && len(d.b)-d.off >= len(openACLBytes) && string(d.b[d.off:d.off+len(openACLBytes)]) == string(openACLBytes) {
		d.off += len(openACLBytes)
		return decodedOpenACL[:1:1]
	}
	n := d.count("acl count", "", 3)
	if d.err != nil {
		return nil
	}
	out := make([]ACL, 0, n)
	for range n {
		perms := d.int32("acl perms")
		scheme := d.internStr("acl scheme")
		id := d.internStr("acl id")
		if d.err != nil {
			return nil
		}
		out = append(out, ACL{Perms: perms, ID: Id{Scheme: scheme, ID: id}})
	}
	return out
}

func (d *decoder) body(t *Txn, sub bool) {
	if d.err != nil {
		return
	}
	switch t.Type {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
		t.Path, t.Data = d.pathAndData()
		t.ACL = d.acl()
		start := d.off
		t.Kind = NodeKind(d.byte("kind"))
		if d.err == nil && !t.Kind.valid() {
			d.fail(start, fmt.Sprintf("invalid node kind %d", t.Kind))
		}
		t.TTL = d.varint("ttl")
		t.ParentCversion = d.int32("parent cversion")
		if d.v == TxnFormatV2 {
			start := d.off
			flags := d.byte("create flags")
			if d.err == nil && flags&^1 != 0 {
				d.fail(start, fmt.Sprintf("unknown create flags %#x", flags))
			}
			t.Sequential = flags&1 != 0
		}
	case OpDelete, OpDeleteContainer:
		t.Path = d.str("path")
	case OpSetData, OpReconfig:
		t.Path = d.str("path")
		t.Data = d.buf("data")
		t.Version = d.int32("version")
	case OpSetACL:
		t.Path = d.str("path")
		t.ACL = d.acl()
		t.Version = d.int32("version")
	case OpCheck:
		t.Path = d.str("path")
		t.Version = d.int32("version")
	case OpCreateSession:
		t.Timeout = d.int32("timeout")
		if d.v == TxnFormatV2 {
			t.Client = d.str("client")
		}
	case OpSessionSecret:
		if sub {
			d.fail(d.off, "sessionSecret inside a multi")
			return
		}
		t.Data = d.buf("secret")
	case OpCloseSession:
	case OpError:
		t.Err = Code(d.int32("error code"))
		if d.v == TxnFormatV2 && !sub {
			start := d.off
			t.FailedOp = Op(d.int32("failed request type"))
			if d.err == nil && !t.FailedOp.IsWrite() && t.FailedOp != OpAuth {
				d.fail(start, fmt.Sprintf("failed request type %v is not a write", t.FailedOp))
			}
			t.Path = d.str("failed request path")
			t.FailedMode = CreateMode(d.int32("failed request create mode"))
			t.ACL = d.acl()
		}
	case OpAuth:
		if sub {
			d.fail(d.off, "auth inside a multi")
			return
		}
		n := d.count("identity count", "", 2)
		if d.err != nil {
			return
		}
		t.Ids = make([]Id, 0, n)
		for range n {
			scheme := d.str("identity scheme")
			id := d.str("identity id")
			if d.err != nil {
				return
			}
			t.Ids = append(t.Ids, Id{Scheme: scheme, ID: id})
		}
	case OpMulti:
		if sub {
			d.fail(d.off, "nested multi")
			return
		}
		n := d.count("multi op count", "", 2)
		if d.err != nil {
			return
		}
		// Decoded in place: a sub-txn of its own, then copied in, would
		// be a heap object per sub-txn (body keeps what it is given).
		t.Txns = make([]Txn, n)
		for i := range t.Txns {
			start := d.off
			s := &t.Txns[i]
			s.Type = d.op()
			if d.err == nil && !subTxnType(s.Type) {
				d.fail(start, fmt.Sprintf("%v txn inside a multi", s.Type))
			}
			d.body(s, true)
			if d.err != nil {
				return
			}
		}
	default:
		d.fail(d.off, fmt.Sprintf("%v is not a txn type", t.Type))
	}
}
