package tree

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNewTreeMatchesZooKeeper38(t *testing.T) {
	tr := New(Config{})
	// ZooKeeper 3.8 on a fresh data dir: every persisted stat field is zero;
	// clients see cversion = 2*0 - numChildren.
	for _, tc := range []struct {
		path string
		want Stat
	}{
		{"/", Stat{Cversion: -1, NumChildren: 1}},
		{"/zookeeper", Stat{Cversion: -2, NumChildren: 2}},
		{"/zookeeper/quota", Stat{}},
		{"/zookeeper/config", Stat{Aversion: -1}},
	} {
		got, ok := tr.StatOf(tc.path)
		if !ok {
			t.Fatalf("%s missing", tc.path)
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("stat %s (-want +got):\n%s", tc.path, diff)
		}
	}
	res := tr.Read(Request{Op: OpGetACL, Path: "/zookeeper/config"}, 0)
	if diff := cmp.Diff(ReadACLUnsafe, res.ACL); diff != "" {
		t.Errorf("getACL /zookeeper/config (-want +got):\n%s", diff)
	}
	res = tr.Read(Request{Op: OpGetChildren, Path: "/zookeeper"}, 0)
	if diff := cmp.Diff([]string{"config", "quota"}, res.Children); diff != "" {
		t.Errorf("children of /zookeeper (-want +got):\n%s", diff)
	}
	if got, want := tr.NodeCount(), 4; got != want {
		t.Errorf("NodeCount = %d, want %d", got, want)
	}
	if got, want := tr.ApproximateDataSize(), int64(len("/")+len("/zookeeper")+len("/zookeeper/quota")+len("/zookeeper/config")); got != want {
		t.Errorf("ApproximateDataSize = %d, want %d", got, want)
	}
	if got := tr.Read(Request{Op: OpGetAllChildrenNumber, Path: "/"}, 0).Number; got != 3 {
		t.Errorf("getAllChildrenNumber / = %d, want 3", got)
	}
}

func TestStatAfterEachOp(t *testing.T) {
	h := newHarness(t, Config{})
	z1 := h.zxid + 1
	res, evs := h.do(0, create2("/a", "hello", ModePersistent))
	t1 := h.now
	wantA := Stat{Czxid: z1, Mzxid: z1, Pzxid: z1, Ctime: t1, Mtime: t1, DataLength: 5}
	if diff := cmp.Diff(Result{Path: "/a", Stat: &wantA, Zxid: z1}, res); diff != "" {
		t.Errorf("create2 result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]WatchEvent{{EventNodeCreated, "/a"}, {EventNodeChildrenChanged, "/"}}, evs); diff != "" {
		t.Errorf("create events (-want +got):\n%s", diff)
	}
	// Root: persisted cversion 1, two children → reported 0; pzxid = z1.
	if diff := cmp.Diff(Stat{Cversion: 0, NumChildren: 2, Pzxid: z1}, h.stat("/")); diff != "" {
		t.Errorf("root after create (-want +got):\n%s", diff)
	}

	z2 := h.zxid + 1
	res, evs = h.do(0, Request{Op: OpSetData, Path: "/a", Data: []byte("hi"), Version: 0})
	t2 := h.now
	wantA = Stat{Czxid: z1, Mzxid: z2, Pzxid: z1, Ctime: t1, Mtime: t2, Version: 1, DataLength: 2}
	if diff := cmp.Diff(Result{Stat: &wantA, Zxid: z2}, res); diff != "" {
		t.Errorf("setData result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]WatchEvent{{EventNodeDataChanged, "/a"}}, evs); diff != "" {
		t.Errorf("setData events (-want +got):\n%s", diff)
	}

	z3 := h.zxid + 1
	h.must(0, create("/a/b", "", ModePersistent))
	h.must(0, create("/a/c", "", ModePersistent))
	z4 := h.zxid
	wantA = Stat{Czxid: z1, Mzxid: z2, Pzxid: z4, Ctime: t1, Mtime: t2, Version: 1, Cversion: 2, DataLength: 2, NumChildren: 2}
	if diff := cmp.Diff(wantA, h.stat("/a")); diff != "" {
		t.Errorf("/a after two creates (-want +got):\n%s", diff)
	}
	_ = z3

	z5 := h.zxid + 1
	res, evs = h.do(0, Request{Op: OpDelete, Path: "/a/b", Version: -1})
	if res.Err != CodeOK {
		t.Fatalf("delete: %v", res.Err)
	}
	if diff := cmp.Diff([]WatchEvent{{EventNodeDeleted, "/a/b"}, {EventNodeChildrenChanged, "/a"}}, evs); diff != "" {
		t.Errorf("delete events (-want +got):\n%s", diff)
	}
	// Persisted cversion stays 2 (deletes do not bump it); reported 2*2-1 = 3.
	wantA = Stat{Czxid: z1, Mzxid: z2, Pzxid: z5, Ctime: t1, Mtime: t2, Version: 1, Cversion: 3, DataLength: 2, NumChildren: 1}
	if diff := cmp.Diff(wantA, h.stat("/a")); diff != "" {
		t.Errorf("/a after delete (-want +got):\n%s", diff)
	}

	z6 := h.zxid + 1
	res, evs = h.do(0, Request{Op: OpSetACL, Path: "/a", ACL: ReadACLUnsafe, Version: 0})
	wantA.Aversion = 1
	if diff := cmp.Diff(Result{Stat: &wantA, Zxid: z6}, res); diff != "" {
		t.Errorf("setACL result (-want +got):\n%s", diff)
	}
	if len(evs) != 0 {
		t.Errorf("setACL events = %v, want none", evs)
	}
	if got := h.tr.LastZxid(); got != z6 {
		t.Errorf("LastZxid = %#x, want %#x", got, z6)
	}
}

func TestSequentialNames(t *testing.T) {
	h := newHarness(t, Config{ExtendedTypesEnabled: true})
	h.must(0, create("/q", "", ModePersistent))
	h.must(0, create("/q/x", "", ModePersistent)) // cversion 1
	got := []string{
		h.must(0, create("/q/p-", "", ModePersistentSequential)).Path,
		h.must(7, create("/q/e-", "", ModeEphemeralSequential)).Path,
		h.must(0, Request{Op: OpCreateTTL, Path: "/q/t-", ACL: OpenACLUnsafe, Mode: ModePersistentSeqTTL, TTL: 1000}).Path,
	}
	// Pending txns: two sequential creates prepped before either applies.
	t1, err := h.prep(0, create("/q/", "", ModePersistentSequential))
	if err != nil {
		t.Fatal(err)
	}
	t2, err := h.prep(0, create("/q/", "", ModePersistentSequential))
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, t1.Path, t2.Path)
	h.apply(t1)
	h.apply(t2)
	// A multi with two sequential creates under the same parent.
	res := h.must(0, Request{Op: OpMulti, Ops: []Request{
		create("/q/m-", "", ModePersistentSequential),
		create("/q/m-", "", ModePersistentSequential),
	}})
	for _, r := range res.Results {
		got = append(got, r.Path)
	}
	want := []string{"/q/p-0000000001", "/q/e-0000000002", "/q/t-0000000003",
		"/q/0000000004", "/q/0000000005", "/q/m-0000000006", "/q/m-0000000007"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sequential names (-want +got):\n%s", diff)
	}
	// Deleting does not reuse numbers (persisted cversion only grows).
	h.must(0, Request{Op: OpDelete, Path: "/q/x", Version: -1})
	if p := h.must(0, create("/q/n-", "", ModePersistentSequential)).Path; p != "/q/n-0000000008" {
		t.Errorf("after delete: got %s, want /q/n-0000000008", p)
	}
	// A failed multi does not consume a sequence number.
	res, _ = h.do(0, Request{Op: OpMulti, Ops: []Request{
		create("/q/f-", "", ModePersistentSequential),
		{Op: OpDelete, Path: "/nope", Version: -1},
	}})
	if res.Err != CodeNoNode {
		t.Fatalf("failed multi: got %v, want NoNode", res.Err)
	}
	if p := h.must(0, create("/q/g-", "", ModePersistentSequential)).Path; p != "/q/g-0000000009" {
		t.Errorf("after failed multi: got %s, want /q/g-0000000009", p)
	}
}

func TestEphemeralsAndCloseSession(t *testing.T) {
	h := newHarness(t, Config{})
	const s1, s2 = 0x11, 0x22
	h.must(s1, Request{Op: OpCreateSession, SessionTimeout: 30000})
	h.must(s2, Request{Op: OpCreateSession, SessionTimeout: 10000})
	h.must(0, create("/app", "", ModePersistent))
	h.must(s1, create("/app/e1", "", ModeEphemeral))
	h.must(s1, create("/app/e2", "", ModeEphemeral))
	h.must(s1, create("/top", "", ModeEphemeral))
	h.must(s2, create("/app/f", "", ModeEphemeral))
	if st := h.stat("/app/e1"); st.EphemeralOwner != s1 {
		t.Errorf("ephemeralOwner = %#x, want %#x", st.EphemeralOwner, s1)
	}
	if res, _ := h.do(s1, create("/app/e1/child", "", ModePersistent)); res.Err != CodeNoChildrenForEphemerals {
		t.Errorf("child of ephemeral: got %v, want NoChildrenForEphemerals", res.Err)
	}
	if diff := cmp.Diff(map[int64]int32{s1: 30000, s2: 10000}, h.tr.Sessions()); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/app/e1", "/app/e2", "/top"}, h.tr.Ephemerals(s1)); diff != "" {
		t.Errorf("Ephemerals(s1) (-want +got):\n%s", diff)
	}
	for _, tc := range []struct{ prefix string }{{""}, {"/"}, {" / "}} {
		got := h.tr.Read(Request{Op: OpGetEphemerals, Path: tc.prefix}, s1).Paths
		if diff := cmp.Diff([]string{"/app/e1", "/app/e2", "/top"}, got); diff != "" {
			t.Errorf("getEphemerals %q (-want +got):\n%s", tc.prefix, diff)
		}
	}
	if got := h.tr.Read(Request{Op: OpGetEphemerals, Path: "/app/e"}, s1).Paths; !cmp.Equal(got, []string{"/app/e1", "/app/e2"}) {
		t.Errorf("getEphemerals /app/e = %v", got)
	}

	// A pending ephemeral create is deleted by a closeSession prepped after it.
	pend, err := h.prep(s1, create("/app/e3", "", ModeEphemeral))
	if err != nil {
		t.Fatal(err)
	}
	closeTxn, err := h.prep(s1, Request{Op: OpCloseSession})
	if err != nil {
		t.Fatal(err)
	}
	// The overlay already sees /app/e* gone: deleting /app's other child
	// and then /app itself is fine only once s2's node is gone too.
	if _, err := h.prep(0, Request{Op: OpDelete, Path: "/app/e1", Version: -1}); CodeOf(err) != CodeNoNode {
		t.Errorf("delete of pending-closed ephemeral: got %v, want NoNode", err)
	}
	h.apply(pend)
	_, evs := h.apply(closeTxn)
	want := []WatchEvent{
		{EventNodeDeleted, "/app/e1"}, {EventNodeChildrenChanged, "/app"},
		{EventNodeDeleted, "/app/e2"}, {EventNodeChildrenChanged, "/app"},
		{EventNodeDeleted, "/app/e3"}, {EventNodeChildrenChanged, "/app"},
		{EventNodeDeleted, "/top"}, {EventNodeChildrenChanged, "/"},
	}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("closeSession events (-want +got):\n%s", diff)
	}
	if got := h.tr.Ephemerals(s1); len(got) != 0 {
		t.Errorf("Ephemerals(s1) after close = %v", got)
	}
	if diff := cmp.Diff(map[int64]int32{s2: 10000}, h.tr.Sessions()); diff != "" {
		t.Errorf("sessions after close (-want +got):\n%s", diff)
	}
	if got, _ := h.tr.Children("/app"); !cmp.Equal(got, []string{"f"}) {
		t.Errorf("children of /app = %v, want [f]", got)
	}
	if h.p.Len() != 0 {
		t.Errorf("pending has %d records after everything applied", h.p.Len())
	}
}

func TestApplyIdempotent(t *testing.T) {
	h := newHarness(t, Config{ExtendedTypesEnabled: true})
	reqs := []struct {
		session int64
		req     Request
	}{
		{5, Request{Op: OpCreateSession, SessionTimeout: 4000}},
		{0, create("/a", "x", ModePersistent)},
		{5, create("/a/e", "y", ModeEphemeralSequential)},
		{0, Request{Op: OpCreateContainer, Path: "/c", ACL: OpenACLUnsafe, Mode: ModeContainer}},
		{0, Request{Op: OpCreateTTL, Path: "/t", ACL: OpenACLUnsafe, Mode: ModePersistentTTL, TTL: 50}},
		{0, Request{Op: OpSetData, Path: "/a", Data: []byte("z"), Version: -1}},
		{0, Request{Op: OpSetACL, Path: "/a", ACL: ReadACLUnsafe, Version: -1}},
		{0, Request{Op: OpMulti, Ops: []Request{create("/c/1", "", ModePersistent), {Op: OpDelete, Path: "/c/1", Version: -1}}}},
		{5, Request{Op: OpCloseSession}},
		{0, Request{Op: OpDelete, Path: "/t", Version: -1}},
	}
	for _, r := range reqs {
		txn, err := h.prep(r.session, r.req)
		if err != nil {
			t.Fatalf("%v: %v", r.req.Op, err)
		}
		h.apply(txn)
		once := h.tr.DescribeTree()
		_, evs := h.tr.ApplyResult(txn)
		if len(evs) != 0 {
			t.Errorf("%v applied twice: events %v", r.req.Op, evs)
		}
		if twice := h.tr.DescribeTree(); twice != once {
			t.Errorf("%v applied twice changed the tree:\n%s", r.req.Op, cmp.Diff(once, twice))
		}
	}
	// Replaying the whole log into a fresh tree gives the same tree.
	fresh := New(h.tr.Config())
	for _, txn := range h.log {
		fresh.Apply(txn)
	}
	if diff := cmp.Diff(h.tr.DescribeTree(), fresh.DescribeTree()); diff != "" {
		t.Errorf("replay differs (-live +replay):\n%s", diff)
	}
	// Replaying over a tree that already has every change (a snapshot taken
	// at the end, "fuzzy" by the whole log) with LastZxid reset also
	// converges: every change is idempotent on its own.
	fresh.SetLastZxid(0)
	for _, txn := range h.log {
		fresh.Apply(txn)
	}
	if diff := cmp.Diff(h.tr.DescribeTree(), fresh.DescribeTree()); diff != "" {
		t.Errorf("re-replay over the final tree differs (-live +replay):\n%s", diff)
	}
}

// ApplyAppend appends a txn's events to the slice it is given, so one
// array serves txn after txn; a txn already applied leaves it as it is.
func TestApplyAppendReusesTheEventSlice(t *testing.T) {
	h := newHarness(t, Config{})
	h.must(0, create("/p", "", ModePersistent))
	buf := make([]WatchEvent, 0, 8)
	var first Txn
	for i, name := range []string{"/p/a", "/p/b"} {
		txn, err := h.prep(0, create(name, "v", ModePersistent))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = txn
		}
		res, evs := h.tr.ApplyAppend(txn, buf[:0])
		h.p.Applied(txn.Zxid)
		want := []WatchEvent{{Type: EventNodeCreated, Path: name}, {Type: EventNodeChildrenChanged, Path: "/p"}}
		if res.Err != CodeOK || !slices.Equal(evs, want) || &evs[0] != &buf[:1][0] {
			t.Fatalf("create %s: %+v, events %+v (in the given array: %v); want %+v in it", name, res, evs, &evs[0] == &buf[:1][0], want)
		}
	}
	kept := append(buf[:0], WatchEvent{Type: EventNodeDeleted, Path: "/x"})
	if res, evs := h.tr.ApplyAppend(first, kept); res.Zxid != first.Zxid || len(evs) != 1 || evs[0].Path != "/x" {
		t.Errorf("replaying an applied txn: %+v, %+v; want no change and the events given", res, evs)
	}
}

// Replay leaves a tree exactly as Apply does, txn after txn, for every
// kind of txn the pipeline logs (failed multis and error txns too), and
// a replayed multi costs no results or events array once Replay has one.
func TestReplayIsApplyWithoutResults(t *testing.T) {
	txns := sampleTxns(t)
	applied, replayed := New(Config{ExtendedTypesEnabled: true}), New(Config{ExtendedTypesEnabled: true})
	multis := 0
	for i, txn := range txns {
		applied.Apply(txn)
		replayed.Replay(txn)
		if a, r := applied.DescribeTree(), replayed.DescribeTree(); a != r {
			t.Fatalf("after txn %d (%v) the trees differ (-applied +replayed):\n%s", i, txn.Type, cmp.Diff(a, r))
		}
		if txn.Type == OpMulti {
			multis++
		}
	}
	if multis == 0 {
		t.Fatal("no multi among the sample txns")
	}

	// A multi of creates under one parent, replayed again and again at
	// rising zxids with fresh names.
	tr := New(Config{})
	tr.Replay(Txn{TxnHeader: TxnHeader{Zxid: 1, Type: OpCreate}, Path: "/p", ACL: OpenACLUnsafe, Kind: KindPersistent})
	zxid := int64(1)
	multi := func() Txn {
		zxid++
		m := Txn{TxnHeader: TxnHeader{Zxid: zxid, Type: OpMulti}}
		for i := range 100 {
			m.Txns = append(m.Txns, Txn{TxnHeader: TxnHeader{Type: OpCreate}, Path: fmt.Sprintf("/p/%d-%d", zxid, i), ACL: OpenACLUnsafe, Kind: KindPersistent})
		}
		return m
	}
	tr.Replay(multi())
	// The znodes themselves allocate (slab chunks, B-tree nodes); the
	// results (100 of them) and events (200) would be two more arrays of
	// some 20 KB between them. The least of three tries, so a runtime
	// allocation in the middle of one does not count.
	least := uint64(math.MaxUint64)
	for range 3 {
		next := multi()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tr.Replay(next)
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if least > 8<<10 {
		t.Fatalf("replaying a multi of 100 creates allocated %d bytes", least)
	}
}
