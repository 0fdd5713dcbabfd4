package tree

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var updateFuzzSeeds = flag.Bool("update-fuzz-seeds", false, "rewrite testdata/fuzz/FuzzDecodeTxn from sampleTxns")

// sampleTxns produces real txns of every type by driving a tree through
// Prep, so the codec is tested on what the pipeline actually logs.
func sampleTxns(t testing.TB) []Txn {
	h := newHarness(t, Config{ExtendedTypesEnabled: true})
	var out []Txn
	step := func(session int64, req Request) {
		txn, err := h.prep(session, req)
		out = append(out, txn) // error txns too
		if err == nil {
			h.apply(txn)
		}
	}
	dig := []ACL{{PermRead | PermAdmin, Id{SchemeDigest, DigestID("u:p")}}, {PermRead, Id{SchemeIP, "10.0.0.0/8"}}}
	step(0x1234567890, Request{Op: OpCreateSession, SessionTimeout: 30000})
	step(0x1234567891, Request{Op: OpCreateSession, SessionTimeout: 4000, Client: "127.0.0.1:50122"})
	step(0x1234567891, Request{Op: OpAuth, Auth: []Id{{SchemeIP, "127.0.0.1"}, {SchemeDigest, DigestID("u:p")}}})
	step(0, create("/a", "hello", ModePersistent))
	step(0, Request{Op: OpCreate2, Path: "/nil", ACL: dig, Mode: ModePersistent})
	step(0, create("/a/s-", "", ModePersistentSequential))
	step(0x1234567890, create("/a/e", "eph", ModeEphemeralSequential))
	step(0, Request{Op: OpCreateContainer, Path: "/c", ACL: OpenACLUnsafe, Mode: ModeContainer})
	step(0, Request{Op: OpCreateTTL, Path: "/t", ACL: OpenACLUnsafe, Mode: ModePersistentTTL, TTL: 60000})
	step(0, Request{Op: OpSetData, Path: "/a", Data: bytes.Repeat([]byte{0, 1, 0xff}, 50), Version: -1})
	step(0, Request{Op: OpSetACL, Path: "/a", ACL: dig, Version: 0})
	step(0, Request{Op: OpCheck, Path: "/c", Version: 0})
	step(0, Request{Op: OpDeleteContainer, Path: "/c"})
	step(0, Request{Op: OpDelete, Path: "/t", Version: -1})
	step(0, Request{Op: OpMulti, Ops: []Request{
		create("/m", "", ModePersistent),
		create2("/m/x", "1", ModePersistentSequential),
		{Op: OpSetData, Path: "/m", Data: []byte("2"), Version: 0},
		{Op: OpCheck, Path: "/m", Version: 1},
		{Op: OpDelete, Path: "/m/x0000000000", Version: -1},
	}})
	step(0, Request{Op: OpMulti, Ops: []Request{
		create("/m2", "", ModePersistent),
		{Op: OpDelete, Path: "/missing", Version: -1},
		create("/m3", "", ModePersistent),
	}})
	step(0, Request{Op: OpMulti})
	step(0, create("/a", "", ModePersistent))                            // NodeExists error txn
	step(0, Request{Op: OpSetACL, Path: "/nope", ACL: dig, Version: -1}) // NoNode, with the ACL asked for
	step(0x1234567890, Request{Op: OpCloseSession})
	step(0, Request{Op: OpSessionSecret, Data: []byte("0123456789abcdef0123456789abcdef")})
	out = append(out, Txn{TxnHeader: TxnHeader{Zxid: 1 << 40, Type: OpReconfig}, Path: "/zookeeper/config", Data: []byte("server.1=a:1:2"), Version: -1})
	return out
}

func TestTxnRoundTrip(t *testing.T) {
	for i, txn := range sampleTxns(t) {
		b := AppendTxn(nil, txn)
		got, err := DecodeTxn(b)
		if err != nil {
			t.Fatalf("txn %d (%v): %v", i, txn.Type, err)
		}
		if diff := cmp.Diff(txn, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("txn %d (%v) round trip (-want +got):\n%s", i, txn.Type, diff)
		}
		// nil vs empty data is kept.
		if (txn.Data == nil) != (got.Data == nil) {
			t.Errorf("txn %d: data nil-ness lost", i)
		}
		// Appending to a prefix leaves the prefix alone.
		pre := AppendTxn([]byte("xyz"), txn)
		if !bytes.Equal(pre[:3], []byte("xyz")) || !bytes.Equal(pre[3:], b) {
			t.Errorf("txn %d: AppendTxn with a prefix", i)
		}
	}
}

// A decoded create's path and data are one allocation, the data right
// behind the path (how the tree keeps a znode's, so applying it copies
// neither again), and copies: the record may be reused after.
func TestDecodedCreatePacksPathAndData(t *testing.T) {
	txn := Txn{TxnHeader: TxnHeader{Session: 1, Cxid: 2, Zxid: 3, Time: 4, Type: OpCreate}, Path: "/a/b", Data: []byte("value"), ACL: OpenACLUnsafe, Kind: KindPersistent}
	b := AppendTxn(nil, txn)
	got, err := DecodeTxn(b)
	if err != nil {
		t.Fatal(err)
	}
	if path, data := packPathData(got.Path, got.Data); unsafe.StringData(path) != unsafe.StringData(got.Path) || &data[0] != &got.Data[0] {
		t.Fatalf("decoded path %q and data %q are apart: packing them copies", got.Path, got.Data)
	}
	if cap(got.Data) != len(got.Data) {
		t.Fatalf("data has room behind it (cap %d, len %d)", cap(got.Data), len(got.Data))
	}
	clear(b)
	if got.Path != "/a/b" || string(got.Data) != "value" {
		t.Fatalf("the decoded txn changed with its record: %q %q", got.Path, got.Data)
	}
	if n := testing.AllocsPerRun(100, func() { DecodeTxn(AppendTxn(b[:0], txn)) }); n != 1 {
		t.Fatalf("decoding a create costs %v allocations, want 1 (path and data)", n)
	}
}

// A txn that carries nothing for an audit is written in format v1, byte
// for byte as before v2 existed; one that does (a sequential create, a
// session's client address, a failed request's type and path, an auth)
// in v2. A v1 createSession reads with no client.
func TestTxnFormatChosen(t *testing.T) {
	for _, txn := range sampleTxns(t) {
		b := AppendTxn(nil, txn)
		want := TxnFormatV1
		switch {
		case txn.Type == OpAuth, txn.Client != "", txn.FailedOp != 0, txn.Sequential:
			want = TxnFormatV2
		case txn.Type == OpMulti:
			for _, s := range txn.Txns {
				if s.Sequential {
					want = TxnFormatV2
				}
			}
		}
		if b[0] != want {
			t.Errorf("%v %s: format %d, want %d", txn.Type, txn.Path, b[0], want)
		}
	}
	old := []byte{TxnFormatV1, 19, 2, 0, 2, 0, 0xe0, 0xd4, 0x03} // createSession, session 1, timeout 30000
	txn, err := DecodeTxn(old)
	if err != nil || txn.Type != OpCreateSession || txn.Timeout != 30000 || txn.Client != "" {
		t.Fatalf("v1 createSession: %+v %v", txn, err)
	}
}

func TestDecodeTxnErrors(t *testing.T) {
	good := AppendTxn(nil, Txn{TxnHeader: TxnHeader{Session: 1, Zxid: 2, Time: 3, Type: OpCreate},
		Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
	multiInMulti := []byte{TxnFormatV1, 28, 0, 0, 2, 0, 1, 28}
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"unknown version", append([]byte{3}, good[1:]...)},
		{"v2 create without its flags", append([]byte{TxnFormatV2}, good[1:]...)},
		{"v2 create with unknown flags", append(append([]byte{TxnFormatV2}, good[1:]...), 2)},
		{"v2 for a txn v1 holds", append(append([]byte{TxnFormatV2}, good[1:]...), 0)},
		{"auth in multi", []byte{TxnFormatV2, 28, 0, 0, 2, 0, 1, 0xc8, 0x01, 0}},
		{"version only", good[:1]},
		{"truncated header", good[:3]},
		{"truncated body", good[:len(good)-1]},
		{"trailing byte", append(append([]byte{}, good...), 0)},
		{"unknown type", []byte{TxnFormatV1, 0x7e, 0, 0, 0, 0}},
		{"read op is not a txn", []byte{TxnFormatV1, 8, 0, 0, 0, 0}},
		{"path length beyond input", []byte{TxnFormatV1, 4, 0, 0, 0, 0, 0x7f}},
		{"huge uvarint", []byte{TxnFormatV1, 4, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"bad varint", []byte{TxnFormatV1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{"cxid out of range", []byte{TxnFormatV1, 4, 0, 0x80, 0x80, 0x80, 0x80, 0x20, 0, 0, 2, 0x2f, 0x61}},
		{"nested multi", multiInMulti},
		{"createSession in multi", []byte{TxnFormatV1, 28, 0, 0, 2, 0, 1, 19, 0}},
		{"bad kind", func() []byte {
			b := append([]byte{}, good...)
			b[len(b)-3] = 9 // kind byte: before ttl and parentCversion varints
			return b
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTxn(tc.b)
			if !errors.Is(err, ErrCorruptTxn) {
				t.Fatalf("got %v, want ErrCorruptTxn", err)
			}
			var de *TxnDecodeError
			if !errors.As(err, &de) || de.Offset < 0 || de.Offset > len(tc.b) {
				t.Errorf("error %v lacks a sane offset", err)
			}
		})
	}
	// A non-minimal varint is refused (the encoding is canonical).
	if _, err := DecodeTxn([]byte{TxnFormatV1, 0x82, 0x00, 0, 0, 0, 0, 0}); !errors.Is(err, ErrCorruptTxn) {
		t.Errorf("non-minimal varint: %v", err)
	}
	// Every strict prefix of every sample is an error, never a panic.
	for _, txn := range sampleTxns(t) {
		b := AppendTxn(nil, txn)
		for n := range len(b) {
			if _, err := DecodeTxn(b[:n]); err == nil {
				t.Fatalf("%v: prefix %d/%d decoded", txn.Type, n, len(b))
			}
		}
	}
}

func FuzzDecodeTxn(f *testing.F) {
	for _, txn := range sampleTxns(f) {
		f.Add(AppendTxn(nil, txn))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		txn, err := DecodeTxn(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptTxn) {
				t.Fatalf("error %v does not match ErrCorruptTxn", err)
			}
			return
		}
		// Whatever decodes re-encodes to the same bytes (the format has one
		// encoding per txn) and decodes again to the same txn.
		again := AppendTxn(nil, txn)
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
		}
		txn2, err := DecodeTxn(again)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(txn, txn2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("re-decode differs:\n%s", diff)
		}
		// Applying a decoded txn never panics, whatever its contents.
		tr := New(Config{ExtendedTypesEnabled: true})
		tr.Apply(txn)
	})
}

// TestWriteFuzzSeeds rewrites the committed seed corpus with
// -update-fuzz-seeds; otherwise it checks the corpus is present.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecodeTxn")
	if !*updateFuzzSeeds {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) == 0 {
			t.Fatalf("seed corpus %s missing (run with -update-fuzz-seeds): %v", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, txn := range sampleTxns(t) {
		b := AppendTxn(nil, txn)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(b)))
		name := filepath.Join(dir, fmt.Sprintf("seed-%02d-%s", i, txn.Type))
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The session secret is a txn like any other: applied, it is the tree's;
// replayed again, nothing changes; too short a secret is refused at prep.
func TestSessionSecretTxn(t *testing.T) {
	tr := New(Config{})
	p := NewPending()
	if _, err := tr.Prep(p, Request{Op: OpSessionSecret, Data: []byte("short")}, TxnHeader{Zxid: 1, Type: OpSessionSecret}); err != CodeBadArguments {
		t.Fatalf("short secret: %v, want BadArguments", err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	txn, err := tr.Prep(p, Request{Op: OpSessionSecret, Data: secret}, TxnHeader{Zxid: 1, Type: OpSessionSecret})
	if err != nil {
		t.Fatal(err)
	}
	secret[0] = 'X' // the txn holds its own copy
	dec, err := DecodeTxn(AppendTxn(nil, txn))
	if err != nil {
		t.Fatal(err)
	}
	tr.Apply(dec)
	if got := string(tr.SessionSecret()); got != "0123456789abcdef0123456789abcdef" {
		t.Fatalf("secret after apply: %q", got)
	}
	before := tr.DescribeTree()
	if !strings.Contains(before, "session secret 32 bytes") {
		t.Fatalf("DescribeTree does not show the secret:\n%s", before)
	}
	tr.Apply(dec)
	if tr.DescribeTree() != before {
		t.Fatal("replaying the secret txn changed the tree")
	}
}
