package jute

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"zabd/tree"
)

type requestCase struct {
	name string
	h    RequestHeader
	req  tree.Request
	wire string // hand-computed hex of AppendRequest(h, req)
	// decoded is what DecodeRequest(wire) returns when it differs from req
	// (ZooKeeper's normalizations); nil means req itself.
	decoded *tree.Request
}

func requestCases() []requestCase {
	return []requestCase{
		{
			name: "create",
			h:    RequestHeader{Xid: 1, Op: tree.OpCreate},
			req:  tree.Request{Op: tree.OpCreate, Path: "/a", Data: []byte("x"), ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistent},
			wire: "00000001 00000001 |" + hPathA + "| 00000001 78 |" + hOpenACL + "| 00000000",
		},
		{
			name: "create2 ephemeral sequential, empty data",
			h:    RequestHeader{Xid: 2, Op: tree.OpCreate2},
			req:  tree.Request{Op: tree.OpCreate2, Path: "/a", Data: []byte{}, ACL: tree.OpenACLUnsafe, Mode: tree.ModeEphemeralSequential},
			wire: "00000002 0000000f |" + hPathA + "| 00000000 |" + hOpenACL + "| 00000003",
		},
		{
			name: "createContainer null data",
			h:    RequestHeader{Xid: 3, Op: tree.OpCreateContainer},
			req:  tree.Request{Op: tree.OpCreateContainer, Path: "/a", ACL: tree.OpenACLUnsafe, Mode: tree.ModeContainer},
			wire: "00000003 00000013 |" + hPathA + "|" + hNull + "|" + hOpenACL + "| 00000004",
		},
		{
			name: "createTTL",
			h:    RequestHeader{Xid: 4, Op: tree.OpCreateTTL},
			req:  tree.Request{Op: tree.OpCreateTTL, Path: "/a", Data: []byte("x"), ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistentTTL, TTL: 10000},
			wire: "00000004 00000015 |" + hPathA + "| 00000001 78 |" + hOpenACL + "| 00000005 | 0000000000002710",
		},
		{
			name: "delete any version",
			h:    RequestHeader{Xid: 5, Op: tree.OpDelete},
			req:  tree.Request{Op: tree.OpDelete, Path: "/a", Version: -1},
			wire: "00000005 00000002 |" + hPathA + "| ffffffff",
		},
		{
			name: "exists with watch",
			h:    RequestHeader{Xid: 6, Op: tree.OpExists},
			req:  tree.Request{Op: tree.OpExists, Path: "/a", Watch: true},
			wire: "00000006 00000003 |" + hPathA + "| 01",
		},
		{
			name: "getData no watch",
			h:    RequestHeader{Xid: 7, Op: tree.OpGetData},
			req:  tree.Request{Op: tree.OpGetData, Path: "/a"},
			wire: "00000007 00000004 |" + hPathA + "| 00",
		},
		{
			name: "setData null data",
			h:    RequestHeader{Xid: 8, Op: tree.OpSetData},
			req:  tree.Request{Op: tree.OpSetData, Path: "/a", Version: 3},
			wire: "00000008 00000005 |" + hPathA + "|" + hNull + "| 00000003",
		},
		{
			name: "getACL",
			h:    RequestHeader{Xid: 9, Op: tree.OpGetACL},
			req:  tree.Request{Op: tree.OpGetACL, Path: "/a"},
			wire: "00000009 00000006 |" + hPathA,
		},
		{
			name: "setACL digest",
			h:    RequestHeader{Xid: 10, Op: tree.OpSetACL},
			req: tree.Request{Op: tree.OpSetACL, Path: "/a", Version: 2,
				ACL: []tree.ACL{{Perms: tree.PermRead, ID: tree.Id{Scheme: "digest", ID: "u:h"}}}},
			wire: "0000000a 00000007 |" + hPathA + "| 00000001 | 00000001 | 00000006 646967657374 | 00000003 753a68 | 00000002",
		},
		{
			name: "getChildren with watch",
			h:    RequestHeader{Xid: 11, Op: tree.OpGetChildren},
			req:  tree.Request{Op: tree.OpGetChildren, Path: "/a", Watch: true},
			wire: "0000000b 00000008 |" + hPathA + "| 01",
		},
		{
			name: "sync",
			h:    RequestHeader{Xid: 12, Op: tree.OpSync},
			req:  tree.Request{Op: tree.OpSync, Path: "/a"},
			wire: "0000000c 00000009 |" + hPathA,
		},
		{
			name: "ping",
			h:    RequestHeader{Xid: XidPing, Op: tree.OpPing},
			req:  tree.Request{Op: tree.OpPing},
			wire: "fffffffe 0000000b",
		},
		{
			name: "getChildren2",
			h:    RequestHeader{Xid: 13, Op: tree.OpGetChildren2},
			req:  tree.Request{Op: tree.OpGetChildren2, Path: "/a"},
			wire: "0000000d 0000000c |" + hPathA + "| 00",
		},
		{
			name: "check",
			h:    RequestHeader{Xid: 14, Op: tree.OpCheck},
			req:  tree.Request{Op: tree.OpCheck, Path: "/a", Version: 7},
			wire: "0000000e 0000000d |" + hPathA + "| 00000007",
		},
		{
			name: "multi",
			h:    RequestHeader{Xid: 15, Op: tree.OpMulti},
			req: tree.Request{Op: tree.OpMulti, Ops: []tree.Request{
				{Op: tree.OpCreate, Path: "/a", Data: []byte{}, ACL: []tree.ACL{}, Mode: tree.ModePersistent},
				{Op: tree.OpDelete, Path: "/b", Version: -1},
				{Op: tree.OpSetData, Path: "/a", Data: []byte("x"), Version: 0},
				{Op: tree.OpCheck, Path: "/b", Version: 4},
				{Op: tree.OpCreateTTL, Path: "/b", ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistentSeqTTL, TTL: 1},
			}},
			wire: "0000000f 0000000e |" +
				"00000001 00 ffffffff |" + hPathA + "| 00000000 | 00000000 | 00000000 |" +
				"00000002 00 ffffffff |" + hPathB + "| ffffffff |" +
				"00000005 00 ffffffff |" + hPathA + "| 00000001 78 | 00000000 |" +
				"0000000d 00 ffffffff |" + hPathB + "| 00000004 |" +
				"00000015 00 ffffffff |" + hPathB + "|" + hNull + "|" + hOpenACL + "| 00000006 | 0000000000000001 |" +
				"ffffffff 01 ffffffff",
		},
		{
			name: "multi empty",
			h:    RequestHeader{Xid: 16, Op: tree.OpMulti},
			req:  tree.Request{Op: tree.OpMulti},
			wire: "00000010 0000000e | ffffffff 01 ffffffff",
		},
		{
			// 3.8's MultiOperationRecord types a create record by its
			// flags: create2 becomes create (so no stat in the result),
			// container flags make createContainer.
			name: "multi create2 and container flags are retyped",
			h:    RequestHeader{Xid: 17, Op: tree.OpMulti},
			req: tree.Request{Op: tree.OpMulti, Ops: []tree.Request{
				{Op: tree.OpCreate2, Path: "/a", ACL: tree.OpenACLUnsafe, Mode: tree.ModeEphemeral},
				{Op: tree.OpCreate, Path: "/b", ACL: tree.OpenACLUnsafe, Mode: tree.ModeContainer},
			}},
			wire: "00000011 0000000e |" +
				"0000000f 00 ffffffff |" + hPathA + "|" + hNull + "|" + hOpenACL + "| 00000001 |" +
				"00000001 00 ffffffff |" + hPathB + "|" + hNull + "|" + hOpenACL + "| 00000004 |" +
				"ffffffff 01 ffffffff",
			decoded: &tree.Request{Op: tree.OpMulti, Ops: []tree.Request{
				{Op: tree.OpCreate, Path: "/a", ACL: tree.OpenACLUnsafe, Mode: tree.ModeEphemeral},
				{Op: tree.OpCreateContainer, Path: "/b", ACL: tree.OpenACLUnsafe, Mode: tree.ModeContainer},
			}},
		},
		{
			name: "multi create record with TTL flags becomes createTTL without a ttl",
			h:    RequestHeader{Xid: 18, Op: tree.OpMulti},
			req: tree.Request{Op: tree.OpMulti, Ops: []tree.Request{
				{Op: tree.OpCreate, Path: "/a", ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistentTTL},
			}},
			wire: "00000012 0000000e |" +
				"00000001 00 ffffffff |" + hPathA + "|" + hNull + "|" + hOpenACL + "| 00000005 |" +
				"ffffffff 01 ffffffff",
			decoded: &tree.Request{Op: tree.OpMulti, Ops: []tree.Request{
				{Op: tree.OpCreateTTL, Path: "/a", ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistentTTL, TTL: -1},
			}},
		},
		{
			name: "multi createTTL record with plain flags becomes create",
			h:    RequestHeader{Xid: 19, Op: tree.OpMulti},
			req: tree.Request{Op: tree.OpMulti, Ops: []tree.Request{
				{Op: tree.OpCreateTTL, Path: "/a", ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistent, TTL: 99},
			}},
			wire: "00000013 0000000e |" +
				"00000015 00 ffffffff |" + hPathA + "|" + hNull + "|" + hOpenACL + "| 00000000 | 0000000000000063 |" +
				"ffffffff 01 ffffffff",
			decoded: &tree.Request{Op: tree.OpMulti, Ops: []tree.Request{
				{Op: tree.OpCreate, Path: "/a", ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistent},
			}},
		},
		{
			name: "reconfig fields are not carried",
			h:    RequestHeader{Xid: 20, Op: tree.OpReconfig},
			req:  tree.Request{Op: tree.OpReconfig},
			wire: "00000014 00000010 | 00000000 | 00000000 | 00000000 | ffffffffffffffff",
		},
		{
			name: "checkWatches",
			h:    RequestHeader{Xid: 21, Op: tree.OpCheckWatches},
			req:  tree.Request{Op: tree.OpCheckWatches, Path: "/a", WatcherType: tree.WatcherAny},
			wire: "00000015 00000011 |" + hPathA + "| 00000003",
		},
		{
			name: "removeWatches",
			h:    RequestHeader{Xid: 22, Op: tree.OpRemoveWatches},
			req:  tree.Request{Op: tree.OpRemoveWatches, Path: "/a", WatcherType: tree.WatcherChildren},
			wire: "00000016 00000012 |" + hPathA + "| 00000001",
		},
		{
			name: "deleteContainer",
			h:    RequestHeader{Xid: 23, Op: tree.OpDeleteContainer},
			req:  tree.Request{Op: tree.OpDeleteContainer, Path: "/a"},
			wire: "00000017 00000014 |" + hPathA,
		},
		{
			name: "multiRead drops watch flags",
			h:    RequestHeader{Xid: 24, Op: tree.OpMultiRead},
			req: tree.Request{Op: tree.OpMultiRead, Ops: []tree.Request{
				{Op: tree.OpGetData, Path: "/a", Watch: true},
				{Op: tree.OpGetChildren, Path: "/b"},
			}},
			wire: "00000018 00000016 |" +
				"00000004 00 ffffffff |" + hPathA + "| 01 |" +
				"00000008 00 ffffffff |" + hPathB + "| 00 |" +
				"ffffffff 01 ffffffff",
			decoded: &tree.Request{Op: tree.OpMultiRead, Ops: []tree.Request{
				{Op: tree.OpGetData, Path: "/a"},
				{Op: tree.OpGetChildren, Path: "/b"},
			}},
		},
		{
			name: "auth digest",
			h:    RequestHeader{Xid: XidAuth, Op: tree.OpAuth},
			req:  tree.Request{Op: tree.OpAuth, Scheme: "digest", Cred: []byte("u:p")},
			wire: "fffffffc 00000064 | 00000000 | 00000006 646967657374 | 00000003 753a70",
		},
		{
			name: "setWatches",
			h:    RequestHeader{Xid: XidSetWatches, Op: tree.OpSetWatches},
			req: tree.Request{Op: tree.OpSetWatches, RelativeZxid: 100,
				DataWatches: []string{"/a"}, ExistWatches: []string{}, ChildWatches: []string{"/b"}},
			wire: "fffffff8 00000065 | 0000000000000064 | 00000001" + hPathA + "| 00000000 | 00000001" + hPathB,
		},
		{
			name: "sasl",
			h:    RequestHeader{Xid: 25, Op: tree.OpSASL},
			req:  tree.Request{Op: tree.OpSASL, Cred: []byte{1, 2}},
			wire: "00000019 00000066 | 00000002 0102",
		},
		{
			name: "getEphemerals",
			h:    RequestHeader{Xid: 26, Op: tree.OpGetEphemerals},
			req:  tree.Request{Op: tree.OpGetEphemerals, Path: "/"},
			wire: "0000001a 00000067 | 00000001 2f",
		},
		{
			name: "getAllChildrenNumber",
			h:    RequestHeader{Xid: 27, Op: tree.OpGetAllChildrenNumber},
			req:  tree.Request{Op: tree.OpGetAllChildrenNumber, Path: "/a"},
			wire: "0000001b 00000068 |" + hPathA,
		},
		{
			name: "setWatches2",
			h:    RequestHeader{Xid: XidSetWatches, Op: tree.OpSetWatches2},
			req: tree.Request{Op: tree.OpSetWatches2, RelativeZxid: 1,
				DataWatches: []string{}, ExistWatches: []string{"/a"}, ChildWatches: []string{},
				PersistentWatches: []string{"/b"}, PersistentRecursiveWatches: []string{"/a", "/b"}},
			wire: "fffffff8 00000069 | 0000000000000001 | 00000000 | 00000001" + hPathA + "| 00000000 | 00000001" + hPathB +
				"| 00000002" + hPathA + hPathB,
		},
		{
			name: "addWatch recursive",
			h:    RequestHeader{Xid: 28, Op: tree.OpAddWatch},
			req:  tree.Request{Op: tree.OpAddWatch, Path: "/a", WatchMode: tree.WatchModePersistentRecursive},
			wire: "0000001c 0000006a |" + hPathA + "| 00000001",
		},
		{
			name: "whoAmI",
			h:    RequestHeader{Xid: 29, Op: tree.OpWhoAmI},
			req:  tree.Request{Op: tree.OpWhoAmI},
			wire: "0000001d 0000006b",
		},
		{
			name: "closeSession",
			h:    RequestHeader{Xid: 30, Op: tree.OpCloseSession},
			req:  tree.Request{Op: tree.OpCloseSession},
			wire: "0000001e fffffff5",
		},
	}
}

func TestRequestGolden(t *testing.T) {
	for _, tc := range requestCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(tc.wire)
			diffBytes(t, "AppendRequest", AppendRequest(nil, tc.h, tc.req), want)

			h, req, err := DecodeRequest(want)
			if err != nil {
				t.Fatalf("DecodeRequest: %v", err)
			}
			if h != tc.h {
				t.Errorf("header: got %+v, want %+v", h, tc.h)
			}
			wantReq := tc.req
			if tc.decoded != nil {
				wantReq = *tc.decoded
			}
			if d := cmpExact(wantReq, req); d != "" {
				t.Errorf("DecodeRequest (-want +got):\n%s", d)
			}
			// Appending to a non-empty dst keeps the prefix.
			got := AppendRequest([]byte("xyz"), tc.h, tc.req)
			diffBytes(t, "AppendRequest after prefix", got[3:], want)
		})
	}
}

// TestRequestRoundTrip: for every golden request, decoding then encoding
// then decoding again is stable, and the bytes of the second encoding equal
// the first's when no normalization applies.
func TestRequestRoundTrip(t *testing.T) {
	for _, tc := range requestCases() {
		t.Run(tc.name, func(t *testing.T) {
			h, req, err := DecodeRequest(hx(tc.wire))
			if err != nil {
				t.Fatal(err)
			}
			again := AppendRequest(nil, h, req)
			h2, req2, err := DecodeRequest(again)
			if err != nil {
				t.Fatalf("re-decode: %v", err)
			}
			if h2 != h {
				t.Errorf("header: got %+v, want %+v", h2, h)
			}
			if d := cmpExact(req, req2); d != "" {
				t.Errorf("re-decode (-first +second):\n%s", d)
			}
			if tc.decoded == nil {
				diffBytes(t, "re-encoding", again, hx(tc.wire))
			}
		})
	}
}

// TestRequestTruncated cuts every golden request at every byte: each prefix
// fails with ErrMalformed, never panics, and still returns the header once
// its 8 bytes are there.
func TestRequestTruncated(t *testing.T) {
	for _, tc := range requestCases() {
		t.Run(tc.name, func(t *testing.T) {
			full := hx(tc.wire)
			for n := 0; n < len(full); n++ {
				if n >= 8 && len(full) == 8 {
					continue
				}
				h, _, err := DecodeRequest(full[:n])
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d/%d: got err %v, want ErrMalformed", n, len(full), err)
				}
				var de *DecodeError
				if !errors.As(err, &de) || de.Offset > n {
					t.Fatalf("prefix %d: error %v does not carry a sane offset", n, err)
				}
				if n >= 8 && h != tc.h {
					t.Fatalf("prefix %d: header %+v, want %+v", n, h, tc.h)
				}
			}
		})
	}
}

func TestRequestBroken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		wire    string
		wantErr error // nil: must decode to want
		wantH   RequestHeader
		want    tree.Request
		errText string // substring of the error message
	}{
		{
			name:    "empty frame",
			wire:    "",
			wantErr: ErrMalformed,
			errText: "RequestHeader: int at offset 0",
		},
		{
			name:    "unknown op keeps header",
			wire:    "00000007 000003e7 | 0000",
			wantErr: ErrUnknownOp,
			wantH:   RequestHeader{Xid: 7, Op: 999},
			want:    tree.Request{Op: 999},
			errText: "op 999",
		},
		{
			name:    "notification op from a client",
			wire:    "00000007 00000000",
			wantErr: ErrUnknownOp,
			wantH:   RequestHeader{Xid: 7, Op: tree.OpNotification},
			want:    tree.Request{Op: tree.OpNotification},
		},
		{
			name:    "createSession op after handshake",
			wire:    "00000007 fffffff6",
			wantErr: ErrUnknownOp,
			wantH:   RequestHeader{Xid: 7, Op: tree.OpCreateSession},
			want:    tree.Request{Op: tree.OpCreateSession},
		},
		{
			name:    "negative path length",
			wire:    "00000001 00000003 | fffffffe 2f61 | 00",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpExists},
			want:    tree.Request{Op: tree.OpExists},
			errText: "ExistsRequest: ustring at offset 8: negative length -2",
		},
		{
			name:    "huge path length",
			wire:    "00000001 00000003 | 7fffffff 2f61 | 00",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpExists},
			want:    tree.Request{Op: tree.OpExists},
			errText: "length 2147483647 exceeds 3 remaining bytes",
		},
		{
			name:    "negative data length",
			wire:    "00000001 00000005 |" + hPathA + "| fffffffb | 00000000",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpSetData},
			want:    tree.Request{Op: tree.OpSetData},
			errText: "buffer at offset 14",
		},
		{
			name:    "huge ACL count",
			wire:    "00000001 00000007 |" + hPathA + "| 7fffffff | 00000000",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpSetACL},
			want:    tree.Request{Op: tree.OpSetACL},
			errText: "count 2147483647 cannot fit",
		},
		{
			name:    "huge watch list count",
			wire:    "fffffff8 00000065 | 0000000000000000 | 10000000 | 00000000 00000000",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: -8, Op: tree.OpSetWatches},
			want:    tree.Request{Op: tree.OpSetWatches},
		},
		{
			// BinaryInputArchive's index treats a count below -1 as empty.
			name:  "vector count below -1 reads as empty",
			wire:  "00000001 00000007 |" + hPathA + "| fffffffd | 00000001",
			wantH: RequestHeader{Xid: 1, Op: tree.OpSetACL},
			want:  tree.Request{Op: tree.OpSetACL, Path: "/a", ACL: []tree.ACL{}, Version: 1},
		},
		{
			name:  "trailing garbage is ignored",
			wire:  "00000001 00000004 |" + hPathA + "| 01 | deadbeef",
			wantH: RequestHeader{Xid: 1, Op: tree.OpGetData},
			want:  tree.Request{Op: tree.OpGetData, Path: "/a", Watch: true},
		},
		{
			name:  "any non-zero byte is true",
			wire:  "00000001 00000004 |" + hPathA + "| 7f",
			wantH: RequestHeader{Xid: 1, Op: tree.OpGetData},
			want:  tree.Request{Op: tree.OpGetData, Path: "/a", Watch: true},
		},
		{
			name:  "null path reads as empty",
			wire:  "00000001 00000009 | ffffffff",
			wantH: RequestHeader{Xid: 1, Op: tree.OpSync},
			want:  tree.Request{Op: tree.OpSync},
		},
		{
			name:    "multi without done header",
			wire:    "00000001 0000000e | 0000000d 00 ffffffff |" + hPathA + "| 00000000",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpMulti},
			want:    tree.Request{Op: tree.OpMulti},
			errText: "MultiHeader: int at offset 27",
		},
		{
			name:    "read op inside multi",
			wire:    "00000001 0000000e | 00000004 00 ffffffff |" + hPathA + "| 00 | ffffffff 01 ffffffff",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpMulti},
			want:    tree.Request{Op: tree.OpMulti},
			errText: "op 4 (getData) not allowed in multi",
		},
		{
			name:    "write op inside multiRead",
			wire:    "00000001 00000016 | 0000000d 00 ffffffff |" + hPathA + "| 00000000 | ffffffff 01 ffffffff",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpMultiRead},
			want:    tree.Request{Op: tree.OpMultiRead},
		},
		{
			name:    "multi inside multi",
			wire:    "00000001 0000000e | 0000000e 00 ffffffff | ffffffff 01 ffffffff | ffffffff 01 ffffffff",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpMulti},
			want:    tree.Request{Op: tree.OpMulti},
		},
		{
			name:    "unknown sub-op in multi",
			wire:    "00000001 0000000e | 00000063 00 ffffffff | ffffffff 01 ffffffff",
			wantErr: ErrMalformed,
			wantH:   RequestHeader{Xid: 1, Op: tree.OpMulti},
			want:    tree.Request{Op: tree.OpMulti},
		},
		{
			// ZooKeeper's loop ends on done alone, whatever the type.
			name:  "done header with other fields",
			wire:  "00000001 0000000e | 00000005 01 00000000",
			wantH: RequestHeader{Xid: 1, Op: tree.OpMulti},
			want:  tree.Request{Op: tree.OpMulti},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, req, err := DecodeRequest(hx(tc.wire))
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got err %v, want nil", err)
				}
			} else if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got err %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.errText) {
				t.Errorf("error %q does not contain %q", err, tc.errText)
			}
			if h != tc.wantH {
				t.Errorf("header: got %+v, want %+v", h, tc.wantH)
			}
			if d := cmpExact(tc.want, req); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
		})
	}
}

func TestRequestTooManyMultiOps(t *testing.T) {
	ops := make([]tree.Request, MaxMultiOps+1)
	for i := range ops {
		ops[i] = tree.Request{Op: tree.OpCheck, Version: -1}
	}
	h := RequestHeader{Xid: 1, Op: tree.OpMulti}
	b := AppendRequest(nil, h, tree.Request{Op: tree.OpMulti, Ops: ops})
	gotH, _, err := DecodeRequest(b)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got err %v, want ErrTooLarge", err)
	}
	if gotH != h {
		t.Errorf("header: got %+v, want %+v", gotH, h)
	}
	// Exactly MaxMultiOps is fine.
	b = AppendRequest(nil, h, tree.Request{Op: tree.OpMulti, Ops: ops[:MaxMultiOps]})
	_, req, err := DecodeRequest(b)
	if err != nil {
		t.Fatalf("MaxMultiOps ops: %v", err)
	}
	if len(req.Ops) != MaxMultiOps {
		t.Errorf("got %d ops, want %d", len(req.Ops), MaxMultiOps)
	}
}

// TestDecodeRequestDoesNotAlias: the decoded request owns its bytes, so the
// server may reuse the frame buffer.
func TestDecodeRequestDoesNotAlias(t *testing.T) {
	b := AppendRequest(nil, RequestHeader{Xid: 1, Op: tree.OpSetData},
		tree.Request{Op: tree.OpSetData, Path: "/a", Data: []byte("hello")})
	_, req, err := DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xAA
	}
	if req.Path != "/a" || string(req.Data) != "hello" {
		t.Errorf("decoded request changed with its input: %q %q", req.Path, req.Data)
	}
}

// Decoding a create with the open ACL allocates once: its path and data
// together, the data right behind the path (as the tree keeps a znode,
// so applying it copies neither again), and no ACL slice or string for
// "world" or "anyone" (the open ACL is one shared list). Before, it was
// three allocations: the path, the data, the ACL's slice.
func TestCreateDecodeAllocations(t *testing.T) {
	body := AppendRequest(nil, RequestHeader{Xid: 1, Op: tree.OpCreate},
		tree.Request{Path: "/bench/key-0000001", Data: make([]byte, 100), ACL: tree.OpenACLUnsafe})
	_, req, err := DecodeRequest(body)
	if err != nil || len(req.ACL) != 1 || req.ACL[0] != tree.OpenACLUnsafe[0] {
		t.Fatalf("DecodeRequest = %+v, %v", req, err)
	}
	if pathEnd := unsafe.Add(unsafe.Pointer(unsafe.StringData(req.Path)), len(req.Path)); pathEnd != unsafe.Pointer(unsafe.SliceData(req.Data)) {
		t.Errorf("the data does not follow the path in memory")
	}
	if allocs := testing.AllocsPerRun(100, func() { DecodeRequest(body) }); allocs > 1 {
		t.Errorf("decoding a create allocated %.0f times, want at most 1 (path and data)", allocs)
	}
	// The shared open ACL cannot be changed through an append.
	_, again, _ := DecodeRequest(body)
	grown := append(again.ACL, tree.ACL{Perms: tree.PermRead, ID: tree.Id{Scheme: "ip", ID: "127.0.0.1"}})
	grown[0].Perms = tree.PermRead
	if _, req, _ := DecodeRequest(body); len(req.ACL) != 1 || req.ACL[0] != tree.OpenACLUnsafe[0] {
		t.Errorf("an append to a decoded open ACL changed the next one: %+v", req.ACL)
	}
}

// A create's path and data decode as String and Buffer decode them,
// whatever their lengths (null and empty data stay apart), and a list
// other than the open ACL is each request's own.
func TestCreatePathAndDataDecode(t *testing.T) {
	mine := []tree.ACL{{Perms: tree.PermRead, ID: tree.Id{Scheme: "world", ID: "anyone"}}}
	for _, tc := range []struct {
		name string
		path string
		data []byte
		acl  []tree.ACL
	}{
		{"data", "/a", []byte("hello"), tree.OpenACLUnsafe},
		{"empty data", "/a", []byte{}, tree.OpenACLUnsafe},
		{"null data", "/a", nil, tree.OpenACLUnsafe},
		{"empty path", "", []byte("x"), mine},
		{"no ACL", "/a/b", []byte("x"), []tree.ACL{}},
		{"null ACL", "/a/b", []byte("x"), nil},
		{"two ACLs", "/a/b", []byte("x"), append([]tree.ACL{tree.OpenACLUnsafe[0]}, mine...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := AppendRequest(nil, RequestHeader{Xid: 1, Op: tree.OpCreate2}, tree.Request{Path: tc.path, Data: tc.data, ACL: tc.acl, Mode: tree.ModeEphemeral})
			_, req, err := DecodeRequest(body)
			if err != nil {
				t.Fatal(err)
			}
			if req.Path != tc.path || !bytes.Equal(req.Data, tc.data) || (req.Data == nil) != (tc.data == nil) ||
				!slices.Equal(req.ACL, tc.acl) || (req.ACL == nil) != (tc.acl == nil) || req.Mode != tree.ModeEphemeral {
				t.Errorf("decoded %q %q (nil %v) %+v mode %d; want %q %q (nil %v) %+v", req.Path, req.Data, req.Data == nil, req.ACL, req.Mode,
					tc.path, tc.data, tc.data == nil, tc.acl)
			}
			open := len(req.ACL) == 1 && req.ACL[0] == tree.OpenACLUnsafe[0]
			if _, again, _ := DecodeRequest(body); len(req.ACL) > 0 && &again.ACL[0] == &req.ACL[0] && !open {
				t.Errorf("two decodes of a list other than the open ACL share it")
			}
		})
	}
}
