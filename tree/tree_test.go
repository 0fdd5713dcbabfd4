package tree

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path string
		seq  bool
		ok   bool
	}{
		{"/", false, true},
		{"/a", false, true},
		{"/a/b-c_d.e", false, true},
		{"/a/...", false, true},
		{"/a/.b", false, true},
		{"/a/b..", false, true},
		{"/é/日本", false, true},
		{"", false, false},
		{"a", false, false},
		{"/a/", false, false},
		{"/a/", true, true}, // sequential prefix
		{"//a", false, false},
		{"/a//b", false, false},
		{"/.", false, false},
		{"/a/.", false, false},
		{"/a/./b", false, false},
		{"/..", false, false},
		{"/a/../b", false, false},
		{"/a\x00", false, false},
		{"/a\x01", false, false},
		{"/a\x1f", false, false},
		{"/a\x7f", false, false},
		{"/a\u0085", false, false},
		{"/a\u009f", false, false},
		{"/a\u00a0", false, true},
		{"/a\ue000", false, false},
		{"/a\uf8ff", false, false},
		{"/a\uf900", false, true},
		{"/a\ufff0", false, false},
		{"/a\U0001F600", false, false}, // a surrogate pair in Java
		{"/a\xff", false, false},       // invalid UTF-8: U+FFFD to Java, which rejects it
	}
	for _, tc := range tests {
		err := ValidatePath(tc.path, tc.seq)
		if got := err == nil; got != tc.ok {
			t.Errorf("ValidatePath(%q, %v) = %v, want ok=%v", tc.path, tc.seq, err, tc.ok)
		}
		if err != nil && CodeOf(err) != CodeBadArguments {
			t.Errorf("ValidatePath(%q): code %v", tc.path, CodeOf(err))
		}
	}
}

func TestComparePaths(t *testing.T) {
	paths := []string{"/a-c", "/a/b", "/", "/ab", "/a", "/a/b/c", "/b", "/a/c"}
	slices.SortFunc(paths, ComparePaths)
	want := []string{"/", "/a", "/a/b", "/a/b/c", "/a/c", "/a-c", "/ab", "/b"}
	if diff := cmp.Diff(want, paths); diff != "" {
		t.Errorf("path order (-want +got):\n%s", diff)
	}
}

func walkTree(t *testing.T) *Tree {
	h := newHarness(t, Config{})
	for _, p := range []string{"/a", "/a-c", "/ab", "/a/c", "/a/b", "/a/b/z", "/a/b/y", "/b"} {
		h.must(0, create(p, "", ModePersistent))
	}
	return h.tr
}

func TestWalk(t *testing.T) {
	tr := walkTree(t)
	all := []string{"/", "/a", "/a/b", "/a/b/y", "/a/b/z", "/a/c", "/a-c", "/ab", "/b",
		"/zookeeper", "/zookeeper/config", "/zookeeper/quota"}
	tests := []struct {
		from string
		want []string
	}{
		{"", all},
		{"/", all},
		{"/a", all[1:]},
		{"/a/", all[2:]},
		{"/a/b/yy", all[4:]},
		{"/a/bb", all[5:]},
		{"/a/c/x", all[6:]},
		{"/a0", all[7:]},
		{"/zz", nil},
		{"/zookeeper/quota/x", nil},
		{"a", nil},
	}
	for _, tc := range tests {
		var got []string
		tr.Walk(tc.from, func(p string, n *Node) bool {
			got = append(got, p)
			return true
		})
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Walk(%q) (-want +got):\n%s", tc.from, diff)
		}
	}
	var got []string
	tr.Walk("", func(p string, n *Node) bool {
		got = append(got, p)
		return len(got) < 3
	})
	if len(got) != 3 {
		t.Errorf("Walk did not stop: %v", got)
	}
}

// TestWalkWideParents checks Walk against the node-by-node successor
// (next) on a tree whose parents have more children than one run of
// eachChild (64), from every path and from just after each, with early
// stops, so resuming inside a wide parent and crossing run boundaries are
// covered.
func TestWalkWideParents(t *testing.T) {
	h := newHarness(t, Config{})
	for _, p := range []string{"/w", "/x"} {
		h.must(0, create(p, "", ModePersistent))
	}
	for i := 0; i < 150; i++ {
		h.must(0, create(fmt.Sprintf("/w/k%03d", i), "", ModePersistent))
	}
	for i := 0; i < 70; i++ {
		h.must(0, create(fmt.Sprintf("/w/k050/c%02d", i), "", ModePersistent))
		h.must(0, create(fmt.Sprintf("/x/%02d", i), "", ModePersistent))
	}
	tr := h.tr
	reference := func(from string, limit int) []string {
		var out []string
		for it := tr.seek(from); it != nil && len(out) < limit; it = tr.next(it, tr.root) {
			out = append(out, it.path)
		}
		return out
	}
	var froms []string
	tr.Walk("", func(p string, _ *Node) bool {
		froms = append(froms, p, p+"0", p+"/")
		return true
	})
	if len(froms) != 3*(2+150+70+70+4) { // the nodes made here; /, /zookeeper{,/config,/quota}
		t.Fatalf("full walk saw %d nodes", len(froms)/3)
	}
	for _, from := range froms {
		for _, limit := range []int{1, 63, 64, 65, 1 << 30} {
			var got []string
			tr.Walk(from, func(p string, _ *Node) bool {
				got = append(got, p)
				return len(got) < limit
			})
			if diff := cmp.Diff(reference(from, limit), got); diff != "" {
				t.Fatalf("Walk(%q) stopping after %d (-want +got):\n%s", from, limit, diff)
			}
		}
	}
}

func TestReads(t *testing.T) {
	h := newHarness(t, Config{})
	h.must(0, create("/r", "data", ModePersistent))
	for _, c := range []string{"c", "a", "b"} {
		h.must(0, create("/r/"+c, "", ModePersistent))
	}
	h.must(0, create("/r/a/x", "", ModePersistent))
	h.must(0, Request{Op: OpCreate, Path: "/r/nil"}.withACL())
	st := h.stat("/r")
	tests := []struct {
		name string
		req  Request
		want Result
	}{
		{"exists", Request{Op: OpExists, Path: "/r"}, Result{Stat: &st}},
		{"exists missing", Request{Op: OpExists, Path: "/nope"}, Result{Err: CodeNoNode}},
		{"exists NUL", Request{Op: OpExists, Path: "/r\x00"}, Result{Err: CodeBadArguments}},
		{"getData", Request{Op: OpGetData, Path: "/r"}, Result{Data: []byte("data"), Stat: &st}},
		{"getData missing", Request{Op: OpGetData, Path: "/r/zz"}, Result{Err: CodeNoNode}},
		{"getChildren sorted", Request{Op: OpGetChildren, Path: "/r"}, Result{Children: []string{"a", "b", "c", "nil"}}},
		{"getChildren none", Request{Op: OpGetChildren, Path: "/r/b"}, Result{Children: []string{}}},
		{"getChildren2", Request{Op: OpGetChildren2, Path: "/r"}, Result{Children: []string{"a", "b", "c", "nil"}, Stat: &st}},
		{"getAllChildrenNumber", Request{Op: OpGetAllChildrenNumber, Path: "/r"}, Result{Number: 5}},
		{"getAllChildrenNumber /zookeeper", Request{Op: OpGetAllChildrenNumber, Path: "/zookeeper"}, Result{Number: 2}},
		{"getAllChildrenNumber /", Request{Op: OpGetAllChildrenNumber, Path: "/"}, Result{Number: 9}},
		{"getACL", Request{Op: OpGetACL, Path: "/r"}, Result{ACL: OpenACLUnsafe, Stat: &st}},
		{"root alias", Request{Op: OpGetChildren, Path: ""}, Result{Children: []string{"r", "zookeeper"}}},
		{"sync is not a read", Request{Op: OpSync, Path: "/"}, Result{Err: CodeUnimplemented}},
		{"multiRead", Request{Op: OpMultiRead, Ops: []Request{
			{Op: OpGetData, Path: "/r"},
			{Op: OpGetChildren, Path: "/nope"},
			{Op: OpGetChildren, Path: "/r/a"},
		}}, Result{Results: []Result{
			{Op: OpGetData, Data: []byte("data"), Stat: &st},
			{Op: OpError, Err: CodeNoNode},
			{Op: OpGetChildren, Children: []string{"x"}},
		}}},
		{"multiRead with a write", Request{Op: OpMultiRead, Ops: []Request{{Op: OpExists, Path: "/r"}}}, Result{Err: CodeMarshallingError}},
	}
	for _, tc := range tests {
		got := h.tr.Read(tc.req, 0)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	if got := h.tr.Read(Request{Op: OpGetData, Path: "/r/nil"}, 0); got.Data != nil || got.Err != CodeOK {
		t.Errorf("nil data read back as %#v", got)
	}
}

func (r Request) withACL() Request {
	r.ACL = OpenACLUnsafe
	return r
}

func TestContainersAndTTL(t *testing.T) {
	h := newHarness(t, Config{ExtendedTypesEnabled: true})
	createdAt := h.now + 7
	h.must(0, Request{Op: OpCreateContainer, Path: "/c", ACL: OpenACLUnsafe, Mode: ModeContainer})
	h.must(0, Request{Op: OpCreateContainer, Path: "/fresh", ACL: OpenACLUnsafe, Mode: ModeContainer})
	h.must(0, Request{Op: OpCreateTTL, Path: "/t", ACL: OpenACLUnsafe, Mode: ModePersistentTTL, TTL: 1000})
	st := h.stat("/c")
	if st.EphemeralOwner != 0 {
		t.Errorf("container ephemeralOwner = %#x, want 0 (as clients see it)", st.EphemeralOwner)
	}
	if n, _ := h.tr.Get("/c"); n.EphemeralOwner() != math.MinInt64 {
		t.Errorf("persisted container owner = %#x", n.EphemeralOwner())
	}
	if n, _ := h.tr.Get("/t"); n.EphemeralOwner() != -0x0100000000000000|1000 {
		t.Errorf("persisted TTL owner = %#x", n.EphemeralOwner())
	}
	// TTL nodes may have children; containers hold them.
	h.must(0, create("/c/x", "", ModePersistent))
	h.must(0, create("/t/x", "", ModePersistent))
	if got := h.tr.ExpiryCandidates(createdAt + 10_000); len(got) != 0 {
		t.Errorf("candidates with children: %v", got)
	}
	h.must(0, Request{Op: OpDelete, Path: "/c/x", Version: -1})
	h.must(0, Request{Op: OpDelete, Path: "/t/x", Version: -1})
	tmtime := h.stat("/t").Mtime
	if got := h.tr.ExpiryCandidates(tmtime + 1000); !cmp.Equal(got, []string{"/c"}) {
		t.Errorf("at mtime+ttl: %v, want [/c]", got)
	}
	if got := h.tr.ExpiryCandidates(tmtime + 1001); !cmp.Equal(got, []string{"/c", "/t"}) {
		t.Errorf("after mtime+ttl: %v, want [/c /t]", got)
	}
	// setData refreshes a TTL node's mtime.
	h.must(0, Request{Op: OpSetData, Path: "/t", Version: -1})
	if got := h.tr.ExpiryCandidates(tmtime + 1001); !cmp.Equal(got, []string{"/c"}) {
		t.Errorf("after touching /t: %v, want [/c]", got)
	}
	// The reaper's delete is re-checked: a child created meanwhile wins.
	h.must(0, create("/c/y", "", ModePersistent))
	if res, _ := h.do(0, Request{Op: OpDeleteContainer, Path: "/c"}); res.Err != CodeNotEmpty {
		t.Errorf("deleteContainer of refilled container: %v", res.Err)
	}
	h.must(0, Request{Op: OpDelete, Path: "/c/y", Version: -1})
	_, evs := h.do(0, Request{Op: OpDeleteContainer, Path: "/c"})
	if diff := cmp.Diff([]WatchEvent{{EventNodeDeleted, "/c"}, {EventNodeChildrenChanged, "/"}}, evs); diff != "" {
		t.Errorf("deleteContainer events (-want +got):\n%s", diff)
	}
	// A never-used container is kept unless ContainerMaxNeverUsedMs says.
	cfg := h.tr.Config()
	cfg.ContainerMaxNeverUsedMs = 500
	h.tr.cfg = cfg
	if got := h.tr.ExpiryCandidates(createdAt + 600); !cmp.Equal(got, []string{"/fresh"}) {
		t.Errorf("never-used container: %v", got)
	}
	// TTL validation.
	for _, tc := range []struct {
		ttl  int64
		want Code
	}{{0, CodeBadArguments}, {-1, CodeBadArguments}, {MaxTTL + 1, CodeBadArguments}, {MaxTTL, CodeOK}} {
		res, _ := h.do(0, Request{Op: OpCreateTTL, Path: fmt.Sprintf("/ttl%d", tc.ttl), ACL: OpenACLUnsafe, Mode: ModePersistentTTL, TTL: tc.ttl})
		if res.Err != tc.want {
			t.Errorf("ttl %d: got %v, want %v", tc.ttl, res.Err, tc.want)
		}
	}
	// create (op 1) with the container flag makes a persistent node, as
	// ZooKeeper's CreateTxn carries only the ephemeral bit.
	h.must(0, create("/notcontainer", "", ModeContainer))
	if n, _ := h.tr.Get("/notcontainer"); n.Kind != KindPersistent {
		t.Errorf("create with container mode made a %v", n.Kind)
	}
}

func TestTTLNeverExpiresWithoutExtendedTypes(t *testing.T) {
	tr := New(Config{})
	tr.Apply(Txn{TxnHeader: TxnHeader{Zxid: 1, Time: 0, Type: OpCreateTTL}, Path: "/t", ACL: OpenACLUnsafe, Kind: KindTTL, TTL: 1, ParentCversion: 1})
	if got := tr.ExpiryCandidates(1 << 50); len(got) != 0 {
		t.Errorf("candidates: %v", got)
	}
}

func TestPutNodeRebuildsTree(t *testing.T) {
	h := newHarness(t, Config{ExtendedTypesEnabled: true})
	h.must(7, Request{Op: OpCreateSession, SessionTimeout: 1234})
	h.must(0, create("/a", "x", ModePersistent))
	h.must(7, create("/a/e", "y", ModeEphemeral))
	h.must(0, Request{Op: OpCreateContainer, Path: "/c", ACL: OpenACLUnsafe, Mode: ModeContainer})
	h.must(0, Request{Op: OpSetData, Path: "/zookeeper", Data: []byte("z"), Version: -1})
	rebuilt := New(h.tr.Config())
	h.tr.Walk("", func(p string, n *Node) bool {
		if err := rebuilt.PutNode(p, *n); err != nil {
			t.Fatalf("PutNode %s: %v", p, err)
		}
		return true
	})
	for id, to := range h.tr.Sessions() {
		rebuilt.PutSession(id, to)
	}
	rebuilt.SetLastZxid(h.tr.LastZxid())
	if diff := cmp.Diff(h.tr.DescribeTree(), rebuilt.DescribeTree()); diff != "" {
		t.Errorf("rebuilt tree (-want +got):\n%s", diff)
	}
	if rebuilt.NodeCount() != h.tr.NodeCount() || rebuilt.ApproximateDataSize() != h.tr.ApproximateDataSize() {
		t.Errorf("counts: %d/%d vs %d/%d", rebuilt.NodeCount(), rebuilt.ApproximateDataSize(), h.tr.NodeCount(), h.tr.ApproximateDataSize())
	}
	if !cmp.Equal(rebuilt.Ephemerals(7), []string{"/a/e"}) {
		t.Errorf("ephemerals not indexed: %v", rebuilt.Ephemerals(7))
	}
	if err := rebuilt.PutNode("/no/parent", Node{Kind: KindPersistent}); CodeOf(err) != CodeNoNode {
		t.Errorf("orphan PutNode: %v", err)
	}
	if err := rebuilt.PutNode("/bad/", Node{Kind: KindPersistent}); err == nil {
		t.Errorf("PutNode of a bad path succeeded")
	}
}

func TestDescribeTree(t *testing.T) {
	h := newHarness(t, Config{})
	h.must(9, Request{Op: OpCreateSession, SessionTimeout: 5000})
	h.must(9, Request{Op: OpCreate, Path: "/e", Data: []byte("v"), ACL: []ACL{{PermRead | PermWrite, AnyoneID}}, Mode: ModeEphemeral})
	got := h.tr.DescribeTree()
	want := strings.Join([]string{
		"lastZxid=0x100000002",
		"/ persistent czxid=0x0 mzxid=0x0 pzxid=0x100000002 ctime=0 mtime=0 v=0 cv=1 av=0 children=2 data=\"\" acl=[world:anyone:cdrwa]",
		"/e ephemeral owner=0x9 czxid=0x100000002 mzxid=0x100000002 pzxid=0x100000002 ctime=1700000000014 mtime=1700000000014 v=0 cv=0 av=0 children=0 data=\"v\" acl=[world:anyone:rw]",
		"/zookeeper persistent czxid=0x0 mzxid=0x0 pzxid=0x0 ctime=0 mtime=0 v=0 cv=0 av=0 children=2 data=\"\" acl=[world:anyone:cdrwa]",
		"/zookeeper/config persistent czxid=0x0 mzxid=0x0 pzxid=0x0 ctime=0 mtime=0 v=0 cv=0 av=-1 children=0 data=\"\" acl=[world:anyone:r]",
		"/zookeeper/quota persistent czxid=0x0 mzxid=0x0 pzxid=0x0 ctime=0 mtime=0 v=0 cv=0 av=0 children=0 data=\"\" acl=[world:anyone:cdrwa]",
		"session 0x9 timeout=5000",
		"",
	}, "\n")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DescribeTree (-want +got):\n%s", diff)
	}
}

// SetConfigNode changes /zookeeper/config as a ZooKeeper member's start
// does: data, version -1, mzxid the config version, mtime; its ACL,
// creation fields and the tree's data size follow.
func TestSetConfigNode(t *testing.T) {
	tr := New(Config{})
	size := tr.ApproximateDataSize()
	data := []byte("server.1=127.0.0.1:2888:3888:participant\nversion=0")
	tr.SetConfigNode(data, 0, 1234)
	n, ok := tr.Get(ConfigPath)
	if !ok {
		t.Fatal("no config node")
	}
	if string(n.Data) != string(data) || n.Version != -1 || n.Mzxid != 0 || n.Mtime != 1234 || n.Aversion != -1 ||
		n.Czxid != 0 || len(n.ACL) != 1 || n.ACL[0].Perms != ReadACLUnsafe[0].Perms {
		t.Fatalf("config node %+v", n)
	}
	if got := tr.ApproximateDataSize(); got != size+int64(len(data)) {
		t.Fatalf("data size %d, want %d", got, size+int64(len(data)))
	}
	if tr.NodeCount() != New(Config{}).NodeCount() {
		t.Fatal("node count changed")
	}
}
