package zkdata

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"hash/adler32"
	"testing"

	"github.com/klauspost/compress/snappy"

	"zabd/log"
	"zabd/tree"
)

// sampleTree has every node kind, ACLs shared and not, null and empty
// data, and sessions.
func sampleTree(t testing.TB) *tree.Tree {
	tr := tree.New(tree.Config{ExtendedTypesEnabled: true})
	dig := []tree.ACL{{Perms: tree.PermRead | tree.PermAdmin, ID: tree.Id{Scheme: "digest", ID: "u:x="}}}
	put := func(p string, n tree.Node) {
		if err := tr.PutNode(p, n); err != nil {
			t.Fatal(err)
		}
	}
	put("/a", tree.Node{Data: []byte("hello"), ACL: tree.OpenACLUnsafe, Czxid: 3, Mzxid: 9, Pzxid: 7, Ctime: 100, Mtime: 200, Version: 4, Cversion: 2, Aversion: 1, Kind: tree.KindPersistent})
	put("/a/null", tree.Node{ACL: dig, Czxid: 4, Mzxid: 4, Pzxid: 4, Kind: tree.KindPersistent})
	put("/a/empty", tree.Node{Data: []byte{}, ACL: dig, Czxid: 5, Mzxid: 5, Pzxid: 5, Kind: tree.KindEphemeral, Owner: 0x1000a})
	put("/c", tree.Node{ACL: tree.OpenACLUnsafe, Czxid: 6, Mzxid: 6, Pzxid: 6, Kind: tree.KindContainer})
	put("/t", tree.Node{Data: []byte{0, 255}, ACL: tree.OpenACLUnsafe, Czxid: 8, Mzxid: 8, Pzxid: 8, Kind: tree.KindTTL, TTL: 60000})
	tr.PutSession(0x1000a, 30000)
	tr.PutSession(0x2000b, 4000)
	tr.SetLastZxid(9)
	return tr
}

func writeSample(t testing.TB, tr *tree.Tree) []byte {
	var b bytes.Buffer
	if err := WriteSnapshot(&b, SnapshotWriter{Zxid: 9, Sessions: tr.Sessions(), Walk: func(fn func(string, *tree.Node) bool) { tr.Walk("", fn) }}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readInto(name string, b []byte) (*tree.Tree, SnapshotInfo, error) {
	tr := tree.New(tree.Config{ExtendedTypesEnabled: true})
	info, err := ReadSnapshot(name, bytes.NewReader(b), func(n SnapshotNode) error { return tr.PutNode(n.Path, n.Node) })
	for id, to := range info.Sessions {
		tr.PutSession(id, to)
	}
	tr.SetLastZxid(int64(info.Zxid))
	return tr, info, err
}

// A snapshot written is read back to the same tree, plain, gzip and
// snappy-java compressed (as ZooKeeper's SnapStream names them), with
// the digest and last-processed-zxid sections of 3.6+ after the seal.
func TestSnapshotRoundTrip(t *testing.T) {
	tr := sampleTree(t)
	plain := writeSample(t, tr)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	withDigest := appendSealed(appendSealed(plain, func(w *writer) { w.long(9); w.int(2); w.long(12345) }), func(w *writer) { w.long(9) })
	for _, tc := range []struct {
		name string
		b    []byte
	}{{"snapshot.9", plain}, {"snapshot.9.gz", gz.Bytes()}, {"snapshot.9.snappy", snappyJava(plain)}, {"snapshot.9", withDigest},
		{"snapshot.9", withDigest[:len(plain)+33]}, {"snapshot.9", appendSealed(plain, func(w *writer) { w.long(9) })}} {
		got, info, err := readInto(tc.name, tc.b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got.DescribeTree() != tr.DescribeTree() || info.Nodes != tr.NodeCount() || info.Zxid != 9 {
			t.Fatalf("%s: read back\n%s\nwant\n%s", tc.name, got.DescribeTree(), tr.DescribeTree())
		}
	}
}

// appendSealed adds a section and its seal (the Adler32 of everything
// before, then "/"), as ZooKeeper 3.6+ writes the digest after the nodes.
func appendSealed(b []byte, section func(*writer)) []byte {
	w := writer{b: append([]byte{}, b...)}
	section(&w)
	w.long(int64(adler32.Checksum(w.b)))
	w.string("/")
	return w.b
}

func snappyJava(b []byte) []byte {
	out := append([]byte{}, snappyJavaMagic...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	for len(b) > 0 {
		n := min(len(b), 100)
		c := snappy.Encode(nil, b[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(c)))
		out = append(out, c...)
		b = b[n:]
	}
	return out
}

// Damage is refused with an error that names the file and offset, never
// read as data: a flipped byte anywhere, a cut, a bad magic, an ACL id
// the cache lacks.
func TestSnapshotDamage(t *testing.T) {
	plain := writeSample(t, sampleTree(t))
	for i := range plain {
		b := append([]byte{}, plain...)
		b[i] ^= 0x40
		if _, _, err := readInto("snapshot.9", b); err == nil {
			t.Fatalf("byte %d flipped: read without error", i)
		}
	}
	for n := range len(plain) {
		if _, _, err := readInto("snapshot.9", plain[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d: %v, want ErrCorrupt", n, err)
		}
	}
	var ce *CorruptError
	if _, _, err := readInto("snapshot.9", plain[:len(plain)-3]); !errors.As(err, &ce) || ce.File != "snapshot.9" {
		t.Fatalf("error %v does not name the file", err)
	}
	if _, _, err := readInto("snap.9", plain); err == nil {
		t.Fatal("a file not named snapshot.<zxid> was read")
	}
}

// zkLog builds a ZooKeeper txn log of entries (TxnHeader + record
// bytes), each framed as ZooKeeper frames it, then preallocated zeros.
func zkLog(entries ...[]byte) []byte {
	w := writer{}
	w.int(logMagic)
	w.int(fileVersion)
	w.long(0)
	for _, e := range entries {
		w.long(int64(adler32.Checksum(e)))
		w.buffer(e)
		w.b = append(w.b, eor)
	}
	return append(w.b, make([]byte, 64)...)
}

func entry(session int64, cxid int32, zxid, time int64, typ int32, body func(*writer)) []byte {
	w := writer{}
	w.long(session)
	w.int(cxid)
	w.long(zxid)
	w.long(time)
	w.int(typ)
	if body != nil {
		body(&w)
	}
	return w.b
}

func aclBytes(w *writer, acl []tree.ACL) {
	w.int(int32(len(acl)))
	for _, a := range acl {
		w.int(a.Perms)
		w.string(a.ID.Scheme)
		w.string(a.ID.ID)
	}
}

func sampleLog() ([]byte, []tree.Txn) {
	open := tree.OpenACLUnsafe
	digest := func(w *writer) { w.int(2); w.long(777) } // 3.6+: a TxnDigest after the record
	create := func(path, data string, eph bool, pcv int32) func(*writer) {
		return func(w *writer) {
			w.string(path)
			w.buffer([]byte(data))
			aclBytes(w, open)
			w.bool(eph)
			w.int(pcv)
		}
	}
	subCreate := writer{}
	create("/m", "x", false, 2)(&subCreate)
	subCheck := writer{}
	subCheck.string("/a")
	subCheck.int(1)
	b := zkLog(
		entry(0x1000a, 0, 0x100000001, 1000, zkCreateSession, func(w *writer) { w.int(30000); digest(w) }),
		entry(0x1000a, 1, 0x100000002, 1001, zkCreate, func(w *writer) { create("/a", "hi", false, 1)(w); digest(w) }),
		entry(0x1000a, 2, 0x100000003, 1002, zkCreate2, create("/a/e", "", true, 1)),
		entry(0x1000a, 3, 0x100000004, 1003, zkSetData, func(w *writer) { w.string("/a"); w.buffer([]byte("yo")); w.int(1) }),
		entry(0x1000a, 4, 0x100000005, 1004, zkMulti, func(w *writer) {
			w.int(2)
			w.int(zkCreate)
			w.buffer(subCreate.b)
			w.int(zkCheck)
			w.buffer(subCheck.b)
		}),
		entry(0x1000a, 5, 0x100000006, 1005, zkError, func(w *writer) { w.int(int32(tree.CodeNodeExists)) }),
		entry(0x1000a, 6, 0x100000007, 1006, zkCreateTTL, func(w *writer) {
			w.string("/t")
			w.buffer(nil)
			aclBytes(w, open)
			w.int(3)
			w.long(5000)
		}),
		entry(0x1000a, 7, 0x100000008, 1007, zkCloseSession, func(w *writer) { w.int(1); w.string("/a/e"); digest(w) }),
		entry(0x1000a, 8, 0x100000009, 1008, zkMulti, func(w *writer) { // failed: create ok, then NoNode
			errBody := writer{}
			errBody.int(int32(tree.CodeNoNode))
			w.int(2)
			w.int(zkCreate)
			w.buffer(subCreate.b)
			w.int(zkError)
			w.buffer(errBody.b)
			digest(w)
		}),
	)
	h := func(z int64, typ tree.Op) tree.TxnHeader {
		return tree.TxnHeader{Session: 0x1000a, Cxid: int32(z - 0x100000001), Zxid: z, Time: 1000 + z - 0x100000001, Type: typ}
	}
	want := []tree.Txn{
		{TxnHeader: h(0x100000001, tree.OpCreateSession), Timeout: 30000},
		{TxnHeader: h(0x100000002, tree.OpCreate), Path: "/a", Data: []byte("hi"), ACL: open, Kind: tree.KindPersistent, ParentCversion: 1},
		{TxnHeader: h(0x100000003, tree.OpCreate2), Path: "/a/e", Data: []byte{}, ACL: open, Kind: tree.KindEphemeral, ParentCversion: 1},
		{TxnHeader: h(0x100000004, tree.OpSetData), Path: "/a", Data: []byte("yo"), Version: 1},
		{TxnHeader: h(0x100000005, tree.OpMulti), Txns: []tree.Txn{
			{TxnHeader: tree.TxnHeader{Type: tree.OpCreate}, Path: "/m", Data: []byte("x"), ACL: open, Kind: tree.KindPersistent, ParentCversion: 2},
			{TxnHeader: tree.TxnHeader{Type: tree.OpCheck}, Path: "/a", Version: 1},
		}},
		{TxnHeader: h(0x100000006, tree.OpError), Err: tree.CodeNodeExists},
		{TxnHeader: h(0x100000007, tree.OpCreateTTL), Path: "/t", ACL: open, Kind: tree.KindTTL, ParentCversion: 3, TTL: 5000},
		{TxnHeader: h(0x100000008, tree.OpCloseSession)},
		{TxnHeader: h(0x100000009, tree.OpMulti), Txns: []tree.Txn{
			{TxnHeader: tree.TxnHeader{Type: tree.OpError}, Err: tree.CodeOK},
			{TxnHeader: tree.TxnHeader{Type: tree.OpError}, Err: tree.CodeNoNode},
		}},
	}
	return b, want
}

// Every txn type a ZooKeeper log holds is read into zabd's form, with and
// without a TxnDigest after it; the zeros after the last record end the
// log; a cut inside the last record is a torn tail, and a bad checksum
// with records after it is damage.
func TestReadLog(t *testing.T) {
	b, want := sampleLog()
	var got []tree.Txn
	sum, err := ReadLog("log.100000001", bytes.NewReader(b), func(txn tree.Txn) error { got = append(got, txn); return nil })
	if err != nil || sum.Txns != len(want) || sum.First != log.MakeZxid(1, 1) || sum.Last != log.MakeZxid(1, 9) || sum.Torn {
		t.Fatalf("%+v %v", sum, err)
	}
	for i := range want {
		a, w := tree.AppendTxn(nil, got[i]), tree.AppendTxn(nil, want[i])
		if !bytes.Equal(a, w) {
			t.Errorf("txn %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// Cut inside the last record: the records before it, and torn.
	end := len(b) - 64
	sum, err = ReadLog("log.100000001", bytes.NewReader(b[:end-5]), func(tree.Txn) error { return nil })
	if err != nil || !sum.Torn || sum.Txns != len(want)-1 {
		t.Fatalf("torn: %+v %v", sum, err)
	}
	// A flipped byte in the first record's entry, records after it.
	bad := append([]byte{}, b...)
	bad[16+8+4+10] ^= 1
	if _, err := ReadLog("log.100000001", bytes.NewReader(bad), func(tree.Txn) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("checksum damage: %v", err)
	}
}

// Nothing a damaged file holds makes the readers panic or allocate more
// than the input holds; what they accept is what they return.
func FuzzReadSnapshot(f *testing.F) {
	tr := sampleTree(f)
	plain := writeSample(f, tr)
	f.Add(plain, uint8(0))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	f.Add(gz.Bytes(), uint8(1))
	f.Add(snappyJava(plain), uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, kind uint8) {
		name := [...]string{"snapshot.9", "snapshot.9.gz", "snapshot.9.snappy"}[kind%3]
		ReadSnapshot(name, bytes.NewReader(b), func(SnapshotNode) error { return nil })
	})
}

func FuzzReadLog(f *testing.F) {
	b, _ := sampleLog()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		ReadLog("log.1", bytes.NewReader(b), func(txn tree.Txn) error {
			tree.AppendTxn(nil, txn) // what is read can be logged by zabd
			return nil
		})
	})
}
