package member

import (
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"

	"zabd/tree"
)

func sampleEnvelopes() []envelope {
	acl := []tree.ACL{{Perms: 31, ID: tree.Id{Scheme: "world", ID: "anyone"}}}
	return []envelope{
		{Kind: kindWrite, Session: 0x1234, Req: tree.Request{Op: tree.OpCreate, Path: "/a/b", Data: []byte("64 bytes of value"), ACL: acl,
			Mode: tree.ModeEphemeralSequential, Cxid: 7, Auth: []tree.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "u:x"}}}},
		{Kind: kindWrite, Session: -5, Req: tree.Request{Op: tree.OpCreate, Path: "/nil", Data: nil}},
		{Kind: kindWrite, Session: 1, Req: tree.Request{Op: tree.OpCreate, Path: "/empty", Data: []byte{}, TTL: 5000, Mode: tree.ModePersistentTTL}},
		{Kind: kindWrite, Session: 1, Req: tree.Request{Op: tree.OpSetData, Path: "/x", Data: []byte{0, 1, 2}, Version: -1, Cxid: -2}},
		{Kind: kindWrite, Session: 1, Req: tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000}},
		{Kind: kindWrite, Session: 3, Req: tree.Request{Op: tree.OpCreateSession, SessionTimeout: 30000, Client: "[::1]:53122"}},
		{Kind: kindWrite, Session: 3, Req: tree.Request{Op: tree.OpAuth, Cxid: 4, Auth: []tree.Id{{Scheme: "ip", ID: "127.0.0.1"}, {Scheme: "digest", ID: "alice:x"}}}},
		{Kind: kindWrite, Session: 1, Req: tree.Request{Op: tree.OpCloseSession, Cxid: closeCxid}},
		{Kind: kindWrite, Session: 2, Req: tree.Request{Op: tree.OpMulti, Cxid: 9, Ops: []tree.Request{
			{Op: tree.OpCheck, Path: "/c", Version: 3},
			{Op: tree.OpCreate, Path: "/d", Data: []byte("d"), ACL: acl},
			{Op: tree.OpDelete, Path: "/e", Version: -1},
			{Op: tree.OpSetACL, Path: "/f", ACL: acl, Version: 2},
		}}},
		{Kind: kindTouch, Touches: []int64{1, -1, 1 << 62}},
		{Kind: kindTouch},
		{Kind: kindClaim, Session: 0x0100000000000007},
	}
}

// Forwarded requests arrive at the leader as they left the learner: nil
// and empty data stay apart, multi's sub-requests, auth identities, the
// cxid and a new session's client address with them. Only a request with
// a client address takes the newer format.
func TestEnvelopeRoundTrip(t *testing.T) {
	for _, e := range sampleEnvelopes() {
		got, err := decodeEnvelope(encodeEnvelope(e))
		if err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if d := cmp.Diff(e, got); d != "" {
			t.Fatalf("round trip (-sent +received):\n%s", d)
		}
		if b := encodeEnvelope(e); (b[0] == envelopeV3) != (e.Req.Client != "") {
			t.Fatalf("%+v sent as format %d", e, b[0])
		}
		if (e.Req.Data == nil) != (got.Req.Data == nil) {
			t.Fatalf("%s: nil data %v became %v", e.Req.Path, e.Req.Data == nil, got.Req.Data == nil)
		}
	}
}

// A decoded write's path and data are one allocation, the data right
// behind the path (as the tree keeps them, so applying it copies
// neither again), and they are copies: the frame they came in may be
// changed afterwards without changing them.
func TestEnvelopeWritePathAndDataPacked(t *testing.T) {
	e := sampleEnvelopes()[0]
	b := encodeEnvelope(e)
	got, err := decodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	path, data := got.Req.Path, got.Req.Data
	if uintptr(unsafe.Pointer(unsafe.StringData(path)))+uintptr(len(path)) != uintptr(unsafe.Pointer(unsafe.SliceData(data))) {
		t.Fatalf("path %q and data %q are not one allocation", path, data)
	}
	if cap(data) != len(data) {
		t.Fatalf("data has room behind it (cap %d, len %d): an append would write past it", cap(data), len(data))
	}
	clear(b)
	if path != e.Req.Path || string(data) != string(e.Req.Data) {
		t.Fatalf("decoded request changed with its frame: %q %q", path, data)
	}
	set := envelope{Kind: kindWrite, Session: 1, Req: tree.Request{Op: tree.OpSetData, Path: "/x", Data: []byte("v"), Version: -1}}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := decodeEnvelope(encodeEnvelope(set)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 2 { // the encoding, then path and data together
		t.Fatalf("a set round trip costs %v allocations, want 2", allocs)
	}
}

// A forwarded request that is cut short or corrupt is refused with an
// error, never a panic.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, e := range sampleEnvelopes() {
		f.Add(encodeEnvelope(e))
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		again, err := decodeEnvelope(encodeEnvelope(e))
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if d := cmp.Diff(e, again); d != "" {
			t.Fatalf("decode(encode(decode(b))) differs:\n%s", d)
		}
	})
}

// The leader decodes every forwarded write: create at 64 bytes, the
// bench's request.
func BenchmarkEnvelopeCreate(b *testing.B) {
	e := sampleEnvelopes()[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeEnvelope(encodeEnvelope(e)); err != nil {
			b.Fatal(err)
		}
	}
}
