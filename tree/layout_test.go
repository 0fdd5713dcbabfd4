package tree

import (
	"slices"
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
	if !shareAllocation(it.path, it.value()) {
		t.Error("created znode: path and value are separate allocations")
	}
	if &tr.acls.list(it.acl)[0] != &OpenACLUnsafe[0] {
		t.Error("a decoded open ACL is not shared")
	}
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 4, Type: OpSetData}, Path: "/a/e", Data: []byte("second"), Version: 1})
	it = tr.get("/a/e")
	if string(it.value()) != "second" || !shareAllocation(it.path, it.value()) {
		t.Errorf("after setData: data %q, shared %v", it.value(), shareAllocation(it.path, it.value()))
	}
	if got := tr.Ephemerals(9); len(got) != 1 || got[0] != "/a/e" || !shareAllocation(got[0], it.value()) {
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
	if n := tr.nodeOf(third); n.Data != nil || n.Czxid != 3 || n.Version != 0 {
		t.Errorf("reused item shows the old znode: %+v", n)
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

// TestItemSize: an item is the whole stored znode but its path and value;
// growing it costs every znode of a large tree.
func TestItemSize(t *testing.T) {
	if got := unsafe.Sizeof(item{}); got != 104 {
		t.Errorf("item is %d bytes, want 104", got)
	}
}

// TestACLTableCountsHolders: znodes with equal ACLs share one stored list,
// a copy of none of the txns' slices; a list no znode holds any more
// leaves the table once the change that dropped it is over; nil and empty
// lists stay apart.
func TestACLTableCountsHolders(t *testing.T) {
	tr := New(Config{})
	digest := func() []ACL { return []ACL{{Perms: PermAll, ID: Id{"digest", "u:" + "hash"}}} }
	first := digest()
	zxid := int64(0)
	apply := func(txn Txn) {
		zxid++
		txn.Zxid = zxid
		if res, _ := tr.ApplyResult(txn); res.Err != CodeOK {
			t.Fatalf("txn %v %s: %v", txn.Type, txn.Path, res.Err)
		}
	}
	create := func(path string, acl []ACL, cv int32) {
		apply(Txn{TxnHeader: TxnHeader{Type: OpCreate}, Path: path, ACL: acl, Kind: KindPersistent, ParentCversion: cv})
	}
	create("/a", first, 1)
	create("/b", digest(), 2)
	a, _ := tr.Get("/a")
	b, _ := tr.Get("/b")
	if &a.ACL[0] != &b.ACL[0] {
		t.Error("equal ACLs are stored twice")
	}
	if &a.ACL[0] == &first[0] {
		t.Error("the tree keeps the txn's ACL slice")
	}
	if !slices.Equal(a.ACL, first) || tr.acls.distinct() != 1 {
		t.Fatalf("ACL %v, %d distinct lists", a.ACL, tr.acls.distinct())
	}

	// setACL moves /b to another list; /a still holds the first.
	other := []ACL{{Perms: PermRead, ID: Id{"ip", "127.0.0.1"}}}
	apply(Txn{TxnHeader: TxnHeader{Type: OpSetACL}, Path: "/b", ACL: other, Version: 1})
	if b, _ = tr.Get("/b"); !slices.Equal(b.ACL, other) || tr.acls.distinct() != 2 {
		t.Fatalf("after setACL: /b %v, %d distinct lists", b.ACL, tr.acls.distinct())
	}
	// Deleting /a drops the first list, but only once the change is over.
	apply(Txn{TxnHeader: TxnHeader{Type: OpDelete}, Path: "/a"})
	if tr.acls.distinct() != 2 {
		t.Errorf("the list was freed during the change that removed its last holder")
	}
	create("/c", OpenACLUnsafe, 3) // the next change reaps
	if tr.acls.distinct() != 1 {
		t.Errorf("%d distinct lists after /a's went, want 1", tr.acls.distinct())
	}
	apply(Txn{TxnHeader: TxnHeader{Type: OpSetACL}, Path: "/b", ACL: OpenACLUnsafe, Version: 2})
	if tr.acls.distinct() != 0 || len(tr.acls.free) != 2 {
		t.Errorf("%d distinct lists and %d free slots, want 0 and 2", tr.acls.distinct(), len(tr.acls.free))
	}

	// nil and empty are different lists.
	if err := tr.PutNode("/nil", Node{Kind: KindPersistent}); err != nil {
		t.Fatal(err)
	}
	if err := tr.PutNode("/empty", Node{Kind: KindPersistent, ACL: []ACL{}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := tr.Get("/nil"); n.ACL != nil {
		t.Errorf("nil ACL became %v", n.ACL)
	}
	if n, _ := tr.Get("/empty"); n.ACL == nil || len(n.ACL) != 0 {
		t.Errorf("empty ACL became %v", n.ACL)
	}
}

// TestItemKeepsKindFields: an ephemeral's session and a TTL node's TTL
// share one field and come back as the Node fields they were.
func TestItemKeepsKindFields(t *testing.T) {
	tr := New(Config{ExtendedTypesEnabled: true})
	for _, n := range []struct {
		path string
		node Node
	}{
		{"/e", Node{Kind: KindEphemeral, Owner: 0x1234, ACL: OpenACLUnsafe}},
		{"/t", Node{Kind: KindTTL, TTL: 5000, ACL: OpenACLUnsafe}},
		{"/c", Node{Kind: KindContainer, Cversion: 3, ACL: OpenACLUnsafe, Data: []byte{}}},
	} {
		if err := tr.PutNode(n.path, n.node); err != nil {
			t.Fatal(err)
		}
		got, _ := tr.Get(n.path)
		if !sameNode(&got, &n.node) {
			t.Errorf("%s: stored %s, got back %s", n.path, DescribeNode(n.path, &n.node), DescribeNode(n.path, &got))
		}
	}
	if st, _ := tr.StatOf("/e"); st.EphemeralOwner != 0x1234 {
		t.Errorf("ephemeral owner %#x", st.EphemeralOwner)
	}
	if st, _ := tr.StatOf("/t"); st.EphemeralOwner != 0 {
		t.Errorf("a TTL node's stat shows owner %#x, want 0", st.EphemeralOwner)
	}
}
