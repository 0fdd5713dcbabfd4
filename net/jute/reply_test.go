package jute

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"zabd/tree"
)

type replyCase struct {
	name string
	xid  int32
	zxid int64
	op   tree.Op
	res  tree.Result
	wire string // hand-computed hex of AppendReply
	// decoded is what DecodeReply(wire, op) returns when it differs from
	// res (nil vectors written as empty, failed multis); nil means res.
	decoded *tree.Result
	// noDecode marks replies DecodeReply does not invert (unknown ops).
	noDecode bool
}

const hOK16 = "00000001 0000000000000010 00000000" // ReplyHeader{1, 0x10, 0}

func replyCases() []replyCase {
	nodeA := tree.Result{Op: tree.OpCreate, Path: "/a"}
	return []replyCase{
		{name: "create", xid: 1, zxid: 16, op: tree.OpCreate,
			res: tree.Result{Path: "/a"}, wire: hOK16 + "|" + hPathA},
		{name: "create2", xid: 1, zxid: 16, op: tree.OpCreate2,
			res: tree.Result{Path: "/a", Stat: statp(testStat)}, wire: hOK16 + "|" + hPathA + "|" + hStat},
		{name: "createTTL", xid: 1, zxid: 16, op: tree.OpCreateTTL,
			res: tree.Result{Path: "/a", Stat: statp(testStat)}, wire: hOK16 + "|" + hPathA + "|" + hStat},
		{name: "createContainer", xid: 1, zxid: 16, op: tree.OpCreateContainer,
			res: tree.Result{Path: "/a", Stat: statp(testStat)}, wire: hOK16 + "|" + hPathA + "|" + hStat},
		{name: "create node exists has no body", xid: 1, zxid: 16, op: tree.OpCreate,
			res:  tree.Result{Err: tree.CodeNodeExists, Path: "/a"},
			wire: "00000001 0000000000000010 ffffff92", decoded: &tree.Result{Err: tree.CodeNodeExists}},
		{name: "delete", xid: 1, zxid: 16, op: tree.OpDelete, res: tree.Result{}, wire: hOK16},
		{name: "deleteContainer", xid: 1, zxid: 16, op: tree.OpDeleteContainer, res: tree.Result{}, wire: hOK16},
		{name: "exists", xid: 1, zxid: 16, op: tree.OpExists,
			res: tree.Result{Stat: statp(testStat)}, wire: hOK16 + "|" + hStat},
		{name: "exists no node", xid: 1, zxid: 16, op: tree.OpExists,
			res: tree.Result{Err: tree.CodeNoNode}, wire: "00000001 0000000000000010 ffffff9b"},
		{name: "getData", xid: 1, zxid: 16, op: tree.OpGetData,
			res: tree.Result{Data: []byte("hi"), Stat: statp(testStat)}, wire: hOK16 + "| 00000002 6869 |" + hStat},
		{name: "getData null data", xid: 1, zxid: 16, op: tree.OpGetData,
			res: tree.Result{Stat: statp(testStat)}, wire: hOK16 + "|" + hNull + "|" + hStat},
		{name: "getData empty data", xid: 1, zxid: 16, op: tree.OpGetData,
			res: tree.Result{Data: []byte{}, Stat: statp(testStat)}, wire: hOK16 + "| 00000000 |" + hStat},
		{name: "getData no auth", xid: 1, zxid: 16, op: tree.OpGetData,
			res: tree.Result{Err: tree.CodeNoAuth}, wire: "00000001 0000000000000010 ffffff9a"},
		{name: "setData", xid: 1, zxid: 16, op: tree.OpSetData,
			res: tree.Result{Stat: statp(testStat)}, wire: hOK16 + "|" + hStat},
		{name: "setData nil stat is a zero stat", xid: 1, zxid: 16, op: tree.OpSetData,
			res: tree.Result{}, wire: hOK16 + "|" + strings.Repeat("00", 68), // 68-byte Stat
			decoded: &tree.Result{Stat: &tree.Stat{}}},
		{name: "getACL", xid: 1, zxid: 16, op: tree.OpGetACL,
			res: tree.Result{ACL: tree.OpenACLUnsafe, Stat: statp(testStat)}, wire: hOK16 + "|" + hOpenACL + "|" + hStat},
		{name: "getACL nil acl written empty", xid: 1, zxid: 16, op: tree.OpGetACL,
			res: tree.Result{Stat: statp(testStat)}, wire: hOK16 + "| 00000000 |" + hStat,
			decoded: &tree.Result{ACL: []tree.ACL{}, Stat: statp(testStat)}},
		{name: "setACL", xid: 1, zxid: 16, op: tree.OpSetACL,
			res: tree.Result{Stat: statp(testStat)}, wire: hOK16 + "|" + hStat},
		{name: "setACL bad version", xid: 1, zxid: 16, op: tree.OpSetACL,
			res: tree.Result{Err: tree.CodeBadVersion}, wire: "00000001 0000000000000010 ffffff99"},
		{name: "getChildren", xid: 1, zxid: 16, op: tree.OpGetChildren,
			res: tree.Result{Children: []string{"a", "b"}}, wire: hOK16 + "| 00000002 | 00000001 61 | 00000001 62"},
		{name: "getChildren nil written empty", xid: 1, zxid: 16, op: tree.OpGetChildren,
			res: tree.Result{}, wire: hOK16 + "| 00000000", decoded: &tree.Result{Children: []string{}}},
		{name: "getChildren2", xid: 1, zxid: 16, op: tree.OpGetChildren2,
			res: tree.Result{Children: []string{"a"}, Stat: statp(testStat)}, wire: hOK16 + "| 00000001 | 00000001 61 |" + hStat},
		{name: "sync", xid: 1, zxid: 16, op: tree.OpSync, res: tree.Result{Path: "/a"}, wire: hOK16 + "|" + hPathA},
		{name: "ping", xid: XidPing, zxid: 16, op: tree.OpPing, res: tree.Result{}, wire: "fffffffe 0000000000000010 00000000"},
		{name: "check", xid: 1, zxid: 16, op: tree.OpCheck,
			res: tree.Result{Stat: statp(testStat)}, wire: hOK16 + "|" + hStat},
		{name: "reconfig", xid: 1, zxid: 16, op: tree.OpReconfig,
			res: tree.Result{Data: []byte("hi"), Stat: statp(testStat)}, wire: hOK16 + "| 00000002 6869 |" + hStat},
		{name: "reconfig disabled", xid: 1, zxid: 16, op: tree.OpReconfig,
			res: tree.Result{Err: tree.CodeReconfigDisabled}, wire: "00000001 0000000000000010 ffffff85"},
		{name: "checkWatches", xid: 1, zxid: 16, op: tree.OpCheckWatches, res: tree.Result{}, wire: hOK16},
		{name: "removeWatches no watcher", xid: 1, zxid: 16, op: tree.OpRemoveWatches,
			res: tree.Result{Err: tree.CodeNoWatcher}, wire: "00000001 0000000000000010 ffffff87"},
		{name: "auth ok: zxid is always 0", xid: XidAuth, zxid: 16, op: tree.OpAuth,
			res: tree.Result{}, wire: "fffffffc 0000000000000000 00000000"},
		{name: "auth failed", xid: XidAuth, zxid: 16, op: tree.OpAuth,
			res: tree.Result{Err: tree.CodeAuthFailed}, wire: "fffffffc 0000000000000000 ffffff8d"},
		{name: "setWatches", xid: XidSetWatches, zxid: 16, op: tree.OpSetWatches, res: tree.Result{},
			wire: "fffffff8 0000000000000010 00000000"},
		{name: "setWatches2", xid: XidSetWatches, zxid: 16, op: tree.OpSetWatches2, res: tree.Result{},
			wire: "fffffff8 0000000000000010 00000000"},
		{name: "sasl: zxid 0, token", xid: 1, zxid: 16, op: tree.OpSASL,
			res: tree.Result{Data: []byte{1, 2}}, wire: "00000001 0000000000000000 00000000 | 00000002 0102"},
		{name: "sasl failure still carries a (null) token", xid: 1, zxid: 16, op: tree.OpSASL,
			res: tree.Result{Err: tree.CodeAuthFailed}, wire: "00000001 0000000000000000 ffffff8d |" + hNull},
		{name: "getEphemerals", xid: 1, zxid: 16, op: tree.OpGetEphemerals,
			res: tree.Result{Paths: []string{"/a", "/b"}}, wire: hOK16 + "| 00000002 |" + hPathA + hPathB},
		{name: "getEphemerals none", xid: 1, zxid: 16, op: tree.OpGetEphemerals,
			res: tree.Result{}, wire: hOK16 + "| 00000000", decoded: &tree.Result{Paths: []string{}}},
		{name: "getAllChildrenNumber", xid: 1, zxid: 16, op: tree.OpGetAllChildrenNumber,
			res: tree.Result{Number: 7}, wire: hOK16 + "| 00000007"},
		{name: "addWatch carries ErrorResponse{0}", xid: 1, zxid: 16, op: tree.OpAddWatch,
			res: tree.Result{}, wire: hOK16 + "| 00000000"},
		{name: "whoAmI", xid: 1, zxid: 16, op: tree.OpWhoAmI,
			res:  tree.Result{Identity: []tree.Id{{Scheme: "ip", ID: "127.0.0.1"}}},
			wire: hOK16 + "| 00000001 | 00000002 6970 | 00000009 3132372e302e302e31"},
		{name: "whoAmI nobody", xid: 1, zxid: 16, op: tree.OpWhoAmI,
			res: tree.Result{}, wire: hOK16 + "| 00000000", decoded: &tree.Result{Identity: []tree.Id{}}},
		{name: "closeSession", xid: 1, zxid: 16, op: tree.OpCloseSession, res: tree.Result{}, wire: hOK16},
		{name: "unknown op: unimplemented", xid: 1, zxid: 16, op: 999,
			res: tree.Result{Err: tree.CodeUnimplemented}, wire: "00000001 0000000000000010 fffffffa"},
		{name: "unknown op ok: header only", xid: 1, zxid: 16, op: 999,
			res: tree.Result{}, wire: hOK16, noDecode: true},

		// multi
		{name: "multi success", xid: 1, zxid: 16, op: tree.OpMulti,
			res: tree.Result{Results: []tree.Result{
				nodeA,
				{Op: tree.OpCreate2, Path: "/b", Stat: statp(testStat)},
				{Op: tree.OpDelete},
				{Op: tree.OpSetData, Stat: statp(testStat)},
				{Op: tree.OpCheck},
			}},
			wire: hOK16 + "|" +
				"00000001 00 00000000 |" + hPathA + "|" +
				"0000000f 00 00000000 |" + hPathB + "|" + hStat + "|" +
				"00000002 00 00000000 |" +
				"00000005 00 00000000 |" + hStat + "|" +
				"0000000d 00 00000000 |" +
				"ffffffff 01 ffffffff"},
		{name: "multi createTTL, createContainer and deleteContainer results use create2 and delete",
			xid: 1, zxid: 16, op: tree.OpMulti,
			res: tree.Result{Results: []tree.Result{
				{Op: tree.OpCreateTTL, Path: "/a", Stat: statp(testStat)},
				{Op: tree.OpCreateContainer, Path: "/b", Stat: statp(testStat)},
				{Op: tree.OpDeleteContainer},
			}},
			wire: hOK16 + "|" +
				"0000000f 00 00000000 |" + hPathA + "|" + hStat + "|" +
				"0000000f 00 00000000 |" + hPathB + "|" + hStat + "|" +
				"00000002 00 00000000 |" +
				"ffffffff 01 ffffffff",
			decoded: &tree.Result{Results: []tree.Result{
				{Op: tree.OpCreate2, Path: "/a", Stat: statp(testStat)},
				{Op: tree.OpCreate2, Path: "/b", Stat: statp(testStat)},
				{Op: tree.OpDelete},
			}}},
		{name: "multi empty", xid: 1, zxid: 16, op: tree.OpMulti, res: tree.Result{},
			wire: hOK16 + "| ffffffff 01 ffffffff"},
		{
			// The header says OK; every op becomes an error result: 0
			// before the failing op, its code, RuntimeInconsistency after,
			// whatever the tree put in the later entries.
			name: "multi failure", xid: 1, zxid: 16, op: tree.OpMulti,
			res: tree.Result{Err: tree.CodeNoNode, Results: []tree.Result{
				nodeA,
				{Op: tree.OpDelete, Err: tree.CodeNoNode},
				{Op: tree.OpCheck},
			}},
			wire: hOK16 + "|" +
				"ffffffff 00 00000000 | 00000000 |" +
				"ffffffff 00 ffffff9b | ffffff9b |" +
				"ffffffff 00 fffffffe | fffffffe |" +
				"ffffffff 01 ffffffff",
			decoded: &tree.Result{Err: tree.CodeNoNode, Results: []tree.Result{
				{Op: tree.OpError, Err: tree.CodeOK},
				{Op: tree.OpError, Err: tree.CodeNoNode},
				{Op: tree.OpError, Err: tree.CodeRuntimeInconsistency},
			}},
		},
		{name: "multi whole-request failure without results", xid: 1, zxid: 16, op: tree.OpMulti,
			res: tree.Result{Err: tree.CodeMarshallingError}, wire: "00000001 0000000000000010 fffffffb"},
		{name: "multi failure with no failing op entry: header carries it", xid: 1, zxid: 16, op: tree.OpMulti,
			res:  tree.Result{Err: tree.CodeBadVersion, Results: []tree.Result{nodeA}},
			wire: "00000001 0000000000000010 ffffff99", decoded: &tree.Result{Err: tree.CodeBadVersion}},
		{name: "multi result without multi encoding: marshalling error", xid: 1, zxid: 16, op: tree.OpMulti,
			res:  tree.Result{Results: []tree.Result{nodeA, {Op: tree.OpGetACL}}},
			wire: "00000001 0000000000000010 fffffffb", decoded: &tree.Result{Err: tree.CodeMarshallingError}},
		{name: "multiRead partial failure", xid: 1, zxid: 16, op: tree.OpMultiRead,
			res: tree.Result{Results: []tree.Result{
				{Op: tree.OpGetData, Data: []byte("hi"), Stat: statp(testStat)},
				{Op: tree.OpGetChildren, Err: tree.CodeNoNode},
				{Op: tree.OpGetChildren, Children: []string{"a"}},
				{Op: tree.OpGetData, Stat: statp(testStat)},
			}},
			wire: hOK16 + "|" +
				"00000004 00 00000000 | 00000002 6869 |" + hStat + "|" +
				"ffffffff 00 ffffff9b | ffffff9b |" +
				"00000008 00 00000000 | 00000001 | 00000001 61 |" +
				"00000004 00 00000000 |" + hNull + "|" + hStat + "|" +
				"ffffffff 01 ffffffff",
			decoded: &tree.Result{Results: []tree.Result{
				{Op: tree.OpGetData, Data: []byte("hi"), Stat: statp(testStat)},
				{Op: tree.OpError, Err: tree.CodeNoNode},
				{Op: tree.OpGetChildren, Children: []string{"a"}},
				{Op: tree.OpGetData, Stat: statp(testStat)},
			}}},
		{name: "multiRead whole-request failure", xid: 1, zxid: 16, op: tree.OpMultiRead,
			res: tree.Result{Err: tree.CodeMarshallingError}, wire: "00000001 0000000000000010 fffffffb"},
	}
}

func TestReplyGolden(t *testing.T) {
	for _, tc := range replyCases() {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(tc.wire)
			diffBytes(t, "AppendReply", AppendReply(nil, tc.xid, tc.zxid, tc.op, tc.res), want)
			got := AppendReply([]byte("xyz"), tc.xid, tc.zxid, tc.op, tc.res)
			diffBytes(t, "AppendReply after prefix", got[3:], want)
			if tc.noDecode {
				return
			}

			h, res, err := DecodeReply(want, tc.op)
			if err != nil {
				t.Fatalf("DecodeReply: %v", err)
			}
			wantH, err := DecodeReplyHeader(want)
			if err != nil {
				t.Fatal(err)
			}
			if h != wantH || h.Xid != tc.xid {
				t.Errorf("header: got %+v, DecodeReplyHeader %+v, xid %d", h, wantH, tc.xid)
			}
			wantRes := tc.res
			if tc.decoded != nil {
				wantRes = *tc.decoded
			}
			if d := cmpExact(wantRes, res); d != "" {
				t.Errorf("DecodeReply (-want +got):\n%s", d)
			}
		})
	}
}

// TestReplyRoundTrip: re-encoding a decoded reply gives the same bytes.
func TestReplyRoundTrip(t *testing.T) {
	for _, tc := range replyCases() {
		if tc.noDecode {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			wire := hx(tc.wire)
			h, res, err := DecodeReply(wire, tc.op)
			if err != nil {
				t.Fatal(err)
			}
			diffBytes(t, "re-encoding", AppendReply(nil, h.Xid, h.Zxid, tc.op, res), wire)
		})
	}
}

func TestReplyTruncated(t *testing.T) {
	for _, tc := range replyCases() {
		if tc.noDecode {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			full := hx(tc.wire)
			hdr, _ := DecodeReplyHeader(full)
			for n := 0; n < len(full); n++ {
				if n >= 16 && hdr.Err != tree.CodeOK {
					break // an error reply is complete after its header
				}
				_, _, err := DecodeReply(full[:n], tc.op)
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d/%d: got err %v, want ErrMalformed", n, len(full), err)
				}
			}
		})
	}
}

func TestReplyBroken(t *testing.T) {
	for _, tc := range []struct {
		name    string
		op      tree.Op
		wire    string
		wantErr error
	}{
		{"unknown op", 999, hOK16, ErrUnknownOp},
		{"multi result of unknown type", tree.OpMulti, hOK16 + "| 00000003 00 00000000 | ffffffff 01 ffffffff", ErrMalformed},
		{"children count too large", tree.OpGetChildren, hOK16 + "| 01000000 | 00000000", ErrMalformed},
		{"negative data length", tree.OpGetData, hOK16 + "| fffffff0 |" + hStat, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := DecodeReply(hx(tc.wire), tc.op); !errors.Is(err, tc.wantErr) {
				t.Fatalf("got err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestReplyRandomizedRoundTrip pushes generated successful results for
// every op through AppendReply and DecodeReply.
func TestReplyRandomizedRoundTrip(t *testing.T) {
	ops := []tree.Op{tree.OpCreate, tree.OpCreate2, tree.OpCreateTTL, tree.OpCreateContainer, tree.OpDelete,
		tree.OpExists, tree.OpGetData, tree.OpSetData, tree.OpGetACL, tree.OpSetACL, tree.OpGetChildren,
		tree.OpGetChildren2, tree.OpSync, tree.OpCheck, tree.OpReconfig, tree.OpGetAllChildrenNumber,
		tree.OpGetEphemerals, tree.OpWhoAmI, tree.OpSASL}
	full := tree.Result{
		Path: "/p/q", Stat: statp(testStat), Data: []byte("data"), Children: []string{"x", "yy"},
		ACL: tree.CreatorAllACL, Number: 42, Paths: []string{"/e"}, Identity: []tree.Id{{Scheme: "digest", ID: "u"}},
	}
	for _, op := range ops {
		b := AppendReply(nil, 9, 99, op, full)
		h, got, err := DecodeReply(b, op)
		if err != nil {
			t.Fatalf("%v: %v", op, err)
		}
		if h.Xid != 9 {
			t.Errorf("%v: xid %d", op, h.Xid)
		}
		// Re-encoding what was decoded must give the same bytes: the
		// decode kept every field the op's record carries.
		if again := AppendReply(nil, h.Xid, h.Zxid, op, got); string(again) != string(b) {
			t.Errorf("%v: re-encoding differs:\n got %x\nwant %x", op, again, b)
		}
		if d := cmp.Diff(full, got, cmpopts.IgnoreFields(tree.Result{}, "Path", "Stat", "Data", "Children",
			"ACL", "Number", "Paths", "Identity")); d != "" {
			t.Errorf("%v: unexpected fields (-want +got):\n%s", op, d)
		}
	}
}

func TestNotification(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ev    tree.WatchEvent
		state tree.KeeperState
		wire  string
	}{
		{"data changed", tree.WatchEvent{Type: tree.EventNodeDataChanged, Path: "/a"}, tree.StateSyncConnected,
			"ffffffff ffffffffffffffff 00000000 | 00000003 | 00000003 |" + hPathA},
		{"session event has empty path", tree.WatchEvent{Type: tree.EventNone}, tree.StateExpired,
			"ffffffff ffffffffffffffff 00000000 | ffffffff | ffffff90 | 00000000"},
		{"persistent watch removed", tree.WatchEvent{Type: tree.EventPersistentWatchRemoved, Path: "/b"}, tree.StateSyncConnected,
			"ffffffff ffffffffffffffff 00000000 | 00000007 | 00000003 |" + hPathB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := hx(tc.wire)
			diffBytes(t, "AppendNotification", AppendNotification(nil, tc.ev, tc.state), want)
			ev, state, err := DecodeNotification(want)
			if err != nil {
				t.Fatal(err)
			}
			if ev != tc.ev || state != tc.state {
				t.Errorf("got %+v %v, want %+v %v", ev, state, tc.ev, tc.state)
			}
			h, err := DecodeReplyHeader(want)
			if err != nil || h.Xid != XidNotification {
				t.Errorf("header %+v, err %v", h, err)
			}
			for n := range len(want) {
				if _, _, err := DecodeNotification(want[:n]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("prefix %d: got err %v, want ErrMalformed", n, err)
				}
			}
		})
	}
	if _, _, err := DecodeNotification(hx(hOK16 + "| 00000003 | 00000003 |" + hPathA)); !errors.Is(err, ErrMalformed) {
		t.Errorf("reply decoded as a notification: err %v", err)
	}
}
