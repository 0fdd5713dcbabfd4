package snapshot

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"zabd/log"
	"zabd/tree"
)

// driver applies requests to a tree the way the pipeline does (prep, then
// apply), with a fake zxid counter and clock, and keeps the log.
type driver struct {
	t    testing.TB
	tr   *tree.Tree
	zxid int64
	now  int64
	log  []tree.Txn
}

func newDriver(t testing.TB, cfg tree.Config) *driver {
	return &driver{t: t, tr: tree.New(cfg), zxid: 0x100000000, now: 1_700_000_000_000}
}

// do preps and applies req; it returns the prep error (nothing applied).
func (d *driver) do(session int64, req tree.Request) error {
	d.now += 3
	hdr := tree.TxnHeader{Session: session, Cxid: 1, Zxid: d.zxid + 1, Time: d.now}
	if req.Auth == nil {
		req.Auth = []tree.Id{{Scheme: tree.SchemeIP, ID: "127.0.0.1"}, {Scheme: tree.SchemeDigest, ID: tree.DigestID("u:p")}}
	}
	txn, err := d.tr.Prep(tree.NewPending(), req, hdr)
	if err != nil {
		return err
	}
	d.zxid++
	txn, err = tree.DecodeTxn(tree.AppendTxn(nil, txn))
	if err != nil {
		d.t.Fatalf("txn codec: %v", err)
	}
	d.tr.Apply(txn)
	d.log = append(d.log, txn)
	return nil
}

func (d *driver) must(session int64, req tree.Request) {
	d.t.Helper()
	if err := d.do(session, req); err != nil {
		d.t.Fatalf("%v %s: %v", req.Op, req.Path, err)
	}
}

// everyKind builds a tree holding every node kind, nil and empty data,
// several ACLs, and sessions.
func everyKind(t testing.TB) *tree.Tree { return everyKindDriver(t).tr }

// everyKindDriver is everyKind with the driver that built it, to apply
// more.
func everyKindDriver(t testing.TB) *driver {
	d := newDriver(t, tree.Config{ExtendedTypesEnabled: true})
	open := tree.OpenACLUnsafe
	d.must(0x11, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000})
	d.must(0x22, tree.Request{Op: tree.OpCreateSession, SessionTimeout: 4000})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a", Data: []byte("alpha"), ACL: open})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/nil", ACL: open})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/empty", Data: []byte{}, ACL: open})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/bin", Data: []byte{0, 1, 2, 0xff}, ACL: tree.CreatorAllACL})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/seq-", ACL: open, Mode: tree.ModePersistentSequential})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/eph", Data: []byte("e"), ACL: open, Mode: tree.ModeEphemeral})
	d.must(0x22, tree.Request{Op: tree.OpCreate, Path: "/a/eph2-", ACL: tree.ReadACLUnsafe, Mode: tree.ModeEphemeralSequential})
	d.must(0x11, tree.Request{Op: tree.OpCreateContainer, Path: "/c", ACL: open, Mode: tree.ModeContainer})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/c/child", ACL: open})
	d.must(0x11, tree.Request{Op: tree.OpCreateTTL, Path: "/ttl", ACL: open, Mode: tree.ModePersistentTTL, TTL: 5000})
	d.must(0x11, tree.Request{Op: tree.OpSetData, Path: "/a", Data: []byte("beta"), Version: -1})
	d.must(0x11, tree.Request{Op: tree.OpSetACL, Path: "/a/empty", Version: -1, ACL: []tree.ACL{
		{Perms: tree.PermRead, ID: tree.Id{Scheme: tree.SchemeIP, ID: "10.0.0.0/8"}},
		{Perms: tree.PermAll, ID: tree.Id{Scheme: tree.SchemeDigest, ID: tree.DigestID("u:p")}},
	}})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/gone", ACL: open})
	d.must(0x11, tree.Request{Op: tree.OpDelete, Path: "/a/gone", Version: -1})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/b", ACL: open})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/a/b/c", Data: bytes.Repeat([]byte("x"), 3000), ACL: open})
	d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/zookeeper/quota/a", ACL: open})
	return d
}

// workload issues random writes: creates of every kind, deletes, setData,
// setACL, session creates and closes.
type workload struct {
	rng      *rand.Rand
	d        *driver
	sessions []int64
	next     int64
}

func newWorkload(d *driver, seed uint64) *workload {
	w := &workload{rng: rand.New(rand.NewPCG(seed, seed^0xabcdef)), d: d, next: 0x1000}
	return w
}

func (w *workload) randomPath() string {
	// A short random walk down from the root.
	p := "/"
	for i := 0; i < 4; i++ {
		kids, _ := w.d.tr.Children(p)
		if len(kids) == 0 || w.rng.IntN(3) == 0 {
			break
		}
		k := kids[w.rng.IntN(len(kids))]
		if p == "/" {
			p = "/" + k
		} else {
			p += "/" + k
		}
	}
	return p
}

func (w *workload) session() int64 {
	if len(w.sessions) == 0 || w.rng.IntN(4) == 0 {
		return 0
	}
	return w.sessions[w.rng.IntN(len(w.sessions))]
}

// step applies one random write (retrying a few times when prep fails).
func (w *workload) step() {
	for try := 0; try < 8; try++ {
		if w.d.do(w.pick()) == nil {
			return
		}
	}
}

func (w *workload) pick() (int64, tree.Request) {
	p := w.randomPath()
	child := p + "/" + fmt.Sprint(w.rng.IntN(6))
	if p == "/" {
		child = "/" + fmt.Sprint(w.rng.IntN(6))
	}
	data := []byte(fmt.Sprint(w.rng.IntN(1000)))
	if w.rng.IntN(5) == 0 {
		data = nil
	}
	switch w.rng.IntN(12) {
	case 0:
		w.next++
		w.sessions = append(w.sessions, w.next)
		return w.next, tree.Request{Op: tree.OpCreateSession, SessionTimeout: int32(1000 * (1 + w.rng.IntN(30)))}
	case 1:
		if len(w.sessions) > 0 {
			i := w.rng.IntN(len(w.sessions))
			s := w.sessions[i]
			w.sessions = append(w.sessions[:i], w.sessions[i+1:]...)
			return s, tree.Request{Op: tree.OpCloseSession}
		}
		return 0, tree.Request{Op: tree.OpCreate, Path: child, Data: data, ACL: tree.OpenACLUnsafe}
	case 2, 3:
		return w.session(), tree.Request{Op: tree.OpDelete, Path: p, Version: -1}
	case 4:
		return w.session(), tree.Request{Op: tree.OpSetData, Path: p, Data: data, Version: -1}
	case 5:
		return w.session(), tree.Request{Op: tree.OpSetACL, Path: p, ACL: tree.ReadACLUnsafe, Version: -1}
	case 6:
		s := w.session()
		mode := tree.ModeEphemeral
		if s == 0 {
			mode = tree.ModePersistentSequential
		}
		return s, tree.Request{Op: tree.OpCreate, Path: child, Data: data, ACL: tree.OpenACLUnsafe, Mode: mode}
	case 7:
		return 0, tree.Request{Op: tree.OpCreateContainer, Path: child, ACL: tree.OpenACLUnsafe, Mode: tree.ModeContainer}
	case 8:
		return 0, tree.Request{Op: tree.OpCreateTTL, Path: child, ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistentTTL, TTL: 100}
	}
	return w.session(), tree.Request{Op: tree.OpCreate, Path: child, Data: data, ACL: tree.OpenACLUnsafe}
}

// writeBytes writes a snapshot of a still tree.
func writeBytes(t testing.TB, tr *tree.Tree, o Options) ([]byte, Meta) {
	t.Helper()
	var buf bytes.Buffer
	m, err := Write(&buf, Still(tr), o)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), m
}

// fileVersion is the version a snapshot's header claims.
func fileVersion(file []byte) uint32 { return binary.BigEndian.Uint32(file[4:8]) }

// prefixBytes is the size of a snapshot's uncompressed prefix: the
// header, and from version 3 on the codec byte.
func prefixBytes(file []byte) int {
	if fileVersion(file) >= Version3 {
		return HeaderBytes + 1
	}
	return HeaderBytes
}

// fileCodec is the codec a snapshot's prefix names.
func fileCodec(file []byte) Codec {
	if fileVersion(file) >= Version3 {
		return Codec(file[HeaderBytes])
	}
	return CodecZstd
}

// decompressed returns the prefix (the header, and the codec byte from
// version 3 on: what the body's checksum covers before the body) and the
// decompressed body of a snapshot of any version (the trailer of a
// version 2 or later one is left out: trailer()).
func decompressed(t testing.TB, file []byte) (prefix, raw []byte) {
	t.Helper()
	n := prefixBytes(file)
	body := file[n:]
	if fileVersion(file) >= Version2 {
		body = body[:len(body)-TrailerBytes]
	}
	var err error
	switch c := fileCodec(file); c {
	case CodecZstd:
		var dec *zstd.Decoder
		if dec, err = zstd.NewReader(nil); err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		raw, err = dec.DecodeAll(body, nil)
	case CodecS2:
		raw, err = io.ReadAll(s2.NewReader(bytes.NewReader(body)))
	case CodecNone:
		raw = bytes.Clone(body)
	default:
		t.Fatalf("codec %v", c)
	}
	if err != nil {
		t.Fatalf("decompress: %v", err)
	}
	return file[:n], raw
}

// trailer returns the trailer of a version 2 or later snapshot.
func trailer(file []byte) []byte { return file[len(file)-TrailerBytes:] }

// assemble builds a snapshot file from a prefix (decompressed's) and a
// decompressed body, stored with the codec the prefix names, with a valid
// trailer (end zxid = start zxid) from version 2 on.
func assemble(t testing.TB, prefix, raw []byte) []byte {
	t.Helper()
	file := bytes.Clone(prefix)
	switch c := fileCodec(prefix); c {
	case CodecZstd:
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		defer enc.Close()
		file = enc.EncodeAll(raw, file)
	case CodecS2:
		var buf bytes.Buffer
		w := s2.NewWriter(&buf, s2.WriterConcurrency(1))
		if _, err := w.Write(raw); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		file = append(file, buf.Bytes()...)
	default:
		file = append(file, raw...)
	}
	if fileVersion(prefix) >= Version2 {
		file = appendTrailer(file, prefix[:HeaderBytes], log.Zxid(binary.BigEndian.Uint64(prefix[8:16])))
	}
	return file
}

// withTrailer returns file with its last TrailerBytes replaced by tr.
func withTrailer(file, tr []byte) []byte {
	return append(bytes.Clone(file[:len(file)-TrailerBytes]), tr...)
}
