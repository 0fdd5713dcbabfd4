package tree

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"unsafe"
)

// NodeKind is what a znode is: persistent, ephemeral, container or TTL.
// Zero is invalid. The numbers are stored in txns and snapshots: frozen.
type NodeKind uint8

const (
	KindPersistent NodeKind = 1
	KindEphemeral  NodeKind = 2
	KindContainer  NodeKind = 3
	KindTTL        NodeKind = 4
)

func (k NodeKind) String() string {
	switch k {
	case KindPersistent:
		return "persistent"
	case KindEphemeral:
		return "ephemeral"
	case KindContainer:
		return "container"
	case KindTTL:
		return "ttl"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k NodeKind) valid() bool { return k >= KindPersistent && k <= KindTTL }

// Persisted ephemeralOwner encodings (ZooKeeper's EphemeralType): a
// container's owner is math.MinInt64, a TTL node's is 0xff<<56 | ttl.
const (
	containerOwner int64 = math.MinInt64
	ttlOwnerMask   int64 = -0x0100000000000000 // 0xff00000000000000
	// MaxTTL is the largest TTL in milliseconds ZooKeeper accepts
	// (EphemeralType.TTL.maxValue(): 40 bits).
	MaxTTL int64 = 0x000000ffffffffff
)

// Node is one znode. Its exported fields are the persisted state exactly as
// ZooKeeper's DataNode + StatPersisted hold it; NumChildren is maintained by
// the tree. The tree does not store Nodes (see item): Get returns a copy,
// and the *Node Walk hands its callback is reused for the next node. Data
// and ACL point into the tree: callers never modify them.
type Node struct {
	// Data is nil or not as the creator sent it (ZooKeeper keeps a null
	// buffer distinct from an empty one). Never mutated in place.
	Data []byte
	// ACL is never mutated in place; it may be shared with txns.
	ACL []ACL

	Czxid, Mzxid, Pzxid int64
	Ctime, Mtime        int64 // ms since the Unix epoch, from txn headers
	Version             int32
	// Cversion is the persisted child counter: +1 per child created (never
	// decremented). Clients see 2*Cversion - NumChildren (ZooKeeper's
	// DataNode.copyStat), see Stat.
	Cversion int32
	Aversion int32

	Kind  NodeKind
	Owner int64 // the owning session for KindEphemeral, else 0
	TTL   int64 // milliseconds, KindTTL only

	// Invariant: numChildren == number of nodes whose parent is this node.
	numChildren int32
}

// NumChildren is the number of children of n.
func (n *Node) NumChildren() int32 { return n.numChildren }

// EphemeralOwner is the persisted ephemeralOwner field as ZooKeeper's
// StatPersisted stores it (session id, container marker or TTL encoding).
func (n *Node) EphemeralOwner() int64 {
	switch n.Kind {
	case KindEphemeral:
		return n.Owner
	case KindContainer:
		return containerOwner
	case KindTTL:
		return ttlOwnerMask | (n.TTL & MaxTTL)
	}
	return 0
}

// Stat is the stat a client sees for n (ZooKeeper's DataNode.copyStat):
// cversion is reported as 2*Cversion-NumChildren and ephemeralOwner only for
// plain ephemerals (containers and TTL nodes report 0).
func (n *Node) Stat() Stat {
	var it item
	it.setFields(n)
	it.dataLen, it.numChildren = int32(len(n.Data)), n.numChildren
	return it.stat()
}

// KindFromOwner decodes a persisted ephemeralOwner (as found in an Apache
// ZooKeeper snapshot) into a kind and TTL, the way ZooKeeper's EphemeralType
// does when extended types are enabled (extended) or not.
func KindFromOwner(owner int64, extended bool) (kind NodeKind, session, ttl int64) {
	switch {
	case owner == 0:
		return KindPersistent, 0, 0
	case extended && owner&ttlOwnerMask == ttlOwnerMask && owner&0x00ffff0000000000 == 0:
		return KindTTL, 0, owner & MaxTTL
	case owner == containerOwner:
		return KindContainer, 0, 0
	}
	return KindEphemeral, owner, 0
}

// item is one B-tree entry and everything the tree stores of one znode,
// laid out for a small heap: 104 bytes with three pointers, and the
// collector sees two objects per znode (the path and value share one
// allocation, see packPathData) instead of a Node's five slices and
// strings. The stat fields are inline; the ACL is an index into the
// tree's table of distinct lists (aclTable), as ZooKeeper's
// ReferenceCountedACLCache; the session of an ephemeral and the TTL of a
// TTL node share one field, chosen by kind.
//
// The key is (parent, name): all children of a node are contiguous and
// sorted by name, so listing them costs O(log n + children). The root is
// ("", ""); a top-level node "/a" is ("", "a"); "/a/b" is ("/a", "b").
// Only valid paths are ever inserted, so the split of any string is a
// unique key (see splitKey).
type item struct {
	path string
	// data is the value's first byte; nil when dataLen <= 0.
	data *byte

	czxid, mzxid, pzxid int64
	ctime, mtime        int64
	// owner is the session of a KindEphemeral, the TTL (ms) of a KindTTL,
	// else 0.
	owner int64

	// dataLen is the value's length, -1 for a nil value (ZooKeeper keeps
	// a null buffer distinct from an empty one).
	dataLen int32
	// split is the index of path's last '/': the B-tree key is
	// (path[:split], path[split+1:]). The root "/" has split 0, key ("", "").
	split                       int32
	acl                         aclRef
	version, cversion, aversion int32
	// Invariant: numChildren == number of items whose parent is this one.
	numChildren int32
	kind        NodeKind
}

// parent is the parent part of it's key ("" for the root and top-level
// nodes); name the last segment ("" for the root).
func (it *item) parent() string { return it.path[:it.split] }
func (it *item) name() string   { return it.path[it.split+1:] }

func newItem(path string) item {
	return item{path: path, split: int32(strings.LastIndexByte(path, '/'))}
}

// emptyValue is the value of every znode whose value is empty but not nil.
var emptyValue = []byte{}

// value is the znode's data, as the creator sent it (nil or not).
func (it *item) value() []byte {
	switch {
	case it.dataLen < 0:
		return nil
	case it.dataLen == 0:
		return emptyValue
	}
	return unsafe.Slice(it.data, it.dataLen)
}

// setValue makes d the znode's data; the tree keeps d.
func (it *item) setValue(d []byte) {
	switch {
	case d == nil:
		it.data, it.dataLen = nil, -1
	case len(d) == 0:
		it.data, it.dataLen = nil, 0
	default:
		it.data, it.dataLen = unsafe.SliceData(d), int32(len(d))
	}
}

// putValue makes d the znode's data, packed into one allocation with
// its path (packPathData), so the old value is not kept alive by the path.
func (it *item) putValue(d []byte) {
	var data []byte
	it.path, data = packPathData(it.path, d)
	it.setValue(data)
}

// size is what the znode adds to ApproximateDataSize.
func (it *item) size() int64 { return int64(len(it.path)) + int64(max(it.dataLen, 0)) }

// setFields copies n's persisted fields but Data and ACL into it.
func (it *item) setFields(n *Node) {
	it.czxid, it.mzxid, it.pzxid = n.Czxid, n.Mzxid, n.Pzxid
	it.ctime, it.mtime = n.Ctime, n.Mtime
	it.version, it.cversion, it.aversion = n.Version, n.Cversion, n.Aversion
	it.kind = n.Kind
	switch n.Kind {
	case KindEphemeral:
		it.owner = n.Owner
	case KindTTL:
		it.owner = n.TTL
	default:
		it.owner = 0
	}
}

// stat is the stat a client sees: see Node.Stat, which is this.
func (it *item) stat() Stat {
	s := Stat{
		Czxid: it.czxid, Mzxid: it.mzxid, Ctime: it.ctime, Mtime: it.mtime,
		Version: it.version, Cversion: it.cversion*2 - it.numChildren, Aversion: it.aversion,
		DataLength: max(it.dataLen, 0), NumChildren: it.numChildren, Pzxid: it.pzxid,
	}
	if it.kind == KindEphemeral {
		s.EphemeralOwner = it.owner
	}
	return s
}

// ttl is a KindTTL znode's TTL in ms, else 0.
func (it *item) ttl() int64 {
	if it.kind == KindTTL {
		return it.owner
	}
	return 0
}

// nodeOf is the Node it stores.
func (t *Tree) nodeOf(it *item) Node {
	n := Node{
		Data: it.value(), ACL: t.acls.list(it.acl),
		Czxid: it.czxid, Mzxid: it.mzxid, Pzxid: it.pzxid, Ctime: it.ctime, Mtime: it.mtime,
		Version: it.version, Cversion: it.cversion, Aversion: it.aversion,
		Kind: it.kind, numChildren: it.numChildren,
	}
	switch it.kind {
	case KindEphemeral:
		n.Owner = it.owner
	case KindTTL:
		n.TTL = it.owner
	}
	return n
}

func itemLess(a, b *item) bool {
	if ap, bp := a.parent(), b.parent(); ap != bp {
		return ap < bp
	}
	return a.name() < b.name()
}

// probe is a B-tree search key (parent key, name), built in a reused buffer
// so a lookup allocates nothing. Probes are pooled: readers search
// concurrently.
type probe struct {
	it  item
	buf []byte
}

var probes = sync.Pool{New: func() any { return new(probe) }}

// keyProbe returns a probe for key (pk, name+suffix); release it after the
// search.
func keyProbe(pk, name, suffix string) *probe {
	p := probes.Get().(*probe)
	p.buf = append(append(append(append(p.buf[:0], pk...), '/'), name...), suffix...)
	p.it.path = unsafe.String(unsafe.SliceData(p.buf), len(p.buf))
	p.it.split = int32(len(pk))
	return p
}

func (p *probe) release() {
	p.it.path = ""
	probes.Put(p)
}

// packPathData returns path and data sharing one allocation, copying them
// into a new one unless they already do (a decoder may have read them
// into one): a znode's path and value are then one heap object for the
// collector instead of two, and a value decoded as part of a larger
// buffer (a log record) does not pin that buffer. Empty data is left as
// it is (nil and empty stay distinct).
func packPathData(path string, data []byte) (string, []byte) {
	if len(data) == 0 || len(path) == 0 {
		return path, data
	}
	if uintptr(unsafe.Pointer(unsafe.StringData(path)))+uintptr(len(path)) == uintptr(unsafe.Pointer(unsafe.SliceData(data))) {
		return path, data // adjacent already; at worst two objects that happen to touch
	}
	buf := make([]byte, len(path)+len(data))
	copy(buf, path)
	copy(buf[len(path):], data)
	return unsafe.String(unsafe.SliceData(buf), len(path)), buf[len(path):len(buf):len(buf)]
}

// itemSlab allocates items in chunks, so a znode is not a heap object of
// its own (fewer objects for the collector to find, no per-object size
// rounding). Items never move. A removed item stays intact until the next
// change to the tree begins (reap): what a caller read from it during the
// change that removed it stays readable, as Node pointers are promised
// until the next change.
type itemSlab struct {
	chunk []item  // the chunk being filled
	free  []*item // zeroed items ready for reuse
	dead  []*item // removed during the current change
}

const slabChunkItems = 1024

func (s *itemSlab) alloc() *item {
	if n := len(s.free); n > 0 {
		it := s.free[n-1]
		s.free = s.free[:n-1]
		return it
	}
	if len(s.chunk) == cap(s.chunk) {
		s.chunk = make([]item, 0, slabChunkItems)
	}
	s.chunk = s.chunk[:len(s.chunk)+1]
	return &s.chunk[len(s.chunk)-1]
}

// reap releases the ACLs of the items removed by earlier changes and
// makes the items reusable. Until then a removed item's ACL index still
// names its list: no later create in the same change can take the slot.
func (t *Tree) reap() {
	for _, it := range t.slab.dead {
		t.acls.release(it.acl)
	}
	t.slab.reap()
}

// reap zeroes the items removed by earlier changes (dropping their path
// and data for the collector) and makes them reusable.
func (s *itemSlab) reap() {
	for _, it := range s.dead {
		*it = item{}
	}
	s.free = append(s.free, s.dead...)
	clear(s.dead)
	s.dead = s.dead[:0]
}

// splitKey returns the B-tree key of path. "" is ZooKeeper's alias of the
// root. ok is false for strings that cannot name a node.
func splitKey(path string) (parent, name string, ok bool) {
	if path == "" {
		return "", "", true
	}
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return "", "", false
	}
	return path[:i], path[i+1:], true
}

// childParentKey is the parent part of the keys of path's children.
func childParentKey(path string) string {
	if path == "/" {
		return ""
	}
	return path
}

// parentOf returns the parent of a valid non-root path ("/a" → "/").
func parentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// canonical maps ZooKeeper's root alias "" to "/".
func canonical(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// ComparePaths orders paths in "path order": segment by segment, i.e. a
// parent before its children and siblings by name. It is byte order with
// '/' sorting before every other byte. Walk, Ephemerals, ExpiryCandidates
// and DescribeTree all use it.
func ComparePaths(a, b string) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		switch {
		case ca == '/':
			return -1
		case cb == '/':
			return 1
		case ca < cb:
			return -1
		}
		return 1
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}
