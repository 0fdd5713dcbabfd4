package tree

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/google/btree"
)

// Config configures a Tree.
type Config struct {
	// SuperDigest is "super:base64(sha1(super:password))"; a session whose
	// digest auth produces exactly this id also gets Id{"super", ""}, which
	// passes every ACL check (zookeeper.DigestAuthenticationProvider.superDigest).
	SuperDigest string
	// ExtendedTypesEnabled allows TTL nodes (zookeeper.extendedTypesEnabled).
	// Without it createTTL (and TTL create modes) fail with CodeUnimplemented
	// and existing TTL nodes never expire, as in ZooKeeper 3.8. Containers
	// are always allowed.
	ExtendedTypesEnabled bool
	// ContainerMaxNeverUsedMs, if > 0, makes a container that never had a
	// child an expiry candidate once now - mtime exceeds it
	// (znode.container.maxNeverUsedIntervalMs). 0 keeps them forever.
	ContainerMaxNeverUsedMs int64
	// X509 accepts ACLs of the x509 scheme (a client certificate's
	// subject), as ZooKeeper does once its X509AuthenticationProvider is
	// registered (authProvider.N=...X509AuthenticationProvider); without
	// it they are invalid ACLs, as an unknown scheme.
	X509 bool
	// SASL accepts ACLs of the sasl scheme, as ZooKeeper once its
	// SASLAuthenticationProvider is registered (authProvider.N=...).
	SASL bool
}

// Tree is the znode tree of one server: a projection of the txn log.
//
// Concurrency: a Tree has a single owner. Methods that change it (Apply,
// ApplyResult, PutNode, PutSession, SetLastZxid) need exclusive access; all
// other methods only read and may run concurrently with each other (e.g.
// under a sync.RWMutex read lock). Prep reads the tree and writes only the
// Pending passed to it.
type Tree struct {
	cfg   Config
	nodes *btree.BTreeG[*item]
	root  *item

	// Invariant: lastZxid is the largest zxid applied (0 for a new tree).
	lastZxid int64

	// Replay's arrays, emptied, kept for the next txn it replays.
	replayEvents  []WatchEvent
	replayResults []Result

	sessions map[int64]int32 // session id → timeout ms
	// sessionSecret keys session passwords (OpSessionSecret); nil until
	// the first such txn.
	sessionSecret []byte
	ephemerals    map[int64]map[string]struct{} // session id → its ephemeral paths
	containers    map[string]struct{}
	ttls          map[string]struct{}

	count    int   // number of znodes, root included
	dataSize int64 // Σ len(path)+len(data), as DataTree.approximateDataSize

	// lastParent caches the parent of the last create: runs of creates
	// under one parent (replay of a bulk load, queues, lock recipes) skip
	// a B-tree descent each. Invariant: nil or an item in nodes.
	lastParent *item
	// putStack is PutNode's path-order cursor: the last node put and the
	// ancestors above it that were put or looked up. Invariant: every
	// item on it is in nodes (remove clears it).
	putStack []*item
	// slab holds every item but the root.
	slab itemSlab
	// acls holds every distinct ACL list the items name.
	acls aclTable
}

// New returns the tree of a fresh ZooKeeper 3.8 server: "/", "/zookeeper",
// "/zookeeper/quota" and "/zookeeper/config", every stat field zero (so
// clients see /zookeeper with cversion -2 and numChildren 2), ACL
// world:anyone:cdrwa except /zookeeper/config, which is world:anyone:r with
// aversion -1 (DataTree's constructor and addConfigNode).
func New(cfg Config) *Tree {
	t := &Tree{
		cfg:        cfg,
		nodes:      btree.NewG[*item](32, itemLess),
		sessions:   make(map[int64]int32),
		ephemerals: make(map[int64]map[string]struct{}),
		containers: make(map[string]struct{}),
		ttls:       make(map[string]struct{}),
		acls:       newACLTable(),
	}
	root := newItem("/")
	root.setValue([]byte{})
	root.acl, root.kind = aclOpen, KindPersistent
	t.root = &root
	t.nodes.ReplaceOrInsert(t.root)
	t.count = 1
	t.dataSize = 1
	for _, p := range []string{"/zookeeper", "/zookeeper/quota", "/zookeeper/config"} {
		n := Node{Data: []byte{}, ACL: OpenACLUnsafe, Kind: KindPersistent}
		if p == "/zookeeper/config" {
			n.ACL = ReadACLUnsafe
			n.Aversion = -1
		}
		if err := t.PutNode(p, n); err != nil {
			panic(fmt.Sprintf("tree: building %s: %v", p, err))
		}
	}
	return t
}

// ConfigPath is the znode holding an ensemble's configuration.
const ConfigPath = "/zookeeper/config"

// SetConfigNode puts an ensemble member's configuration text in
// /zookeeper/config as Apache ZooKeeper 3.8 does when a member starts: not
// a txn but a local change, data version -1, mzxid the configuration's
// version (0 for a static zoo.cfg), mtime the given time. No watch fires.
func (t *Tree) SetConfigNode(data []byte, configVersion, mtime int64) {
	it := t.get(ConfigPath)
	if it == nil {
		panic("tree: no " + ConfigPath)
	}
	n := t.nodeOf(it)
	n.Data, n.Version, n.Mzxid, n.Mtime = data, -1, configVersion, mtime
	if err := t.PutNode(ConfigPath, n); err != nil {
		panic(fmt.Sprintf("tree: setting %s: %v", ConfigPath, err))
	}
}

// Config returns the configuration the tree was built with.
func (t *Tree) Config() Config { return t.cfg }

// LastZxid is the largest zxid applied to the tree.
func (t *Tree) LastZxid() int64 { return t.lastZxid }

// SetLastZxid sets LastZxid, for a tree rebuilt from a snapshot whose walk
// began at z: txns with zxid <= z are then skipped by Apply and later ones
// applied (idempotently over a fuzzy snapshot).
func (t *Tree) SetLastZxid(z int64) { t.lastZxid = z }

func (t *Tree) get(path string) *item {
	parent, name, ok := splitKey(path)
	if !ok {
		return nil
	}
	p := keyProbe(parent, name, "")
	it, found := t.nodes.Get(&p.it)
	p.release()
	if !found {
		return nil
	}
	return it
}

// Get returns a copy of the node at path (ZooKeeper's alias "" is the
// root). Its Data and ACL point into the tree: read-only.
func (t *Tree) Get(path string) (Node, bool) {
	it := t.get(path)
	if it == nil {
		return Node{}, false
	}
	return t.nodeOf(it), true
}

// StatOf is the client-visible stat of the node at path.
func (t *Tree) StatOf(path string) (Stat, bool) {
	it := t.get(path)
	if it == nil {
		return Stat{}, false
	}
	return it.stat(), true
}

// firstChild returns the child of it with the smallest name, or nil.
func (t *Tree) firstChild(it *item) *item {
	if it.numChildren == 0 {
		return nil
	}
	return t.firstChildFrom(childParentKey(it.path), "")
}

// firstChildFrom returns the first child of the node whose children have
// parent key pk, with name >= from.
func (t *Tree) firstChildFrom(pk, from string) *item {
	var out *item
	p := keyProbe(pk, from, "")
	t.nodes.AscendGreaterOrEqual(&p.it, func(c *item) bool {
		if c.parent() != pk {
			return false
		}
		if c.name() == "" { // the root itself, key ("", "")
			return true
		}
		out = c
		return false
	})
	p.release()
	return out
}

// nextSibling returns the sibling of it that follows it by name, or nil.
func (t *Tree) nextSibling(it *item) *item {
	if it == t.root {
		return nil
	}
	var out *item
	pk := it.parent()
	p := keyProbe(pk, it.name(), "\x00")
	t.nodes.AscendGreaterOrEqual(&p.it, func(c *item) bool {
		if c.parent() == pk {
			out = c
		}
		return false
	})
	p.release()
	return out
}

func (t *Tree) parentItem(it *item) *item {
	p := t.get(parentOf(it.path))
	if p == nil {
		panic(fmt.Sprintf("tree: node %q has no parent", it.path))
	}
	return p
}

// afterSubtree returns the first node after its subtree in path order,
// not climbing above top (nil if the walk leaves top's subtree).
func (t *Tree) afterSubtree(it, top *item) *item {
	for it != top && it != t.root {
		if s := t.nextSibling(it); s != nil {
			return s
		}
		it = t.parentItem(it)
	}
	return nil
}

// next returns the node after it in path order within top's subtree.
func (t *Tree) next(it, top *item) *item {
	if c := t.firstChild(it); c != nil {
		return c
	}
	return t.afterSubtree(it, top)
}

// seek returns the first node whose path is >= from in path order.
func (t *Tree) seek(from string) *item {
	if ComparePaths("/", from) >= 0 {
		return t.root
	}
	if !strings.HasPrefix(from, "/") {
		return nil // every path sorts before from
	}
	cur := t.root
	segs := strings.Split(from[1:], "/")
	for i, s := range segs {
		c := t.firstChildFrom(childParentKey(cur.path), s)
		switch {
		case c == nil:
			return t.afterSubtree(cur, t.root)
		case c.name() != s || i == len(segs)-1:
			return c
		}
		cur = c
	}
	return cur
}

// Walk calls fn for every node whose path is >= from in path order (see
// ComparePaths), parents before children, until fn returns false. fn must
// not change the tree. n is a copy of the node, overwritten for the next
// one: fn copies what it keeps (*n; Data and ACL are never mutated).
// Walk("", fn) visits every node.
// A snapshot writer may walk in chunks, resuming from the last path seen.
//
// Cost O(n) plus one B-tree search per 64 children visited: a node's
// children are contiguous in the B-tree, so they are read in runs rather
// than found one by one.
func (t *Tree) Walk(from string, fn func(path string, n *Node) bool) {
	it := t.seek(from)
	var n Node
	if it == nil || !t.walkSubtree(it, fn, &n) {
		return
	}
	// Then what follows its subtree: the later siblings of it and of each
	// of its ancestors, with their subtrees.
	for cur := it; cur != t.root; cur = t.parentItem(cur) {
		if !t.eachChild(cur.parent(), cur.name(), false, func(c *item) bool { return t.walkSubtree(c, fn, &n) }) {
			return
		}
	}
}

// walkSubtree calls fn for it and its descendants in path order, each
// node copied into scratch; false when fn stopped the walk.
func (t *Tree) walkSubtree(it *item, fn func(path string, n *Node) bool, scratch *Node) bool {
	*scratch = t.nodeOf(it)
	if !fn(it.path, scratch) {
		return false
	}
	if it.numChildren == 0 {
		return true
	}
	return t.eachChild(childParentKey(it.path), "", true, func(c *item) bool { return t.walkSubtree(c, fn, scratch) })
}

// eachChild calls visit, in name order, for the children under parent key
// pk named after `after` (or equal to it, if inclusive), until visit
// returns false (then eachChild does too). Children are fetched from the
// B-tree in runs of up to 64, so visit runs outside any B-tree iteration
// and may walk whole subtrees; the tree must not change meanwhile.
func (t *Tree) eachChild(pk, after string, inclusive bool, visit func(*item) bool) bool {
	var run [64]*item
	for {
		n := 0
		p := keyProbe(pk, after, "")
		t.nodes.AscendGreaterOrEqual(&p.it, func(c *item) bool {
			switch name := c.name(); {
			case c.parent() != pk:
				return false
			case name == "", !inclusive && name == after: // the root itself, key ("", ""); or the start
				return true
			}
			run[n] = c
			n++
			return n < len(run)
		})
		p.release()
		for _, c := range run[:n] {
			if !visit(c) {
				return false
			}
		}
		if n < len(run) {
			return true
		}
		after, inclusive = run[n-1].name(), false
	}
}

// Children returns the names of path's children, sorted, or false if there
// is no such node. Cost O(log n + children).
func (t *Tree) Children(path string) ([]string, bool) {
	it := t.get(path)
	if it == nil {
		return nil, false
	}
	return t.childNames(it), true
}

func (t *Tree) childNames(it *item) []string {
	out := make([]string, 0, it.numChildren)
	if it.numChildren == 0 {
		return out
	}
	pk := childParentKey(it.path)
	p := keyProbe(pk, "", "")
	t.nodes.AscendGreaterOrEqual(&p.it, func(c *item) bool {
		if c.parent() != pk {
			return false
		}
		if name := c.name(); name != "" {
			out = append(out, name)
		}
		return true
	})
	p.release()
	return out
}

// descendants counts the nodes strictly below it.
func (t *Tree) descendants(it *item) int32 {
	if it == t.root {
		return int32(t.count - 1)
	}
	var n int32
	for c := t.next(it, it); c != nil; c = t.next(c, it) {
		n++
	}
	return n
}

// NodeCount is the number of znodes, root and the /zookeeper nodes
// included. NB: ZooKeeper's zk_znode_count (DataTree.getNodeCount) is one
// more, because its map also holds the root under the alias "".
func (t *Tree) NodeCount() int { return t.count }

// ApproximateDataSize is Σ len(path) + len(data) over all znodes, as
// DataTree.approximateDataSize (zk_approximate_data_size). Lengths are in
// bytes (ZooKeeper counts UTF-16 units in paths; equal for ASCII).
func (t *Tree) ApproximateDataSize() int64 { return t.dataSize }

// Sessions returns a copy of the open sessions: id → timeout ms.
// MinSessionSecretBytes is the shortest session secret accepted.
const MinSessionSecretBytes = 16

// SessionSecret returns the key session passwords are derived from, nil if
// none was set. The caller must not modify it.
func (t *Tree) SessionSecret() []byte { return t.sessionSecret }

// SetSessionSecret sets the session secret (a snapshot being restored).
func (t *Tree) SetSessionSecret(b []byte) { t.sessionSecret = slices.Clone(b) }

func (t *Tree) Sessions() map[int64]int32 {
	out := make(map[int64]int32, len(t.sessions))
	for id, to := range t.sessions {
		out[id] = to
	}
	return out
}

// Ephemerals returns the paths of the session's ephemeral nodes in path
// order.
func (t *Tree) Ephemerals(session int64) []string {
	return sortedPaths(t.ephemerals[session])
}

// EphemeralCount is the number of ephemeral nodes (zk_ephemerals_count).
func (t *Tree) EphemeralCount() int {
	n := 0
	for _, s := range t.ephemerals {
		n += len(s)
	}
	return n
}

func sortedPaths(set map[string]struct{}) []string {
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.SortFunc(out, ComparePaths)
	return out
}

// ExpiryCandidates returns, in path order, the nodes ZooKeeper's
// ContainerManager would try to delete at wall time nowMs: containers
// without children that had a child once (persisted cversion > 0), or that
// never had one for longer than Config.ContainerMaxNeverUsedMs; and, when
// extended types are enabled, TTL nodes without children whose
// nowMs - mtime > ttl. The reaper submits OpDeleteContainer for each; Prep
// re-checks them against pending state.
func (t *Tree) ExpiryCandidates(nowMs int64) []string {
	var out []string
	for p := range t.containers {
		it := t.get(p)
		if it == nil || it.numChildren != 0 {
			continue
		}
		if it.cversion > 0 || (t.cfg.ContainerMaxNeverUsedMs != 0 && nowMs-it.mtime > t.cfg.ContainerMaxNeverUsedMs) {
			out = append(out, p)
		}
	}
	if t.cfg.ExtendedTypesEnabled {
		for p := range t.ttls {
			it := t.get(p)
			if it == nil || it.numChildren != 0 {
				continue
			}
			if ttl := it.ttl(); ttl != 0 && nowMs-it.mtime > ttl {
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, ComparePaths)
	return out
}

// PutNode inserts the node at path, or replaces the node there, keeping
// the indexes (children counts, ephemerals, containers, TTLs, sizes)
// consistent. It is for rebuilding a tree from a snapshot in path order:
// the parent must exist. n.NumChildren is ignored (derived). The tree may
// retain n.Data, which must not change afterwards; n.ACL is copied into
// the tree's ACL table when the list is new to it.
func (t *Tree) PutNode(path string, n Node) error {
	t.reap()
	if err := ValidatePath(path, false); err != nil {
		return fmt.Errorf("tree: put %q: %w", path, err)
	}
	if !n.Kind.valid() {
		return fmt.Errorf("tree: put %q: invalid kind %d", path, n.Kind)
	}
	if path == "/" {
		t.unindex(t.root)
		t.replace(t.root, &n)
		t.index(t.root)
		return nil
	}
	parent := t.putParent(parentOf(path))
	if parent == nil {
		return fmt.Errorf("tree: put %q: %w", path, CodeNoNode)
	}
	it, added := t.tryInsert(parent, path, &n)
	if !added { // a node every tree has (/zookeeper...), or a repeat
		t.unindex(it)
		t.replace(it, &n)
		t.index(it)
	}
	t.putStack = append(t.putStack, it)
	return nil
}

// putParent finds parentPath's item for PutNode. Nodes put in path order
// (a snapshot) come right after their parent or a sibling of an ancestor,
// so putStack (the last node put and its ancestors) has the parent on it
// nearly always; otherwise it falls back to a lookup.
func (t *Tree) putParent(parentPath string) *item {
	for i := len(t.putStack) - 1; i >= 0; i-- {
		if t.putStack[i].path == parentPath {
			t.putStack = t.putStack[:i+1]
			return t.putStack[i]
		}
	}
	p := t.get(parentPath)
	t.putStack = t.putStack[:0]
	if p != nil {
		t.putStack = append(t.putStack, p)
	}
	return p
}

// PutSession records an open session, for rebuilding from a snapshot.
func (t *Tree) PutSession(id int64, timeoutMs int32) { t.sessions[id] = timeoutMs }

// replace stores n's fields, Data and ACL in it, which keeps its path
// (re-packed with the new value) and children.
func (t *Tree) replace(it *item, n *Node) {
	it.putValue(n.Data)
	it.setFields(n)
	t.setACL(it, n.ACL)
}

// setACL points it at the table's entry for acl, taking a hold on that
// entry before dropping its hold on the old one (the two may be the same).
func (t *Tree) setACL(it *item, acl []ACL) {
	old := it.acl
	it.acl = t.acls.acquire(acl)
	t.acls.release(old)
}

// insert adds a new child of parent; the caller has checked it is absent.
func (t *Tree) insert(parent *item, path string, n *Node) *item {
	it, ok := t.tryInsert(parent, path, n)
	if !ok {
		panic(fmt.Sprintf("tree: insert of existing node %q", path))
	}
	return it
}

// tryInsert adds path under parent unless it exists (then it changes
// nothing and reports false), with one B-tree descent in the usual case.
func (t *Tree) tryInsert(parent *item, path string, n *Node) (*item, bool) {
	it := t.slab.alloc()
	*it = newItem(path)
	if old, dup := t.nodes.ReplaceOrInsert(it); dup {
		t.nodes.ReplaceOrInsert(old)
		*it = item{}
		t.slab.free = append(t.slab.free, it)
		return old, false
	}
	it.putValue(n.Data) // the same key: packing copies the path's bytes
	it.setFields(n)
	it.acl = t.acls.acquire(n.ACL)
	parent.numChildren++
	t.count++
	t.index(it)
	return it, true
}

// cachedParent finds the item of parentPath, through the one-entry cache.
func (t *Tree) cachedParent(parentPath string) *item {
	if p := t.lastParent; p != nil && p.path == parentPath {
		return p
	}
	p := t.get(parentPath)
	if p != nil {
		t.lastParent = p
	}
	return p
}

// remove deletes a childless node; the caller has found it.
func (t *Tree) remove(parent, it *item) {
	if it.numChildren != 0 {
		panic(fmt.Sprintf("tree: removing %q with %d children", it.path, it.numChildren))
	}
	if _, ok := t.nodes.Delete(it); !ok {
		panic(fmt.Sprintf("tree: removing absent node %q", it.path))
	}
	if t.lastParent == it {
		t.lastParent = nil
	}
	t.putStack = t.putStack[:0]
	parent.numChildren--
	t.count--
	t.unindex(it)
	t.slab.dead = append(t.slab.dead, it)
}

func (t *Tree) index(it *item) {
	t.dataSize += it.size()
	switch it.kind {
	case KindEphemeral:
		s := t.ephemerals[it.owner]
		if s == nil {
			s = make(map[string]struct{})
			t.ephemerals[it.owner] = s
		}
		s[it.path] = struct{}{}
	case KindContainer:
		t.containers[it.path] = struct{}{}
	case KindTTL:
		t.ttls[it.path] = struct{}{}
	}
}

func (t *Tree) unindex(it *item) {
	t.dataSize -= it.size()
	switch it.kind {
	case KindEphemeral:
		if s := t.ephemerals[it.owner]; s != nil {
			delete(s, it.path)
			if len(s) == 0 {
				delete(t.ephemerals, it.owner)
			}
		}
	case KindContainer:
		delete(t.containers, it.path)
	case KindTTL:
		delete(t.ttls, it.path)
	}
}

// DescribeTree renders the whole tree, one node per line in path order,
// then the sessions: stable text for tests and tools.
func (t *Tree) DescribeTree() string {
	var b strings.Builder
	fmt.Fprintf(&b, "lastZxid=%#x\n", t.lastZxid)
	t.Walk("", func(path string, n *Node) bool {
		b.WriteString(DescribeNode(path, n))
		b.WriteByte('\n')
		return true
	})
	ids := make([]int64, 0, len(t.sessions))
	for id := range t.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "session %#x timeout=%d\n", id, t.sessions[id])
	}
	if t.sessionSecret != nil {
		fmt.Fprintf(&b, "session secret %d bytes, sha256 %x\n", len(t.sessionSecret), sha256.Sum256(t.sessionSecret))
	}
	return b.String()
}

// DescribeNode renders one node on one line.
func DescribeNode(path string, n *Node) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", path, n.Kind)
	switch n.Kind {
	case KindEphemeral:
		fmt.Fprintf(&b, " owner=%#x", n.Owner)
	case KindTTL:
		fmt.Fprintf(&b, " ttl=%d", n.TTL)
	}
	fmt.Fprintf(&b, " czxid=%#x mzxid=%#x pzxid=%#x ctime=%d mtime=%d v=%d cv=%d av=%d children=%d",
		n.Czxid, n.Mzxid, n.Pzxid, n.Ctime, n.Mtime, n.Version, n.Cversion, n.Aversion, n.numChildren)
	if n.Data == nil {
		b.WriteString(" data=nil")
	} else {
		fmt.Fprintf(&b, " data=%q", n.Data)
	}
	b.WriteString(" acl=")
	b.WriteString(describeACL(n.ACL))
	return b.String()
}

func describeACL(acl []ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = fmt.Sprintf("%s:%s:%s", a.ID.Scheme, a.ID.ID, permString(a.Perms))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func permString(p int32) string {
	var b []byte
	for _, x := range []struct {
		bit int32
		c   byte
	}{{PermCreate, 'c'}, {PermDelete, 'd'}, {PermRead, 'r'}, {PermWrite, 'w'}, {PermAdmin, 'a'}} {
		if p&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	if rest := p &^ PermAll; rest != 0 {
		b = fmt.Appendf(b, "+%#x", rest)
	}
	return string(b)
}

// SessionTimeout returns the timeout (ms) of session id and whether the
// tree holds it (its createSession applied, no closeSession yet).
func (t *Tree) SessionTimeout(id int64) (int32, bool) {
	to, ok := t.sessions[id]
	return to, ok
}

// FirstDifference compares two trees' whole state (every node as
// DescribeNode renders it, the sessions, the session secret, the last
// zxid) and describes the first difference found, "" if none. It holds
// one node's rendering at a time, not the whole tree's.
func FirstDifference(a, b *Tree) string {
	if a.lastZxid != b.lastZxid {
		return fmt.Sprintf("last zxid %#x vs %#x", a.lastZxid, b.lastZxid)
	}
	if a.count != b.count {
		return fmt.Sprintf("%d znodes vs %d", a.count, b.count)
	}
	diff := ""
	a.Walk("", func(path string, n *Node) bool {
		m, ok := b.Get(path)
		switch {
		case !ok:
			diff = path + " is only in the first"
		case !sameNode(n, &m):
			diff = DescribeNode(path, n) + " vs " + DescribeNode(path, &m)
		}
		return diff == ""
	})
	if diff != "" {
		return diff
	}
	if !maps.Equal(a.sessions, b.sessions) {
		return fmt.Sprintf("sessions differ (%d vs %d)", len(a.sessions), len(b.sessions))
	}
	if !bytes.Equal(a.sessionSecret, b.sessionSecret) {
		return "session secrets differ"
	}
	return ""
}

// sameNode reports whether two nodes hold the same state (what
// DescribeNode renders).
func sameNode(a, b *Node) bool {
	return bytes.Equal(a.Data, b.Data) && (a.Data == nil) == (b.Data == nil) && slices.Equal(a.ACL, b.ACL) &&
		a.Czxid == b.Czxid && a.Mzxid == b.Mzxid && a.Pzxid == b.Pzxid && a.Ctime == b.Ctime && a.Mtime == b.Mtime &&
		a.Version == b.Version && a.Cversion == b.Cversion && a.Aversion == b.Aversion &&
		a.Kind == b.Kind && a.Owner == b.Owner && a.TTL == b.TTL && a.numChildren == b.numChildren
}

// StateDigest hashes a tree's whole state (FirstDifference's view of it:
// every node in path order, the sessions, the secret, the last zxid) with
// xxhash64: two trees with equal digests hold the same state, short of a
// hash collision. It walks once, looking nothing up, so comparing two
// large trees costs two walks.
func StateDigest(t *Tree) uint64 {
	h := xxhash.New()
	var b []byte
	num := func(v int64) { b = binary.LittleEndian.AppendUint64(b, uint64(v)) }
	str := func(s string) { num(int64(len(s))); b = append(b, s...) }
	num(t.lastZxid)
	t.Walk("", func(path string, n *Node) bool {
		b = b[:0]
		str(path)
		if n.Data == nil {
			num(-1)
		} else {
			num(int64(len(n.Data)))
			b = append(b, n.Data...)
		}
		num(int64(len(n.ACL)))
		for _, a := range n.ACL {
			num(int64(a.Perms))
			str(a.ID.Scheme)
			str(a.ID.ID)
		}
		for _, v := range [...]int64{n.Czxid, n.Mzxid, n.Pzxid, n.Ctime, n.Mtime, int64(n.Version), int64(n.Cversion),
			int64(n.Aversion), int64(n.Kind), n.Owner, n.TTL, int64(n.numChildren)} {
			num(v)
		}
		h.Write(b)
		return true
	})
	ids := make([]int64, 0, len(t.sessions))
	for id := range t.sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	b = b[:0]
	for _, id := range ids {
		num(id)
		num(int64(t.sessions[id]))
	}
	num(int64(len(t.sessionSecret)))
	b = append(b, t.sessionSecret...)
	h.Write(b)
	return h.Sum64()
}
