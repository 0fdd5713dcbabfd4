package tree

import (
	"fmt"
	"slices"
)

// Apply applies a committed txn and returns the watch events it triggers,
// in ZooKeeper's order. See ApplyResult.
func (t *Tree) Apply(txn Txn) []WatchEvent {
	_, evs := t.ApplyResult(txn)
	return evs
}

// ApplyResult applies a committed txn (as DataTree.processTxn) and returns
// the client's result together with the watch events:
//
//   - create*: NodeCreated(path), NodeChildrenChanged(parent)
//   - delete*: NodeDeleted(path), NodeChildrenChanged(parent)
//   - setData: NodeDataChanged(path)
//   - closeSession: delete events of each ephemeral, in path order
//   - multi: the events of each sub-txn in order
//
// The result is what the server the client is connected to answers: the
// created path, the stat after the change (create2/createContainer/
// createTTL, setData, setACL), per-op results for a multi, Zxid = txn zxid.
//
// Apply is deterministic and idempotent. A txn with zxid <= LastZxid is
// skipped (no change, no events, Result{Zxid, Path}). Within a txn each
// change is idempotent too, so replaying the log over a fuzzy snapshot is
// exact: a create of an existing node only raises the parent's cversion and
// pzxid if the txn's are higher; a delete of a missing node only raises the
// parent's pzxid; setData/setACL overwrite with absolute values. Those
// replay-only no-ops report the ZooKeeper code (NodeExists, NoNode) in
// Result.Err and trigger no events.
//
// Apply panics only on broken internal invariants, never on txn contents.
func (t *Tree) ApplyResult(txn Txn) (Result, []WatchEvent) {
	return t.ApplyAppend(txn, nil)
}

// ApplyAppend is ApplyResult, appending the txn's watch events to evs: a
// caller that applies txns one after another and is done with their
// events before the next can hand the same slice back each time (as
// evs[:0]), so applying allocates none.
func (t *Tree) ApplyAppend(txn Txn, evs []WatchEvent) (Result, []WatchEvent) {
	return t.apply(&txn, evs, nil)
}

// Replay applies a committed txn as Apply does, for a recovery, where
// no client waits for the result and nobody watches: the result and the
// watch events are dropped, and the arrays they are built in (a multi's
// results, its events) are kept from one txn to the next, so replaying
// a multi of a thousand creates does not allocate them a thousand at a
// time. The tree is left exactly as Apply leaves it.
func (t *Tree) Replay(txn Txn) {
	res, evs := t.apply(&txn, t.replayEvents[:0], t.replayResults[:0])
	clear(evs)
	clear(res.Results)
	if cap(evs) <= maxKeptReplay {
		t.replayEvents = evs[:0]
	}
	if cap(res.Results) <= maxKeptReplay {
		t.replayResults = res.Results[:0]
	}
}

// maxKeptReplay bounds the arrays Replay keeps between txns.
const maxKeptReplay = 1 << 16

// apply is ApplyAppend; a multi's results go into results when it has
// room for them (Replay's array).
func (t *Tree) apply(txn *Txn, evs []WatchEvent, results []Result) (Result, []WatchEvent) {
	t.reap()
	if txn.Zxid <= t.lastZxid {
		return Result{Zxid: txn.Zxid, Path: txn.Path}, evs
	}
	var res Result
	switch txn.Type {
	case OpMulti:
		res, evs = t.applyMulti(txn, evs, results)
	case OpCreateSession:
		t.sessions[txn.Session] = txn.Timeout
	case OpSessionSecret:
		t.sessionSecret = slices.Clone(txn.Data)
	case OpAuth:
		// For the audit only: identities live in connections.
	case OpCloseSession:
		for _, p := range t.Ephemerals(txn.Session) {
			evs, _ = t.applyDelete(p, txn.Zxid, evs)
		}
		delete(t.sessions, txn.Session)
	default:
		res, evs = t.applyOne(txn, &txn.TxnHeader, evs)
	}
	res.Zxid = txn.Zxid
	t.lastZxid = txn.Zxid
	return res, evs
}

func (t *Tree) applyMulti(txn *Txn, evs []WatchEvent, results []Result) (Result, []WatchEvent) {
	if cap(results) < len(txn.Txns) {
		results = make([]Result, len(txn.Txns))
	}
	res := Result{Results: results[:len(txn.Txns)]}
	if txn.failed() {
		// ZooKeeper turns every sub-txn of a failed multi into an error:
		// those before the first failure report ok, those after runtime
		// inconsistency; nothing changes.
		post := false
		for i := range txn.Txns {
			s := &txn.Txns[i]
			code := s.Err
			if s.Type != OpError {
				code = CodeOK
				if post {
					code = CodeRuntimeInconsistency
				}
			} else {
				post = true
			}
			res.Results[i] = Result{Op: OpError, Err: code}
			if code != CodeOK && res.Err == CodeOK {
				res.Err = code
			}
		}
		return res, evs
	}
	for i := range txn.Txns {
		s := &txn.Txns[i]
		var r Result
		r, evs = t.applyOne(s, &txn.TxnHeader, evs)
		r.Op = s.Type
		res.Results[i] = r
		if r.Err != CodeOK && res.Err == CodeOK {
			res.Err = r.Err
		}
	}
	return res, evs
}

// applyOne applies one non-multi, non-session txn; hdr is the txn's or,
// for a sub-txn, the multi's.
func (t *Tree) applyOne(s *Txn, hdr *TxnHeader, evs []WatchEvent) (Result, []WatchEvent) {
	switch s.Type {
	case OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL:
		return t.applyCreate(s, hdr, evs)
	case OpDelete, OpDeleteContainer:
		var code Code
		evs, code = t.applyDelete(s.Path, hdr.Zxid, evs)
		return Result{Err: code}, evs
	case OpSetData, OpReconfig:
		it := t.get(s.Path)
		if it == nil {
			return Result{Err: CodeNoNode}, evs
		}
		// The path is packed with the new value, so the old one is not
		// kept alive by the path; the indexes take the new path string.
		t.unindex(it)
		it.putValue(s.Data)
		t.index(it)
		it.mtime = hdr.Time
		it.mzxid = hdr.Zxid
		it.version = s.Version
		st := it.stat()
		return Result{Stat: &st}, append(evs, WatchEvent{Type: EventNodeDataChanged, Path: it.path})
	case OpSetACL:
		it := t.get(s.Path)
		if it == nil {
			return Result{Err: CodeNoNode}, evs
		}
		t.setACL(it, s.ACL)
		it.aversion = s.Version
		st := it.stat()
		return Result{Stat: &st}, evs
	case OpCheck:
		return Result{}, evs
	case OpError:
		return Result{Err: s.Err}, evs
	}
	panic(fmt.Sprintf("tree: cannot apply txn type %v", s.Type))
}

func (t *Tree) applyCreate(s *Txn, hdr *TxnHeader, evs []WatchEvent) (Result, []WatchEvent) {
	res := Result{Path: s.Path}
	if s.Path == "/" || !validPath(s.Path) {
		// Prep never produces this; a txn from outside must not corrupt
		// the tree either.
		return Result{Err: CodeBadArguments}, evs
	}
	parentPath, _, _ := splitKey(s.Path)
	parent := t.cachedParent(parentPath)
	if parent == nil {
		// Possible when replaying over a fuzzy snapshot taken after the
		// parent was deleted.
		res.Err = CodeNoNode
		return res, evs
	}
	cv := s.ParentCversion
	if cv == -1 {
		cv = parent.cversion + 1
	}
	if cv > parent.cversion {
		parent.cversion = cv
		parent.pzxid = hdr.Zxid
	}
	n := Node{
		Data: s.Data, ACL: s.ACL,
		Czxid: hdr.Zxid, Mzxid: hdr.Zxid, Pzxid: hdr.Zxid,
		Ctime: hdr.Time, Mtime: hdr.Time,
		Kind: s.Kind,
	}
	switch s.Kind {
	case KindEphemeral:
		n.Owner = hdr.Session
	case KindTTL:
		n.TTL = s.TTL
	case KindPersistent, KindContainer:
	default:
		n.Kind = KindPersistent
	}
	it, ok := t.tryInsert(parent, s.Path, &n)
	if !ok {
		res.Err = CodeNodeExists
		return res, evs
	}
	if s.Type != OpCreate {
		st := it.stat()
		res.Stat = &st
	}
	return res, append(evs,
		WatchEvent{Type: EventNodeCreated, Path: s.Path},
		WatchEvent{Type: EventNodeChildrenChanged, Path: parent.path})
}

// applyDelete is DataTree.deleteNode: the parent's pzxid rises to zxid
// even if the child is already gone.
func (t *Tree) applyDelete(path string, zxid int64, evs []WatchEvent) ([]WatchEvent, Code) {
	if path == "/" || !validPath(path) {
		return evs, CodeNoNode
	}
	parentPath, _, _ := splitKey(path)
	parent := t.get(parentPath)
	if parent == nil {
		return evs, CodeNoNode
	}
	if zxid > parent.pzxid {
		parent.pzxid = zxid
	}
	it := t.get(path)
	if it == nil {
		return evs, CodeNoNode
	}
	if it.numChildren != 0 {
		// Only a replay over a fuzzy snapshot gets here: Prep refuses to
		// delete a node with children, so these children were created
		// after this txn and their creates follow in the replay.
		// ZooKeeper orphans them; we drop them and let the replay
		// recreate them.
		t.removeDescendants(it)
	}
	t.remove(parent, it)
	return append(evs,
		WatchEvent{Type: EventNodeDeleted, Path: path},
		WatchEvent{Type: EventNodeChildrenChanged, Path: parent.path}), CodeOK
}

// removeDescendants removes every node below it, deepest first.
func (t *Tree) removeDescendants(it *item) {
	var below []*item
	for c := t.next(it, it); c != nil; c = t.next(c, it) {
		below = append(below, c)
	}
	for i := len(below) - 1; i >= 0; i-- {
		c := below[i]
		t.remove(t.parentItem(c), c)
	}
}
