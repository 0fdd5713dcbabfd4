package bench

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/bench/wire"
	"zabd/net/jute"
	"zabd/tree"
)

// decodeLean encodes slot's request with enc and decodes it back as a
// server would.
func decodeLean(t *testing.T, enc requestEncoder, slot int64) tree.Request {
	t.Helper()
	body, op := enc(nil, slot)
	frame := append(jute.AppendInt(jute.AppendInt(nil, 7), int32(op)), body...)
	h, req, err := jute.DecodeRequest(frame)
	if err != nil {
		t.Fatalf("slot %d: the server cannot decode the lean client's request: %v", slot, err)
	}
	if h.Op != op || h.Xid != 7 {
		t.Fatalf("slot %d: header %+v, want op %d xid 7", slot, h, op)
	}
	return req
}

// TestLeanRequestsMatchTheGoZKOnes: for every lean workload and a few
// slots, the request the lean client encodes decodes to the request the
// go-zookeeper worker would send for that slot: same op, path, data,
// version, flags and ACL.
func TestLeanRequestsMatchTheGoZKOnes(t *testing.T) {
	cfg := Config{Seed: 5, KeySpace: 50, ValueBytes: 10}.withDefaults()
	e := newEnv(cfg, "/zabbench/run-1")
	world := []tree.ACL{{Perms: tree.PermAll, ID: tree.AnyoneID}}
	setReq := func(key int64) tree.Request {
		return tree.Request{Op: tree.OpSetData, Path: e.key(key), Data: e.value, Version: -1}
	}
	tests := []struct {
		w    leanWorkload
		want func(slot int64) tree.Request
	}{
		{Create{}, func(int64) tree.Request {
			return tree.Request{Op: tree.OpCreate, Path: e.dir + "/seq-", Data: e.value, ACL: world, Mode: tree.ModePersistentSequential}
		}},
		{Create{Keyed: true}, func(slot int64) tree.Request {
			return tree.Request{Op: tree.OpCreate, Path: fmt.Sprintf("%s/c%d", e.dir, slot), Data: e.value, ACL: world, Mode: tree.ModePersistent}
		}},
		{Set{}, func(slot int64) tree.Request { return setReq(e.pick(slot, 0)) }},
		{Get{}, func(slot int64) tree.Request { return tree.Request{Op: tree.OpGetData, Path: e.key(e.pick(slot, 0))} }},
		{Exists{}, func(slot int64) tree.Request { return tree.Request{Op: tree.OpExists, Path: e.key(e.pick(slot, 0))} }},
		{Delete{}, func(slot int64) tree.Request { return tree.Request{Op: tree.OpDelete, Path: e.key(slot), Version: -1} }},
		{Mixed{ReadRatio: 0.5}, func(slot int64) tree.Request {
			if e.unit(slot, 1) < 0.5 {
				return tree.Request{Op: tree.OpGetData, Path: e.key(e.pick(slot, 0))}
			}
			return setReq(e.pick(slot, 0))
		}},
		{Multi{OpsPerTxn: 3}, func(slot int64) tree.Request {
			r := tree.Request{Op: tree.OpMulti}
			for j := range 3 {
				r.Ops = append(r.Ops, setReq(e.pick(slot, uint64(j))))
			}
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.w.Name()+" "+tc.w.Params(), func(t *testing.T) {
			enc := tc.w.encoder(e, 0)
			for _, slot := range []int64{0, 1, 9, 33, 49} {
				got := decodeLean(t, enc, slot)
				if diff := cmp.Diff(tc.want(slot), got); diff != "" {
					t.Errorf("slot %d (-gozk +lean):\n%s", slot, diff)
				}
			}
		})
	}
}

// TestLeanEncodersAllocateNothing: a request is copies of pre-encoded
// parts into a reused buffer.
func TestLeanEncodersAllocateNothing(t *testing.T) {
	cfg := Config{Seed: 5, KeySpace: 50}.withDefaults()
	e := newEnv(cfg, "/zabbench/run-1")
	for _, w := range []leanWorkload{Create{}, Create{Keyed: true}, Set{}, Get{}, Mixed{ReadRatio: 0.9}, Multi{OpsPerTxn: 4}} {
		enc := w.encoder(e, 0)
		buf, _ := enc(nil, 1)
		buf, _ = enc(buf[:0], 2)
		slot := int64(0)
		if n := testing.AllocsPerRun(200, func() { slot++; buf, _ = enc(buf[:0], slot%40) }); n != 0 {
			t.Errorf("%s %s: %.1f allocations per request", w.Name(), w.Params(), n)
		}
	}
}

// TestMultiFailureIsReadFromTheResults: a failed multi's header says OK;
// the lean client finds the failing operation's code in its results, as
// go-zookeeper's result errors do.
func TestMultiFailureIsReadFromTheResults(t *testing.T) {
	ok := tree.Result{Op: tree.OpMulti, Results: []tree.Result{
		{Op: tree.OpSetData, Stat: &tree.Stat{Version: 1}}, {Op: tree.OpSetData, Stat: &tree.Stat{Version: 2}},
	}}
	failed := tree.Result{Op: tree.OpMulti, Err: tree.CodeBadVersion, Results: []tree.Result{
		{Op: tree.OpSetData}, {Op: tree.OpSetData, Err: tree.CodeBadVersion}, {Op: tree.OpSetData},
	}}
	for _, tc := range []struct {
		res  tree.Result
		want error
	}{{ok, nil}, {failed, tree.CodeBadVersion}} {
		frame := jute.AppendReply(nil, 3, 9, tree.OpMulti, tc.res)
		h, err := jute.DecodeReplyHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		got := replyErr(tree.OpMulti, wire.Reply{Xid: h.Xid, Zxid: h.Zxid, Err: h.Err, Body: frame[16:]})
		if got != tc.want {
			t.Errorf("multi %+v: reply error %v, want %v", tc.res, got, tc.want)
		}
	}
}
