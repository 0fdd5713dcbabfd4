package tree

import (
	"fmt"
	"slices"
	"strings"
	"unsafe"
)

// Pending is the overlay of txns that Prep has produced but Apply has not
// applied yet (ZooKeeper's outstandingChanges): Prep validates against the
// committed tree plus this overlay, so back-to-back requests see each
// other's effects (versions, sequence numbers, existence) before commit.
//
// Concurrency: single owner (the pipeline's prep stage), which calls Prep
// and Applied in zxid order.
type Pending struct {
	// recs holds the latest prepped state of every path touched by an
	// unapplied txn, keyed by canonical path ("/" for the root).
	recs map[string]change
	// queue lists (zxid, path) in prep order, so Applied is amortized O(1).
	// Invariant: queue[head:] zxids are non-decreasing.
	queue []queued
	head  int

	// scratch and order are reused by every Prep with this Pending (the
	// view of the request being prepped), so a prep allocates no map.
	scratch map[string]change
	order   []string
}

type queued struct {
	zxid int64
	path string
}

// change is the state of one path after the latest unapplied txn touching
// it (ZooKeeper's ChangeRecord).
type change struct {
	zxid   int64
	exists bool
	n      pnode
}

// pnode is the part of a node that Prep's checks read.
type pnode struct {
	acl                         []ACL
	version, cversion, aversion int32
	numChildren                 int32
	kind                        NodeKind
	owner                       int64
}

// NewPending returns an empty overlay.
func NewPending() *Pending { return &Pending{recs: make(map[string]change)} }

// Len is the number of paths with unapplied changes.
func (p *Pending) Len() int { return len(p.recs) }

// Applied drops the overlay's records for txns with zxid <= zxid. The
// pipeline calls it after Apply of zxid (also for txns it decided not to
// apply, e.g. after a failed proposal, to forget them).
func (p *Pending) Applied(zxid int64) {
	for p.head < len(p.queue) && p.queue[p.head].zxid <= zxid {
		q := p.queue[p.head]
		if c, ok := p.recs[q.path]; ok && c.zxid <= zxid {
			delete(p.recs, q.path)
		}
		p.queue[p.head] = queued{}
		p.head++
	}
	if p.head == len(p.queue) {
		p.queue = p.queue[:0]
		p.head = 0
	} else if p.head > 1024 && p.head*2 > len(p.queue) {
		p.queue = append(p.queue[:0], p.queue[p.head:]...)
		p.head = 0
	}
}

// MultiError is the error Prep returns for a multi that fails. Results has
// one entry per op with ZooKeeper 3.8's per-op results (what the client's
// MultiResponse carries): ops before the failing one Result{Op: OpError,
// Err: CodeOK}, the failing one Result{Op: OpError, Err: Code}, the ones
// after Result{Op: OpError, Err: CodeRuntimeInconsistency}. Errors unwraps
// to Code, so CodeOf(err) is the failing op's code.
type MultiError struct {
	Index   int  // the failing op
	Code    Code // its error
	Results []Result
}

func (e *MultiError) Error() string {
	return fmt.Sprintf("tree: multi op %d failed: %v", e.Index, e.Code)
}

func (e *MultiError) Unwrap() error { return e.Code }

// Result is the client's answer to the failed multi: Err is the failing
// code, Results the per-op results. (NB: ZooKeeper 3.8 puts 0 in the reply
// header's err for a multi, even a failed one; the codes are in the
// per-op results.)
func (e *MultiError) Result() Result {
	return Result{Err: e.Code, Results: append([]Result(nil), e.Results...)}
}

// Prep turns a write request into the txn that carries its results,
// validating it against the committed tree plus p exactly as ZooKeeper
// 3.8's PrepRequestProcessor does, in the same order of checks (so the same
// error wins when several apply). hdr carries the session, cxid, zxid and
// time stamped by the caller; hdr.Type is ignored (req.Op is used).
//
// On success it returns the txn and records its effects in p.
//
// On failure it records nothing in p and returns:
//   - for a multi: a *MultiError (per-op results, see there) and the txn
//     ZooKeeper would have logged for it: an OpMulti whose sub-txns are all
//     OpError with the per-op codes;
//   - otherwise: the Code, and an OpError txn with Err set.
//
// Logging a failed request's txn is optional: ZooKeeper 3.8 does (it burns
// a zxid, visible in later czxid/mzxid values); applying it changes nothing
// but LastZxid. Either way the client's answer comes from the error.
//
// Session checks (expired, moved, local sessions) are the pipeline's, as is
// the data-length limit (jute.maxbuffer). Quotas are not enforced
// (ZooKeeper's zookeeper.enforceQuota defaults to false).
func (t *Tree) Prep(p *Pending, req Request, hdr TxnHeader) (Txn, error) {
	hdr.Type = req.Op
	v := &view{t: t, p: p}
	if p != nil {
		v.scratch, v.order = p.scratch, p.order[:0]
		defer func() {
			clear(v.scratch)
			clear(v.order) // drop the paths
			if len(v.order) > 64 {
				v.scratch, v.order = nil, nil // a big multi: do not keep its tables
			}
			p.scratch, p.order = v.scratch, v.order[:0]
		}()
	}
	var txn Txn
	var err error
	if req.Op == OpMulti {
		txn, err = v.prepMulti(req, hdr)
	} else {
		txn, err = v.prepOne(req, hdr)
	}
	if err != nil {
		if me, ok := err.(*MultiError); ok {
			sub := make([]Txn, len(me.Results))
			for i, r := range me.Results {
				sub[i] = Txn{TxnHeader: TxnHeader{Type: OpError}, Err: r.Err}
			}
			hdr.Type = OpMulti
			return Txn{TxnHeader: hdr, Txns: sub}, err
		}
		hdr.Type = OpError
		failed := Txn{TxnHeader: hdr, Err: CodeOf(err), FailedOp: req.Op, Path: req.Path}
		switch req.Op {
		case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
			failed.FailedMode = req.Mode
		case OpSetACL:
			failed.ACL = slices.Clone(req.ACL)
		}
		return failed, err
	}
	v.commit(hdr.Zxid)
	return txn, nil
}

// view is committed tree + p + the changes of the request being prepped
// (kept apart so a failed multi leaves p untouched).
type view struct {
	t       *Tree
	p       *Pending
	scratch map[string]change
	order   []string // paths in scratch, first-touch order
}

func (v *view) get(path string) (pnode, bool) {
	path = canonical(path)
	if c, ok := v.scratch[path]; ok {
		return c.n, c.exists
	}
	if v.p != nil {
		if c, ok := v.p.recs[path]; ok {
			return c.n, c.exists
		}
	}
	it := v.t.get(path)
	if it == nil {
		return pnode{}, false
	}
	p := pnode{acl: v.t.acls.list(it.acl), version: it.version, cversion: it.cversion, aversion: it.aversion,
		numChildren: it.numChildren, kind: it.kind}
	if it.kind == KindEphemeral {
		p.owner = it.owner
	}
	return p, true
}

func (v *view) set(path string, zxid int64, exists bool, n pnode) {
	path = canonical(path)
	if v.scratch == nil {
		v.scratch = make(map[string]change)
	}
	if _, ok := v.scratch[path]; !ok {
		v.order = append(v.order, path)
	}
	v.scratch[path] = change{zxid: zxid, exists: exists, n: n}
}

func (v *view) commit(zxid int64) {
	if v.p == nil {
		return
	}
	if v.p.recs == nil {
		v.p.recs = make(map[string]change)
	}
	for _, path := range v.order {
		v.p.recs[path] = v.scratch[path]
		v.p.queue = append(v.p.queue, queued{zxid: zxid, path: path})
	}
}

func (v *view) prepMulti(req Request, hdr TxnHeader) (Txn, error) {
	for _, op := range req.Ops {
		if !multiWriteOp(op.Op) {
			// MultiOperationRecord refuses to decode it: the whole request
			// fails with a marshalling error, not per op.
			return Txn{}, CodeMarshallingError
		}
	}
	out := Txn{TxnHeader: hdr, Txns: make([]Txn, 0, len(req.Ops))}
	for i, op := range req.Ops {
		op.Auth = req.Auth
		sub, err := v.prepOne(op, hdr)
		if err != nil {
			code := CodeOf(err)
			me := &MultiError{Index: i, Code: code, Results: make([]Result, len(req.Ops))}
			for j := range me.Results {
				switch {
				case j < i:
					me.Results[j] = Result{Op: OpError, Err: CodeOK}
				case j == i:
					me.Results[j] = Result{Op: OpError, Err: code}
				default:
					me.Results[j] = Result{Op: OpError, Err: CodeRuntimeInconsistency}
				}
			}
			return Txn{}, me
		}
		sub.TxnHeader = TxnHeader{Type: sub.Type}
		out.Txns = append(out.Txns, sub)
	}
	return out, nil
}

func multiWriteOp(op Op) bool {
	switch op {
	case OpCreate, OpCreate2, OpCreateTTL, OpCreateContainer, OpDelete, OpSetData, OpCheck:
		return true
	}
	return false
}

func (v *view) prepOne(req Request, hdr TxnHeader) (Txn, error) {
	hdr.Type = req.Op
	switch req.Op {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
		return v.prepCreate(req, hdr)
	case OpDelete:
		return v.prepDelete(req, hdr)
	case OpDeleteContainer:
		return v.prepDeleteContainer(req, hdr)
	case OpSetData:
		return v.prepSetData(req, hdr)
	case OpSetACL:
		return v.prepSetACL(req, hdr)
	case OpCheck:
		return v.prepCheck(req, hdr)
	case OpCreateSession:
		return Txn{TxnHeader: hdr, Timeout: req.SessionTimeout, Client: req.Client}, nil
	case OpAuth:
		return Txn{TxnHeader: hdr, Ids: slices.Clone(req.Auth)}, nil
	case OpSessionSecret:
		if len(req.Data) < MinSessionSecretBytes {
			return Txn{}, CodeBadArguments
		}
		return Txn{TxnHeader: hdr, Data: slices.Clone(req.Data)}, nil
	case OpCloseSession:
		return v.prepCloseSession(hdr)
	case OpReconfig:
		// Dynamic reconfiguration is off by default in 3.8
		// (reconfigEnabled=false); zab owns membership if it is ever on.
		return Txn{}, CodeReconfigDisabled
	}
	return Txn{}, CodeUnimplemented
}

func createModeFlags(m CreateMode) (ephemeral, sequential, container, ttl, ok bool) {
	switch m {
	case ModePersistent:
	case ModeEphemeral:
		ephemeral = true
	case ModePersistentSequential:
		sequential = true
	case ModeEphemeralSequential:
		ephemeral, sequential = true, true
	case ModeContainer:
		container = true
	case ModePersistentTTL:
		ttl = true
	case ModePersistentSeqTTL:
		sequential, ttl = true, true
	default:
		return false, false, false, false, false
	}
	return ephemeral, sequential, container, ttl, true
}

// prepCreate follows pRequest2TxnCreate + validateCreateRequest.
func (v *view) prepCreate(req Request, hdr TxnHeader) (Txn, error) {
	ephemeral, sequential, _, isTTL, ok := createModeFlags(req.Mode)
	if !ok {
		return Txn{}, CodeBadArguments // CreateMode.fromFlag
	}
	ttl := int64(-1)
	if req.Op == OpCreateTTL {
		ttl = req.TTL
	}
	if isTTL && !v.t.cfg.ExtendedTypesEnabled {
		return Txn{}, CodeUnimplemented
	}
	if isTTL {
		if ttl > MaxTTL || ttl <= 0 {
			return Txn{}, CodeBadArguments
		}
	} else if ttl >= 0 || req.Op == OpCreateTTL {
		// NB: ZooKeeper lets createTTL with a non-TTL mode and a negative
		// ttl through prep and then fails applying it; refuse it here.
		return Txn{}, CodeBadArguments
	}
	path := req.Path
	slash := strings.LastIndexByte(path, '/')
	if slash < 0 || strings.IndexByte(path, 0) >= 0 {
		return Txn{}, CodeBadArguments
	}
	parentPath := path[:slash]
	acl, err := fixupACL(req.ACL, req.Auth, v.t.cfg.X509, v.t.cfg.SASL)
	if err != nil {
		return Txn{}, err
	}
	parent, ok := v.get(parentPath)
	if !ok {
		return Txn{}, CodeNoNode
	}
	if err := checkACL(parent.acl, PermCreate, req.Auth); err != nil {
		return Txn{}, err
	}
	data := req.Data
	if sequential {
		path, data = sequentialNameData(path, parent.cversion, data)
	}
	if !validPath(path) {
		return Txn{}, CodeBadArguments
	}
	if _, exists := v.get(path); exists {
		return Txn{}, CodeNodeExists
	}
	if parent.kind == KindEphemeral {
		return Txn{}, CodeNoChildrenForEphemerals
	}
	newCversion := parent.cversion + 1

	// The node's kind follows the txn ZooKeeper writes: create/create2 make
	// an ephemeral or a persistent node whatever else the mode says.
	kind := KindPersistent
	switch {
	case req.Op == OpCreateContainer:
		kind = KindContainer
	case req.Op == OpCreateTTL:
		kind = KindTTL
	case ephemeral:
		kind = KindEphemeral
	}
	txn := Txn{TxnHeader: hdr, Path: path, Data: data, ACL: acl, Kind: kind, ParentCversion: newCversion, Sequential: sequential}
	var owner int64
	switch kind {
	case KindTTL:
		txn.TTL = ttl
	case KindEphemeral:
		owner = hdr.Session
	}
	parent.numChildren++
	parent.cversion = newCversion
	v.set(parentPath, hdr.Zxid, true, parent)
	v.set(path, hdr.Zxid, true, pnode{acl: acl, kind: kind, owner: owner})
	return txn, nil
}

// parentForDelete is getParentPathAndValidate.
func parentForDelete(path string) (string, error) {
	slash := strings.LastIndexByte(path, '/')
	if slash < 0 || strings.IndexByte(path, 0) >= 0 || isSpecialPath(path) {
		return "", CodeBadArguments
	}
	return path[:slash], nil
}

func checkVersion(current, expected int32) (int32, error) {
	if expected != -1 && expected != current {
		return 0, CodeBadVersion
	}
	return current + 1, nil
}

func (v *view) prepDelete(req Request, hdr TxnHeader) (Txn, error) {
	parentPath, err := parentForDelete(req.Path)
	if err != nil {
		return Txn{}, err
	}
	parent, ok := v.get(parentPath)
	if !ok {
		return Txn{}, CodeNoNode
	}
	if err := checkACL(parent.acl, PermDelete, req.Auth); err != nil {
		return Txn{}, err
	}
	node, ok := v.get(req.Path)
	if !ok {
		return Txn{}, CodeNoNode
	}
	if _, err := checkVersion(node.version, req.Version); err != nil {
		return Txn{}, err
	}
	if node.numChildren > 0 {
		return Txn{}, CodeNotEmpty
	}
	v.deleteNode(parentPath, parent, req.Path, hdr.Zxid)
	return Txn{TxnHeader: hdr, Path: req.Path}, nil
}

func (v *view) deleteNode(parentPath string, parent pnode, path string, zxid int64) {
	parent.numChildren--
	v.set(parentPath, zxid, true, parent)
	v.set(path, zxid, false, pnode{})
}

// prepDeleteContainer is the reaper's delete: no ACL or version check;
// refuses a node that gained children (NotEmpty) or a plain ephemeral
// (BadVersion), as ZooKeeper 3.8.
func (v *view) prepDeleteContainer(req Request, hdr TxnHeader) (Txn, error) {
	parentPath, err := parentForDelete(req.Path)
	if err != nil {
		return Txn{}, err
	}
	node, ok := v.get(req.Path)
	if !ok {
		return Txn{}, CodeNoNode
	}
	if node.numChildren > 0 {
		return Txn{}, CodeNotEmpty
	}
	if node.kind == KindEphemeral {
		return Txn{}, CodeBadVersion
	}
	parent, ok := v.get(parentPath)
	if !ok {
		return Txn{}, CodeNoNode
	}
	v.deleteNode(parentPath, parent, req.Path, hdr.Zxid)
	return Txn{TxnHeader: hdr, Path: req.Path}, nil
}

func (v *view) prepSetData(req Request, hdr TxnHeader) (Txn, error) {
	if !validPath(req.Path) {
		return Txn{}, CodeBadArguments
	}
	node, ok := v.get(req.Path)
	if !ok {
		return Txn{}, CodeNoNode
	}
	if err := checkACL(node.acl, PermWrite, req.Auth); err != nil {
		return Txn{}, err
	}
	newVersion, err := checkVersion(node.version, req.Version)
	if err != nil {
		return Txn{}, err
	}
	node.version = newVersion
	v.set(req.Path, hdr.Zxid, true, node)
	return Txn{TxnHeader: hdr, Path: req.Path, Data: req.Data, Version: newVersion}, nil
}

func (v *view) prepSetACL(req Request, hdr TxnHeader) (Txn, error) {
	if !validPath(req.Path) {
		return Txn{}, CodeBadArguments
	}
	acl, err := fixupACL(req.ACL, req.Auth, v.t.cfg.X509, v.t.cfg.SASL)
	if err != nil {
		return Txn{}, err
	}
	node, ok := v.get(req.Path)
	if !ok {
		return Txn{}, CodeNoNode
	}
	if err := checkACL(node.acl, PermAdmin, req.Auth); err != nil {
		return Txn{}, err
	}
	newVersion, err := checkVersion(node.aversion, req.Version)
	if err != nil {
		return Txn{}, err
	}
	node.aversion = newVersion
	node.acl = acl
	v.set(req.Path, hdr.Zxid, true, node)
	return Txn{TxnHeader: hdr, Path: req.Path, ACL: acl, Version: newVersion}, nil
}

func (v *view) prepCheck(req Request, hdr TxnHeader) (Txn, error) {
	if !validPath(req.Path) {
		return Txn{}, CodeBadArguments
	}
	node, ok := v.get(req.Path)
	if !ok {
		return Txn{}, CodeNoNode
	}
	if err := checkACL(node.acl, PermRead, req.Auth); err != nil {
		return Txn{}, err
	}
	next, err := checkVersion(node.version, req.Version)
	if err != nil {
		return Txn{}, err
	}
	return Txn{TxnHeader: hdr, Path: req.Path, Version: next}, nil
}

// prepCloseSession marks the session's ephemerals (committed or pending)
// deleted in the overlay. The txn itself carries no list: Apply finds the
// session's ephemerals in the tree, which by then holds every earlier txn.
func (v *view) prepCloseSession(hdr TxnHeader) (Txn, error) {
	session := hdr.Session
	cand := make(map[string]struct{}, len(v.t.ephemerals[session]))
	for p := range v.t.ephemerals[session] {
		cand[p] = struct{}{}
	}
	if v.p != nil {
		for p, c := range v.p.recs {
			if c.exists && c.n.kind == KindEphemeral && c.n.owner == session {
				cand[p] = struct{}{}
			}
		}
	}
	for _, path := range sortedPaths(cand) {
		n, ok := v.get(path)
		if !ok || n.kind != KindEphemeral || n.owner != session {
			continue
		}
		pp := parentOf(path)
		parent, ok := v.get(pp)
		if !ok {
			panic(fmt.Sprintf("tree: pending ephemeral %q has no parent", path))
		}
		// NB: ZooKeeper's prep forgets to decrement the parent's child
		// count here; we keep the overlay exact.
		v.deleteNode(pp, parent, path, hdr.Zxid)
	}
	return Txn{TxnHeader: hdr}, nil
}

// sequentialName is prefix followed by n as ZooKeeper formats a sequence
// number ("%010d": at least ten characters, zero-padded after any sign).
func sequentialName(prefix string, n int32) string {
	suffix, l := sequentialSuffix(n)
	var b strings.Builder // one allocation: the name itself
	b.Grow(len(prefix) + l)
	b.WriteString(prefix)
	b.Write(suffix[:l])
	return b.String()
}

// sequentialNameData is sequentialName with data copied right behind the
// name, in the same allocation, which is how the tree keeps a znode's
// path and value (packPathData): a sequential create's name is new, so
// building it with its data saves copying both again when it is applied.
// Empty data is returned as it is.
func sequentialNameData(prefix string, n int32, data []byte) (string, []byte) {
	if len(data) == 0 {
		return sequentialName(prefix, n), data
	}
	suffix, l := sequentialSuffix(n)
	name := len(prefix) + l
	buf := make([]byte, name+len(data))
	copy(buf, prefix)
	copy(buf[len(prefix):], suffix[:l])
	copy(buf[name:], data)
	return unsafe.String(unsafe.SliceData(buf), name), buf[name:len(buf):len(buf)]
}

// sequentialSuffix is n as ZooKeeper's "%010d" writes it (a negative n,
// after the counter wraps, as '-' and nine digits), in suffix[:l].
func sequentialSuffix(n int32) (suffix [11]byte, l int) {
	v := int64(n)
	width := 10
	if v < 0 {
		suffix[l] = '-'
		l++
		v = -v
		width--
	}
	var digits [10]byte
	i := len(digits)
	for v > 0 || i == len(digits) {
		i--
		digits[i] = byte('0' + v%10)
		v /= 10
	}
	for pad := width - (len(digits) - i); pad > 0; pad-- {
		suffix[l] = '0'
		l++
	}
	l += copy(suffix[l:], digits[i:])
	return suffix, l
}
