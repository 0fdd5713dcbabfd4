package tree

import (
	"testing"
	"unsafe"
)

// shareAllocation reports whether path and data lie in one allocation, the
// path first (as packPathData lays them out).
func shareAllocation(path string, data []byte) bool {
	return len(data) > 0 && uintptr(unsafe.Pointer(unsafe.StringData(path)))+uintptr(len(path)) == uintptr(unsafe.Pointer(unsafe.SliceData(data)))
}

func TestPackPathData(t *testing.T) {
	path, data := packPathData("/a/b", []byte("value"))
	if path != "/a/b" || string(data) != "value" || !shareAllocation(path, data) || cap(data) != len(data) {
		t.Errorf("packed %q %q (shared %v, cap %d)", path, data, shareAllocation(path, data), cap(data))
	}
	// Already packed: returned as they are.
	if p2, d2 := packPathData(path, data); unsafe.StringData(p2) != unsafe.StringData(path) || &d2[0] != &data[0] {
		t.Error("packed pair copied again")
	}
	// nil and empty stay distinct and are not copied.
	if _, d := packPathData("/a", nil); d != nil {
		t.Error("nil data became non-nil")
	}
	if _, d := packPathData("/a", []byte{}); d == nil || len(d) != 0 {
		t.Errorf("empty data became %v", d)
	}
}

// TestZnodeIsOneObject: a created znode's path and value are one
// allocation, also after setData, and an ephemeral re-keyed by setData is
// still found by its session's close.
func TestZnodeIsOneObject(t *testing.T) {
	tr := New(Config{})
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 1, Type: OpCreate}, Path: "/a", Data: []byte("first"), ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 2, Type: OpCreateSession, Session: 9}, Timeout: 4000})
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 3, Type: OpCreate, Session: 9}, Path: "/a/e", Data: []byte("eph"), ACL: []ACL{{Perms: PermAll, ID: Id{"world", "anyone"}}}, Kind: KindEphemeral, ParentCversion: 1})
	it := tr.get("/a/e")
	if !shareAllocation(it.path, it.node.Data) {
		t.Error("created znode: path and value are separate allocations")
	}
	if &it.node.ACL[0] != &OpenACLUnsafe[0] {
		t.Error("a decoded open ACL is not shared")
	}
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 4, Type: OpSetData}, Path: "/a/e", Data: []byte("second"), Version: 1})
	it = tr.get("/a/e")
	if string(it.node.Data) != "second" || !shareAllocation(it.path, it.node.Data) {
		t.Errorf("after setData: data %q, shared %v", it.node.Data, shareAllocation(it.path, it.node.Data))
	}
	if got := tr.Ephemerals(9); len(got) != 1 || got[0] != "/a/e" || !shareAllocation(got[0], it.node.Data) {
		t.Errorf("session 9's ephemerals %q: want the node's current path string", got)
	}
	if got, want := tr.ApproximateDataSize(), int64(len("/")+len("/zookeeper")+len("/zookeeper/quota")+len("/zookeeper/config")+len("/a")+len("first")+len("/a/e")+len("second")); got != want {
		t.Errorf("data size %d, want %d", got, want)
	}
	evs := tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 5, Type: OpCloseSession, Session: 9}})
	if _, ok := tr.Get("/a/e"); ok || len(evs) != 2 {
		t.Errorf("close session: node still there (%v) or events %v", ok, evs)
	}
}

// TestRemovedItemsAreReusedAfterTheChange: a deleted znode's item is
// reused by a later create, never during the change that removed it, and
// nothing of the old znode shows through.
func TestRemovedItemsAreReusedAfterTheChange(t *testing.T) {
	tr := New(Config{})
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 1, Type: OpCreate}, Path: "/old", Data: []byte("old data"), ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
	old := tr.get("/old")
	// One multi deletes /old and creates /new: /new must not take /old's
	// item while the multi still reads it.
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 2, Type: OpMulti}, Txns: []Txn{
		{TxnHeader: TxnHeader{Type: OpDelete}, Path: "/old"},
		{TxnHeader: TxnHeader{Type: OpCreate}, Path: "/new", Data: []byte("new"), ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 3},
	}})
	if n := tr.get("/new"); n == old {
		t.Fatal("the multi reused the item it had just removed")
	}
	if old.path != "/old" {
		t.Errorf("the removed item changed during the change that removed it: %q", old.path)
	}
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 3, Type: OpCreate}, Path: "/third", ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 4})
	third := tr.get("/third")
	if third != old {
		t.Errorf("the next change did not reuse the freed item")
	}
	if third.node.Data != nil || third.node.Czxid != 3 || third.node.Version != 0 {
		t.Errorf("reused item shows the old znode: %+v", third.node)
	}
	if _, ok := tr.Get("/old"); ok {
		t.Error("/old still found")
	}
}

// TestLookupsAllocateNothing: a read's B-tree searches use pooled keys.
func TestLookupsAllocateNothing(t *testing.T) {
	tr := New(Config{})
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 1, Type: OpCreate}, Path: "/a", Data: []byte("x"), ACL: OpenACLUnsafe, Kind: KindPersistent, ParentCversion: 1})
	if n := testing.AllocsPerRun(100, func() { tr.Get("/a") }); n != 0 {
		t.Errorf("Get allocates %.1f times", n)
	}
}
