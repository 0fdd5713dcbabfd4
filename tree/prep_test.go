package tree

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// precedenceHarness builds a tree with one node for each kind of failure.
func precedenceHarness(t *testing.T, cfg Config) *harness {
	h := newHarness(t, cfg)
	other := []ACL{{Perms: PermAll, ID: Id{SchemeDigest, DigestID("other:pw")}}}
	h.must(1, Request{Op: OpCreateSession, SessionTimeout: 1000})
	h.must(0, create("/p", "", ModePersistent))
	h.must(0, create("/p/child", "", ModePersistent))
	h.must(0, Request{Op: OpCreate, Path: "/locked", ACL: other})
	h.must(0, Request{Op: OpCreate, Path: "/ro", ACL: ReadACLUnsafe})
	h.must(1, create("/eph", "", ModeEphemeral))
	return h
}

func TestPrepErrorPrecedence(t *testing.T) {
	h := precedenceHarness(t, Config{})
	bad := []ACL{{Perms: PermAll, ID: Id{"world", "someone"}}}
	tests := []struct {
		name string
		req  Request
		want Code
	}{
		{"create: bad mode beats bad path", Request{Op: OpCreate, Path: "nope", ACL: OpenACLUnsafe, Mode: 9}, CodeBadArguments},
		{"create: TTL mode disabled beats bad path", Request{Op: OpCreate, Path: "nope", ACL: OpenACLUnsafe, Mode: ModePersistentTTL}, CodeUnimplemented},
		{"createTTL disabled", Request{Op: OpCreateTTL, Path: "/t", ACL: OpenACLUnsafe, Mode: ModePersistentTTL, TTL: 10}, CodeUnimplemented},
		{"createTTL with non-TTL mode", Request{Op: OpCreateTTL, Path: "/t", ACL: OpenACLUnsafe, Mode: ModePersistent, TTL: 10}, CodeBadArguments},
		{"create: no slash", Request{Op: OpCreate, Path: "nope", ACL: OpenACLUnsafe}, CodeBadArguments},
		{"create: NUL", Request{Op: OpCreate, Path: "/a\x00b", ACL: OpenACLUnsafe}, CodeBadArguments},
		{"create: bad ACL beats missing parent", Request{Op: OpCreate, Path: "/missing/x", ACL: bad}, CodeInvalidACL},
		{"create: empty ACL", Request{Op: OpCreate, Path: "/x", ACL: nil}, CodeInvalidACL},
		{"create: auth ACL without digest auth", Request{Op: OpCreate, Path: "/x", ACL: CreatorAllACL, Auth: []Id{{SchemeIP, "127.0.0.1"}}}, CodeInvalidACL},
		{"create: missing parent", create("/missing/x", "", ModePersistent), CodeNoNode},
		{"create: double slash is a missing parent", create("/p//x", "", ModePersistent), CodeNoNode},
		{"create: NoAuth beats bad path", create("/locked/.", "", ModePersistent), CodeNoAuth},
		{"create: NoAuth beats exists", create("/ro/x", "", ModePersistent), CodeNoAuth},
		{"create: bad path after ACL", create("/p/.", "", ModePersistent), CodeBadArguments},
		{"create: trailing slash", create("/p/", "", ModePersistent), CodeBadArguments},
		{"create: exists", create("/p/child", "", ModePersistent), CodeNodeExists},
		{"create: root exists", create("/", "", ModePersistent), CodeNodeExists},
		{"create: exists beats ephemeral parent", create("/eph", "", ModePersistent), CodeNodeExists},
		{"create: ephemeral parent", create("/eph/x", "", ModePersistent), CodeNoChildrenForEphemerals},

		{"delete: root", Request{Op: OpDelete, Path: "/", Version: -1}, CodeBadArguments},
		{"delete: /zookeeper", Request{Op: OpDelete, Path: "/zookeeper", Version: -1}, CodeBadArguments},
		{"delete: /zookeeper/quota", Request{Op: OpDelete, Path: "/zookeeper/quota", Version: -1}, CodeBadArguments},
		{"delete: no slash", Request{Op: OpDelete, Path: "p", Version: -1}, CodeBadArguments},
		{"delete: missing parent", Request{Op: OpDelete, Path: "/missing/x", Version: -1}, CodeNoNode},
		{"delete: NoAuth beats missing node", Request{Op: OpDelete, Path: "/locked/x", Version: -1}, CodeNoAuth},
		{"delete: missing node", Request{Op: OpDelete, Path: "/p/x", Version: -1}, CodeNoNode},
		{"delete: BadVersion beats NotEmpty", Request{Op: OpDelete, Path: "/p", Version: 5}, CodeBadVersion},
		{"delete: NotEmpty", Request{Op: OpDelete, Path: "/p", Version: -1}, CodeNotEmpty},
		{"delete: /zookeeper/config", Request{Op: OpDelete, Path: "/zookeeper/config", Version: -1}, CodeBadArguments},

		{"setData: bad path", Request{Op: OpSetData, Path: "/p/", Version: -1}, CodeBadArguments},
		{"setData: missing", Request{Op: OpSetData, Path: "/missing", Version: -1}, CodeNoNode},
		{"setData: NoAuth beats BadVersion", Request{Op: OpSetData, Path: "/ro", Version: 9}, CodeNoAuth},
		{"setData: BadVersion", Request{Op: OpSetData, Path: "/p", Version: 9}, CodeBadVersion},
		{"setData: /zookeeper/config is read-only", Request{Op: OpSetData, Path: "/zookeeper/config", Version: -1}, CodeNoAuth},

		{"setACL: bad path", Request{Op: OpSetACL, Path: "//", ACL: OpenACLUnsafe, Version: -1}, CodeBadArguments},
		{"setACL: InvalidACL beats NoNode", Request{Op: OpSetACL, Path: "/missing", ACL: bad, Version: -1}, CodeInvalidACL},
		{"setACL: missing", Request{Op: OpSetACL, Path: "/missing", ACL: OpenACLUnsafe, Version: -1}, CodeNoNode},
		{"setACL: needs ADMIN", Request{Op: OpSetACL, Path: "/ro", ACL: OpenACLUnsafe, Version: -1}, CodeNoAuth},
		{"setACL: BadVersion", Request{Op: OpSetACL, Path: "/p", ACL: OpenACLUnsafe, Version: 3}, CodeBadVersion},

		{"check: missing", Request{Op: OpCheck, Path: "/missing", Version: 0}, CodeNoNode},
		{"check: NoAuth", Request{Op: OpCheck, Path: "/locked", Version: 7}, CodeNoAuth},
		{"check: BadVersion", Request{Op: OpCheck, Path: "/p", Version: 7}, CodeBadVersion},

		{"deleteContainer: special", Request{Op: OpDeleteContainer, Path: "/zookeeper"}, CodeBadArguments},
		{"deleteContainer: missing", Request{Op: OpDeleteContainer, Path: "/missing"}, CodeNoNode},
		{"deleteContainer: NotEmpty", Request{Op: OpDeleteContainer, Path: "/p"}, CodeNotEmpty},
		{"deleteContainer: ephemeral", Request{Op: OpDeleteContainer, Path: "/eph"}, CodeBadVersion},

		{"reconfig disabled", Request{Op: OpReconfig}, CodeReconfigDisabled},
		{"not a write", Request{Op: OpGetData, Path: "/p"}, CodeUnimplemented},
		{"multi mixing reads", Request{Op: OpMulti, Ops: []Request{{Op: OpGetData, Path: "/p"}}}, CodeMarshallingError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := h.tr.DescribeTree()
			txn, err := h.tr.Prep(h.p, tc.req, TxnHeader{Session: 1, Zxid: h.zxid + 1, Time: 5})
			if got := CodeOf(err); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if h.p.Len() != 0 {
				t.Errorf("failed prep left %d pending records", h.p.Len())
			}
			if txn.Type != OpError || txn.Err != tc.want || txn.Zxid != h.zxid+1 {
				t.Errorf("error txn = %+v", txn)
			}
			// Logging the error txn burns the zxid and changes nothing else.
			cp := New(Config{})
			for _, l := range h.log {
				cp.Apply(l)
			}
			if res, evs := cp.ApplyResult(txn); res.Err != tc.want || len(evs) != 0 || cp.LastZxid() != txn.Zxid {
				t.Errorf("applying the error txn: %+v %v", res, evs)
			}
			if h.tr.DescribeTree() != before {
				t.Errorf("failed prep changed the tree")
			}
		})
	}
}

func TestPrepDeleteContainerOfPersistent(t *testing.T) {
	// ZooKeeper's deleteContainer only refuses plain ephemerals: the reaper
	// re-checks, so a persistent childless node is deleted.
	h := newHarness(t, Config{})
	h.must(0, create("/plain", "", ModePersistent))
	h.must(0, Request{Op: OpDeleteContainer, Path: "/plain"})
	if _, ok := h.tr.Get("/plain"); ok {
		t.Errorf("/plain still exists")
	}
}

func TestPrepSeesPending(t *testing.T) {
	h := newHarness(t, Config{})
	// Prepped but unapplied: create, setData twice with versions, delete.
	steps := []struct {
		req  Request
		want Code
	}{
		{create("/a", "", ModePersistent), CodeOK},
		{create("/a", "", ModePersistent), CodeNodeExists},
		{Request{Op: OpSetData, Path: "/a", Version: 0}, CodeOK},
		{Request{Op: OpSetData, Path: "/a", Version: 0}, CodeBadVersion},
		{Request{Op: OpSetData, Path: "/a", Version: 1}, CodeOK},
		{create("/a/b", "", ModePersistent), CodeOK},
		{Request{Op: OpDelete, Path: "/a", Version: 2}, CodeNotEmpty},
		{Request{Op: OpDelete, Path: "/a/b", Version: -1}, CodeOK},
		{Request{Op: OpDelete, Path: "/a", Version: 2}, CodeOK},
		{Request{Op: OpSetData, Path: "/a", Version: -1}, CodeNoNode},
		{Request{Op: OpSetACL, Path: "/", ACL: ReadACLUnsafe, Version: 0}, CodeOK},
		{create("/x", "", ModePersistent), CodeNoAuth},
	}
	var txns []Txn
	for i, s := range steps {
		txn, err := h.prep(0, s.req)
		if got := CodeOf(err); got != s.want {
			t.Fatalf("step %d %v %s: got %v, want %v", i, s.req.Op, s.req.Path, got, s.want)
		}
		if err == nil {
			txns = append(txns, txn)
		}
	}
	// Applying them one by one drains the overlay.
	for _, txn := range txns {
		h.apply(txn)
	}
	if h.p.Len() != 0 {
		t.Errorf("pending not drained: %d", h.p.Len())
	}
	if _, ok := h.tr.Get("/a"); ok {
		t.Errorf("/a exists after its delete applied")
	}
	if st := h.stat("/"); st.Aversion != 1 {
		t.Errorf("root aversion = %d, want 1", st.Aversion)
	}
}

func TestPendingAppliedKeepsNewerRecords(t *testing.T) {
	h := newHarness(t, Config{})
	t1, _ := h.prep(0, create("/a", "", ModePersistent))
	t2, _ := h.prep(0, Request{Op: OpSetData, Path: "/a", Version: 0})
	h.apply(t1)
	// /a's record now belongs to t2; version must still be 1 for prep.
	if _, err := h.prep(0, Request{Op: OpSetData, Path: "/a", Version: 0}); CodeOf(err) != CodeBadVersion {
		t.Errorf("after applying only t1: got %v, want BadVersion", err)
	}
	h.apply(t2)
	if h.p.Len() != 0 {
		t.Errorf("pending not drained: %d", h.p.Len())
	}
}

func TestMultiResults(t *testing.T) {
	h := newHarness(t, Config{})
	h.must(0, create("/m", "v", ModePersistent))
	z := h.zxid + 1
	res, evs := h.do(0, Request{Op: OpMulti, Ops: []Request{
		create("/m/a", "1", ModePersistent),
		create2("/m/b", "22", ModePersistent),
		{Op: OpSetData, Path: "/m", Data: []byte("w"), Version: 0},
		{Op: OpCheck, Path: "/m", Version: 1},
		{Op: OpDelete, Path: "/m/a", Version: 0},
	}})
	now := h.now
	stB := Stat{Czxid: z, Mzxid: z, Pzxid: z, Ctime: now, Mtime: now, DataLength: 2}
	stM := h.stat("/m")
	want := Result{Zxid: z, Results: []Result{
		{Op: OpCreate, Path: "/m/a"},
		{Op: OpCreate2, Path: "/m/b", Stat: &stB},
		{Op: OpSetData, Stat: &Stat{Czxid: stM.Czxid, Ctime: stM.Ctime, Mzxid: z, Mtime: now, Pzxid: z, Version: 1, Cversion: 2, DataLength: 1, NumChildren: 2}},
		{Op: OpCheck},
		{Op: OpDelete},
	}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("multi result (-want +got):\n%s", diff)
	}
	wantEvs := []WatchEvent{
		{EventNodeCreated, "/m/a"}, {EventNodeChildrenChanged, "/m"},
		{EventNodeCreated, "/m/b"}, {EventNodeChildrenChanged, "/m"},
		{EventNodeDataChanged, "/m"},
		{EventNodeDeleted, "/m/a"}, {EventNodeChildrenChanged, "/m"},
	}
	if diff := cmp.Diff(wantEvs, evs); diff != "" {
		t.Errorf("multi events (-want +got):\n%s", diff)
	}

	// A failing multi: the per-op results of ZooKeeper 3.8, nothing changes.
	before := h.tr.DescribeTree()
	txn, err := h.prep(0, Request{Op: OpMulti, Ops: []Request{
		create("/m/c", "", ModePersistent),
		{Op: OpSetData, Path: "/m", Version: 0}, // version is 1 now
		create("/m/d", "", ModePersistent),
		{Op: OpDelete, Path: "/nope", Version: -1},
	}})
	var me *MultiError
	if !errors.As(err, &me) {
		t.Fatalf("got %v, want *MultiError", err)
	}
	if CodeOf(err) != CodeBadVersion || me.Index != 1 {
		t.Errorf("MultiError = %+v", me)
	}
	wantFail := Result{Err: CodeBadVersion, Results: []Result{
		{Op: OpError, Err: CodeOK},
		{Op: OpError, Err: CodeBadVersion},
		{Op: OpError, Err: CodeRuntimeInconsistency},
		{Op: OpError, Err: CodeRuntimeInconsistency},
	}}
	if diff := cmp.Diff(wantFail, me.Result()); diff != "" {
		t.Errorf("failed multi result (-want +got):\n%s", diff)
	}
	if h.p.Len() != 0 {
		t.Errorf("failed multi left %d pending records", h.p.Len())
	}
	// The error txn, if logged, yields the same results and changes nothing.
	res, evs = h.apply(txn)
	wantFail.Zxid = txn.Zxid
	if diff := cmp.Diff(wantFail, res); diff != "" {
		t.Errorf("applied failed multi (-want +got):\n%s", diff)
	}
	if len(evs) != 0 || h.tr.DescribeTree() == before && h.tr.LastZxid() != txn.Zxid {
		t.Errorf("failed multi: events %v, lastZxid %#x", evs, h.tr.LastZxid())
	}
	// Ops in the same multi see each other; a failure rolls all of them back.
	_, err = h.prep(0, Request{Op: OpMulti, Ops: []Request{
		create("/m/e", "", ModePersistent),
		create("/m/e/f", "", ModePersistent),
		create("/m/e", "", ModePersistent),
	}})
	if me, ok := err.(*MultiError); !ok || me.Index != 2 || me.Code != CodeNodeExists {
		t.Errorf("got %v, want NodeExists at op 2", err)
	}
	if _, err := h.prep(0, create("/m/e/f", "", ModePersistent)); CodeOf(err) != CodeNoNode {
		t.Errorf("rolled-back multi still visible: %v", err)
	}
	// An empty multi succeeds with no results.
	if res := h.must(0, Request{Op: OpMulti}); len(res.Results) != 0 {
		t.Errorf("empty multi results = %v", res.Results)
	}
}

func TestSequentialNameMatchesZooKeeperFormat(t *testing.T) {
	for _, n := range []int32{0, 1, 9, 10, 123456789, 999999999, 1000000000, math.MaxInt32, -1, -123, -999999999, -1000000000, math.MinInt32} {
		want := "/a/seq-" + fmt.Sprintf("%010d", n)
		if got := sequentialName("/a/seq-", n); got != want {
			t.Errorf("sequentialName(%d) = %q, want %q", n, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { sequentialName("/a/seq-", 42) }); n != 1 {
		t.Errorf("sequentialName allocates %v times, want once (the name)", n)
	}
}

// sequentialNameData names as sequentialName does and puts the data right
// behind the name, so packing them for the tree copies nothing: one
// allocation for both.
func TestSequentialNameDataIsPacked(t *testing.T) {
	data := []byte("value")
	for _, n := range []int32{0, 42, math.MaxInt32, math.MinInt32} {
		name, d := sequentialNameData("/a/seq-", n, data)
		if name != sequentialName("/a/seq-", n) || string(d) != "value" || cap(d) != len(d) {
			t.Errorf("sequentialNameData(%d) = %q, %q (cap %d)", n, name, d, cap(d))
		}
		if p, pd := packPathData(name, d); unsafe.StringData(p) != unsafe.StringData(name) || &pd[0] != &d[0] {
			t.Errorf("sequentialNameData(%d): packPathData copied the name and data", n)
		}
	}
	if name, d := sequentialNameData("/a/seq-", 7, nil); name != "/a/seq-0000000007" || d != nil {
		t.Errorf("no data: %q %v", name, d)
	}
	if name, d := sequentialNameData("/a/seq-", 7, []byte{}); name != "/a/seq-0000000007" || d == nil || len(d) != 0 {
		t.Errorf("empty data: %q %v", name, d)
	}
	if n := testing.AllocsPerRun(100, func() { sequentialNameData("/a/seq-", 42, data) }); n != 1 {
		t.Errorf("sequentialNameData allocates %v times, want once", n)
	}
}
