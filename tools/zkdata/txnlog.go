package zkdata

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"path/filepath"
	"slices"

	"zabd/log"
	"zabd/tree"
)

// LogSummary says what ReadLog read of one txn log file.
type LogSummary struct {
	Txns        int
	First, Last log.Zxid
	// Torn: the file ends inside a record (a crash mid-append, which
	// ZooKeeper drops at its next start); TornOffset is where.
	Torn       bool
	TornOffset int64
}

// eor ends every txn log record.
const eor = 'B'

// ReadLog reads a ZooKeeper txn log file (log.<hex zxid>): the file header,
// then records (an Adler32 of the entry, its length, the entry, 'B') up to
// the preallocated zeros, and calls fn with each txn converted to zabd's
// form. A torn last record is reported, not an error; a record whose
// checksum does not match with more records after it is damage.
func ReadLog(name string, r io.Reader, fn func(tree.Txn) error) (LogSummary, error) {
	var s LogSummary
	if _, ok := ParseName(filepath.Base(name), "log"); !ok {
		return s, fmt.Errorf("zkdata: %s is not named as a ZooKeeper txn log (log.<hex zxid>)", name)
	}
	d := newReader(name, r, nil)
	if m := d.int("magic"); d.err == nil && m != logMagic {
		d.fail(fmt.Sprintf("magic %#x is not a txn log's (%#x)", m, logMagic), nil)
	}
	if v := d.int("version"); d.err == nil && v != fileVersion {
		d.fail(fmt.Sprintf("format version %d (only %d exists)", v, fileVersion), nil)
	}
	d.long("dbid")
	if d.err != nil {
		return s, d.err
	}
	for {
		at := d.off
		if d.atEOF() {
			return s, nil
		}
		var hdr [12]byte
		n, err := io.ReadFull(d.r, hdr[:])
		d.off += int64(n)
		if err != nil {
			if n == 0 || bytes.Count(hdr[:n], []byte{0}) == n {
				return s, nil // zeros to the end of the file
			}
			s.Torn, s.TornOffset = true, at
			return s, nil
		}
		crc := binary.BigEndian.Uint64(hdr[:8])
		length := int32(binary.BigEndian.Uint32(hdr[8:]))
		if length == 0 && crc == 0 {
			return s, nil // the preallocated zeros: the log ends here
		}
		if length <= 0 || length > maxField {
			return s, &CorruptError{File: name, Offset: at, Reason: fmt.Sprintf("record length %d", length)}
		}
		entry := d.bytes(int(length)+1, "record")
		err = d.err
		d.err = nil
		if err != nil && !errors.Is(err, ErrCorrupt) {
			return s, err // an I/O error, not the end of the log
		}
		if err != nil || entry[length] != eor {
			// A record cut short at the end of the file.
			if rest, _ := d.r.Peek(1); len(rest) == 0 {
				s.Torn, s.TornOffset = true, at
				return s, nil
			}
			return s, &CorruptError{File: name, Offset: at, Reason: "record does not end in 'B'"}
		}
		entry = entry[:length]
		if uint64(adler32.Checksum(entry)) != crc {
			if rest, _ := d.r.Peek(1); len(rest) == 0 {
				s.Torn, s.TornOffset = true, at
				return s, nil
			}
			return s, &CorruptError{File: name, Offset: at, Reason: "checksum mismatch"}
		}
		txn, err := DecodeTxn(entry)
		if err != nil {
			return s, &CorruptError{File: name, Offset: at, Reason: "txn does not decode", Err: err}
		}
		if s.Txns == 0 {
			s.First = log.Zxid(txn.Zxid)
		}
		s.Txns++
		s.Last = log.Zxid(txn.Zxid)
		if err := fn(txn); err != nil {
			return s, err
		}
	}
}

// bytesReader decodes jute from a byte slice.
type bytesReader struct {
	b   []byte
	off int
	err error
}

func (d *bytesReader) need(n int, what string) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = fmt.Errorf("truncated %s at byte %d", what, d.off)
		return false
	}
	return true
}

func (d *bytesReader) int(what string) int32 {
	if !d.need(4, what) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(d.b[d.off:]))
	d.off += 4
	return v
}

func (d *bytesReader) long(what string) int64 {
	if !d.need(8, what) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(d.b[d.off:]))
	d.off += 8
	return v
}

func (d *bytesReader) bool(what string) bool {
	if !d.need(1, what) {
		return false
	}
	d.off++
	return d.b[d.off-1] != 0
}

func (d *bytesReader) buffer(what string) []byte {
	n := d.int(what + " length")
	if d.err != nil || n == -1 {
		return nil
	}
	if !d.need(int(n), what) {
		return nil
	}
	out := append([]byte{}, d.b[d.off:d.off+int(n)]...)
	d.off += int(n)
	return out
}

func (d *bytesReader) string(what string) string {
	n := d.int(what + " length")
	if d.err != nil || n == -1 {
		return ""
	}
	if !d.need(int(n), what) {
		return ""
	}
	s := string(d.b[d.off : d.off+int(n)])
	d.off += int(n)
	return s
}

func (d *bytesReader) acl() []tree.ACL {
	n := d.int("acl count")
	if d.err != nil || n == -1 {
		return nil
	}
	if n < 0 || int(n) > (len(d.b)-d.off)/12 {
		d.err = fmt.Errorf("acl count %d at byte %d", n, d.off)
		return nil
	}
	out := make([]tree.ACL, 0, n)
	for range n {
		perms := d.int("acl perms")
		scheme := d.string("acl scheme")
		id := d.string("acl id")
		out = append(out, tree.ACL{Perms: perms, ID: tree.Id{Scheme: scheme, ID: id}})
	}
	return out
}

// ZooKeeper's txn types (ZooDefs.OpCode) as a txn log holds them.
const (
	zkCreate          = 1
	zkDelete          = 2
	zkSetData         = 5
	zkSetACL          = 7
	zkCheck           = 13
	zkMulti           = 14
	zkCreate2         = 15
	zkReconfig        = 16
	zkCreateContainer = 19
	zkDeleteContainer = 20
	zkCreateTTL       = 21
	zkCreateSession   = -10
	zkCloseSession    = -11
	zkError           = -1
)

// DecodeTxn decodes one txn log entry (TxnHeader, the txn's record, and,
// from 3.6, an optional TxnDigest) into zabd's form: the same zxid,
// session, cxid, time and results. A create's parent cversion of -1 (a
// 3.3 CreateTxnV0) is left -1 for the caller to fill from the tree.
func DecodeTxn(b []byte) (tree.Txn, error) {
	d := &bytesReader{b: b}
	var t tree.Txn
	t.Session = d.long("clientId")
	t.Cxid = d.int("cxid")
	t.Zxid = d.long("zxid")
	t.Time = d.long("time")
	typ := d.int("type")
	if d.err != nil {
		return t, d.err
	}
	switch typ {
	case zkCreateSession:
		t.Type = tree.OpCreateSession
		t.Timeout = d.int("timeOut")
	case zkCloseSession:
		// The body, when there is one (CloseSessionTxn: the paths to
		// delete), is what Apply finds from the tree: skip it.
		t.Type = tree.OpCloseSession
		d.off = len(d.b)
	case zkMulti:
		t.Type = tree.OpMulti
		n := d.int("multi count")
		if d.err == nil && (n < 0 || int(n) > (len(d.b)-d.off)/8) {
			return t, fmt.Errorf("multi count %d", n)
		}
		for range n {
			st := d.int("sub-txn type")
			data := d.buffer("sub-txn")
			if d.err != nil {
				return t, d.err
			}
			sub := tree.Txn{}
			sd := &bytesReader{b: data}
			if err := decodeBody(sd, st, &sub, true); err != nil {
				return t, err
			}
			if sd.off != len(sd.b) {
				return t, fmt.Errorf("%d bytes after a multi's sub-txn of type %d", len(sd.b)-sd.off, st)
			}
			t.Txns = append(t.Txns, sub)
		}
		// ZooKeeper's failed multi keeps the ops before the failure
		// with their types and makes the failing one and those after
		// it errors; zabd's has only errors, ok before the failure.
		if slices.ContainsFunc(t.Txns, func(s tree.Txn) bool { return s.Type == tree.OpError }) {
			for i := range t.Txns {
				if t.Txns[i].Type != tree.OpError {
					t.Txns[i] = tree.Txn{TxnHeader: tree.TxnHeader{Type: tree.OpError}, Err: tree.CodeOK}
				}
			}
		}
	default:
		if err := decodeBody(d, typ, &t, false); err != nil {
			return t, err
		}
	}
	if d.err != nil {
		return t, d.err
	}
	switch rest := len(d.b) - d.off; rest {
	case 0, 12: // no digest, or a TxnDigest (int version, long digest)
	default:
		return t, fmt.Errorf("%d bytes after a txn of type %d", rest, typ)
	}
	return t, nil
}

func decodeBody(d *bytesReader, typ int32, t *tree.Txn, sub bool) error {
	switch typ {
	case zkCreate, zkCreate2:
		t.Type = tree.OpCreate
		if typ == zkCreate2 {
			t.Type = tree.OpCreate2
		}
		t.Path = d.string("path")
		t.Data = d.buffer("data")
		t.ACL = d.acl()
		eph := d.bool("ephemeral")
		t.Kind = tree.KindPersistent
		if eph {
			t.Kind = tree.KindEphemeral
		}
		// What follows the ephemeral flag: parentCVersion (4 bytes), then
		// at the top level perhaps a TxnDigest (12); a 3.3 CreateTxnV0
		// has no parentCVersion (-1: the caller fills it from the tree).
		switch rest := len(d.b) - d.off; {
		case d.err != nil:
		case rest == 4, !sub && rest == 16:
			t.ParentCversion = d.int("parentCVersion")
		case rest == 0, !sub && rest == 12:
			t.ParentCversion = -1
		default:
			return fmt.Errorf("%d bytes after a create's ephemeral flag", rest)
		}
	case zkCreateContainer, zkCreateTTL:
		t.Type, t.Kind = tree.OpCreateContainer, tree.KindContainer
		if typ == zkCreateTTL {
			t.Type, t.Kind = tree.OpCreateTTL, tree.KindTTL
		}
		t.Path = d.string("path")
		t.Data = d.buffer("data")
		t.ACL = d.acl()
		t.ParentCversion = d.int("parentCVersion")
		if typ == zkCreateTTL {
			t.TTL = d.long("ttl")
		}
	case zkDelete, zkDeleteContainer:
		t.Type = tree.OpDelete
		if typ == zkDeleteContainer {
			t.Type = tree.OpDeleteContainer
		}
		t.Path = d.string("path")
	case zkSetData, zkReconfig:
		t.Type = tree.OpSetData
		if typ == zkReconfig {
			t.Type = tree.OpReconfig
		}
		t.Path = d.string("path")
		t.Data = d.buffer("data")
		t.Version = d.int("version")
	case zkSetACL:
		t.Type = tree.OpSetACL
		t.Path = d.string("path")
		t.ACL = d.acl()
		t.Version = d.int("version")
	case zkCheck:
		t.Type = tree.OpCheck
		t.Path = d.string("path")
		t.Version = d.int("version")
	case zkError:
		t.Type = tree.OpError
		t.Err = tree.Code(d.int("err"))
	default:
		return fmt.Errorf("txn type %d is not one a ZooKeeper txn log holds", typ)
	}
	return d.err
}
