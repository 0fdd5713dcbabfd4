package tree

import (
	"fmt"
	"slices"
	"strings"
)

// Watches is the server-side watch registry: which watcher (connection)
// holds which watch on which path, and who is told when a WatchEvent from
// Apply fires. It reproduces Apache ZooKeeper 3.8's server/watch
// WatchManager (with WatcherModeManager) together with the watch calls in
// DataTree and FinalRequestProcessor; 3.8 is the version the differential
// tests hold zabd to. The method docs give the exact rules.
//
// As in 3.8 there are two independent tables, data (getData, exists,
// setWatches' data and exist lists) and child (getChildren, setWatches'
// child list); addWatch and setWatches' persistent lists register in both.
// In each table a (watcher, path) has one mode or none: standard
// (one-shot), persistent, or persistent-recursive, and the last
// registration in that table wins. So a getData watch set after
// addWatch(PERSISTENT) on the same path turns the data-table entry into a
// one-shot (the child-table entry stays persistent), and removeWatches
// Data / Children drops the whole entry of that table, persistent or not.
//
// Where ZooKeeper 3.9+ differs (not reproduced): an entry carries a set of
// modes, so a one-shot watch no longer downgrades a persistent one
// (ZOOKEEPER-4466); persistent-recursive watches live in the data table
// only; removeWatches/checkWatches take types Persistent (4) and
// PersistentRecursive (5) and match the named mode only; checkWatches looks
// at the asking watcher's own entries; a watcher left without watches is
// forgotten at once.
//
// Watches is pure and deterministic: no goroutines, clocks or I/O, and every
// returned slice is in a defined order. It is not safe for concurrent use;
// one owner (net's watch dispatcher) calls it.
type Watches struct {
	// data and child are ZooKeeper's dataWatches and childWatches.
	data, child watchTable
	// scratch is trigger's reusable buffer of watcher ids.
	scratch []WatcherID
}

// watchMode is the mode of one (watcher, path) entry in one table.
type watchMode uint8

const (
	// modeNone: no entry. Never stored.
	modeNone watchMode = iota
	// modeStandard is a one-shot watch: getData, exists (on a present or
	// a missing node: an "exist watch" is stored exactly like a data
	// watch), getChildren, getChildren2, setWatches' one-shot lists.
	// Consumed when it fires.
	modeStandard
	// modePersistent is addWatch(PERSISTENT): fires for events on its
	// path, never consumed.
	modePersistent
	// modeRecursive is addWatch(PERSISTENT_RECURSIVE): fires for events
	// on its path and every descendant except NodeChildrenChanged, never
	// consumed.
	modeRecursive
)

// watchTable is one of ZooKeeper 3.8's two WatchManagers.
type watchTable struct {
	// paths maps a watched path to the mode of each watcher there
	// (watchTable plus WatcherModeManager).
	// Invariant: no inner map is empty; no stored mode is modeNone.
	paths map[string]map[WatcherID]watchMode
	// watchers maps a watcher to the paths it has an entry on
	// (watch2Paths). Invariant: p ∈ watchers[w] ⇔ w ∈ paths[p]. An inner
	// map may be empty: as in 3.8, a watcher whose entries were all
	// consumed or removed stays listed (wchs counts it, wchc prints it)
	// until DropWatcher.
	watchers map[WatcherID]map[string]struct{}
	// recursive indexes the recursive entries so that the walk over an
	// event's ancestors looks only at them.
	// Invariant: w ∈ recursive[p] ⇔ paths[p][w] == modeRecursive;
	// nRecursive is the total size of recursive; no inner map is empty.
	recursive  map[string]map[WatcherID]struct{}
	nRecursive int
	// n is the number of entries (WatchManager.size).
	n int
}

func newWatchTable() watchTable {
	return watchTable{
		paths:     make(map[string]map[WatcherID]watchMode),
		watchers:  make(map[WatcherID]map[string]struct{}),
		recursive: make(map[string]map[WatcherID]struct{}),
	}
}

// Delivery is one watch notification to send: Event goes to Watcher.
type Delivery struct {
	Watcher WatcherID
	Event   WatchEvent
}

// StatLookup is the part of the tree SetWatches needs: the stat of the
// node at path, and whether it exists.
type StatLookup interface {
	StatOf(path string) (Stat, bool)
}

// NewWatches returns an empty registry.
func NewWatches() *Watches {
	return &Watches{data: newWatchTable(), child: newWatchTable()}
}

// AddForRead registers the watch a read asked for (req.Watch), given the
// read's result, as FinalRequestProcessor and DataTree do. Each is a
// standard (one-shot) entry that replaces whatever mode id had on the path
// in that table:
//
//   - exists: data table, whether the node exists (CodeOK) or not
//     (CodeNoNode). DataTree.statNode adds the watch before it looks the
//     node up; on a missing node it fires on NodeCreated (the "exist
//     watch"). Any other error (bad path, NoAuth in 3.8.4+) adds none.
//   - getData: data table, if the read succeeded.
//   - getChildren, getChildren2: child table, if the read succeeded.
//   - multiRead: each sub-read by the rules above with its own Watch flag
//     and result (FinalRequestProcessor runs the single-op handlers).
//
// Every other op, an unset Watch flag, or a failed read adds nothing.
func (w *Watches) AddForRead(id WatcherID, req Request, res Result) {
	if req.Op == OpMultiRead {
		for i, sub := range req.Ops {
			if i < len(res.Results) {
				w.AddForRead(id, sub, res.Results[i])
			}
		}
		return
	}
	if !req.Watch {
		return
	}
	switch req.Op {
	case OpExists:
		if res.Err == CodeOK || res.Err == CodeNoNode {
			w.data.set(req.Path, id, modeStandard)
		}
	case OpGetData:
		if res.Err == CodeOK {
			w.data.set(req.Path, id, modeStandard)
		}
	case OpGetChildren, OpGetChildren2:
		if res.Err == CodeOK {
			w.child.set(req.Path, id, modeStandard)
		}
	}
}

// AddPersistent registers addWatch's persistent or persistent-recursive
// watch on path in both tables (DataTree.addWatch), replacing the mode id
// had there. A mode other than the two is refused with
// CodeMarshallingError, which is what ZooKeeper answers when
// WatcherMode.fromZooDef throws.
func (w *Watches) AddPersistent(id WatcherID, path string, mode WatchMode) Code {
	m, ok := persistentMode(mode)
	if !ok {
		return CodeMarshallingError
	}
	w.data.set(path, id, m)
	w.child.set(path, id, m)
	return CodeOK
}

func persistentMode(mode WatchMode) (watchMode, bool) {
	switch mode {
	case WatchModePersistent:
		return modePersistent, true
	case WatchModePersistentRecursive:
		return modeRecursive, true
	}
	return modeNone, false
}

// Trigger returns who is told about ev, and consumes the one-shot watches
// that fired. It follows the triggerWatch calls in DataTree (createNode,
// deleteNode, setData); Apply emits NodeCreated plus NodeChildrenChanged on
// the parent for a create, NodeDeleted plus NodeChildrenChanged on the
// parent for a delete, and NodeDataChanged for a setData.
//
//   - NodeCreated, NodeDataChanged: the data table.
//   - NodeChildrenChanged: the child table.
//   - NodeDeleted: the data table, then the child table, whose watchers
//     already told by the data table are not told twice.
//
// Within one table (WatchManager.triggerWatch): on ev.Path a standard
// entry fires and is consumed, a persistent one fires and stays, a
// recursive one fires and stays unless the event is NodeChildrenChanged,
// for which it stays silent; on every strict ancestor of ev.Path
// (PathParentIterator) only recursive entries fire, and not for
// NodeChildrenChanged. The ancestor walk is skipped when the table holds no
// recursive entry, or for NodeChildrenChanged.
//
// A watcher gets at most one delivery per event however many of its
// entries match. Deliveries are sorted by WatcherID (ZooKeeper's order
// across connections is a HashSet's, i.e. unspecified). Cost:
// O(watchers on ev.Path + depth × recursive watchers on ancestors) plus
// sorting the result, never O(all watches). Any other event type is a
// caller bug and panics.
//
// NB: since 3.8.4 (CVE-2024-23944) ZooKeeper drops a delivery when the
// watcher lacks READ on the ACL of the node at ev.Path (for NodeDeleted,
// the deleted node's). That filter needs the session's identities and the
// node's ACL, so it is the caller's; SetWatches' events are not filtered.
func (w *Watches) Trigger(ev WatchEvent) []Delivery {
	return w.trigger(nil, ev)
}

// TriggerAll triggers each event of one Apply batch in order and returns
// the deliveries concatenated in event order (within one event, sorted by
// WatcherID). A one-shot watch consumed by an earlier event does not fire
// for a later one.
func (w *Watches) TriggerAll(evs []WatchEvent) []Delivery {
	var out []Delivery
	for _, ev := range evs {
		out = w.trigger(out, ev)
	}
	return out
}

func (w *Watches) trigger(out []Delivery, ev WatchEvent) []Delivery {
	ids := w.scratch[:0]
	switch ev.Type {
	case EventNodeCreated, EventNodeDataChanged:
		ids = w.data.trigger(ids, ev.Path, ev.Type)
	case EventNodeChildrenChanged:
		ids = w.child.trigger(ids, ev.Path, ev.Type)
	case EventNodeDeleted:
		ids = w.data.trigger(ids, ev.Path, ev.Type)
		ids = w.child.trigger(ids, ev.Path, ev.Type)
	default:
		panic(fmt.Sprintf("tree: Watches.Trigger: event type %d at %q is not a node event", ev.Type, ev.Path))
	}
	// Sorting the bare ids (no pointers to move) is several times cheaper
	// than sorting Deliveries.
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out = slices.Grow(out, len(ids))
	for _, id := range ids {
		out = append(out, Delivery{Watcher: id, Event: ev})
	}
	w.scratch = ids[:0]
	return out
}

// SetWatches re-registers the watches of a reconnecting client (setWatches,
// setWatches2) and returns the events it missed, exactly as
// DataTree.setWatches computes them against t, in its order:
//
//  1. each path of req.DataWatches: node missing → NodeDeleted; node's
//     mzxid > req.RelativeZxid → NodeDataChanged; else a standard entry
//     in the data table.
//  2. each path of req.ExistWatches: node present → NodeCreated; else a
//     standard entry in the data table (an exist watch).
//  3. each path of req.ChildWatches: node missing → NodeDeleted; pzxid >
//     req.RelativeZxid → NodeChildrenChanged; else a standard entry in
//     the child table.
//  4. req.PersistentWatches, then req.PersistentRecursiveWatches:
//     registered in both tables, no event (ignored for OpSetWatches,
//     which ZooKeeper calls with empty persistent lists).
//
// Each registration replaces the mode id had on the path in that table, in
// list order. A watch whose event is returned is not registered. The
// deliveries all go to id, in list order, neither sorted nor merged: a
// path in both the data and the child list of a deleted node yields two
// NodeDeleted, as ZooKeeper sends.
func (w *Watches) SetWatches(id WatcherID, req Request, t StatLookup) []Delivery {
	var out []Delivery
	missed := func(typ EventType, p string) {
		out = append(out, Delivery{Watcher: id, Event: WatchEvent{Type: typ, Path: p}})
	}
	for _, p := range req.DataWatches {
		st, ok := t.StatOf(p)
		switch {
		case !ok:
			missed(EventNodeDeleted, p)
		case st.Mzxid > req.RelativeZxid:
			missed(EventNodeDataChanged, p)
		default:
			w.data.set(p, id, modeStandard)
		}
	}
	for _, p := range req.ExistWatches {
		if _, ok := t.StatOf(p); ok {
			missed(EventNodeCreated, p)
		} else {
			w.data.set(p, id, modeStandard)
		}
	}
	for _, p := range req.ChildWatches {
		st, ok := t.StatOf(p)
		switch {
		case !ok:
			missed(EventNodeDeleted, p)
		case st.Pzxid > req.RelativeZxid:
			missed(EventNodeChildrenChanged, p)
		default:
			w.child.set(p, id, modeStandard)
		}
	}
	if req.Op != OpSetWatches {
		for _, p := range req.PersistentWatches {
			w.AddPersistent(id, p, WatchModePersistent)
		}
		for _, p := range req.PersistentRecursiveWatches {
			w.AddPersistent(id, p, WatchModePersistentRecursive)
		}
	}
	return out
}

// Remove is removeWatches (DataTree.removeWatch): Children drops id's
// entry on path from the child table, Data from the data table, Any from
// both, whatever its mode (ancestors are not looked at). It returns CodeOK
// if it dropped any entry, CodeNoWatcher if there was none
// (FinalRequestProcessor throws NoWatcherException), and
// CodeMarshallingError for any other type, 3.9's Persistent (4) and
// PersistentRecursive (5) included: 3.8's WatcherType.fromInt throws.
//
// The server sends nothing else: DataWatchRemoved, ChildWatchRemoved and
// PersistentWatchRemoved events are made by the client library
// (ZKWatchManager.removeWatcher) when the reply is OK, so Remove returns no
// deliveries.
func (w *Watches) Remove(id WatcherID, path string, typ WatcherType) Code {
	var removed bool
	switch typ {
	case WatcherChildren:
		removed = w.child.remove(path, id)
	case WatcherData:
		removed = w.data.remove(path, id)
	case WatcherAny:
		c := w.child.remove(path, id)
		d := w.data.remove(path, id)
		removed = c || d
	default:
		return CodeMarshallingError
	}
	if !removed {
		return CodeNoWatcher
	}
	return CodeOK
}

// Check is checkWatches (DataTree.containsWatcher): CodeOK if the table
// typ names (Children: child, Data: data, Any: either) holds an entry on
// exactly path, CodeNoWatcher if not, CodeMarshallingError for any other
// type (as for Remove).
//
// NB: this is 3.8's WatchManager.containsWatcher, which answers yes when
// any watcher at all has an entry on path in that table, not only id (a
// bug fixed in 3.9). The 3.8 client checks its own watches before asking,
// so the difference rarely shows.
func (w *Watches) Check(_ WatcherID, path string, typ WatcherType) Code {
	var found bool
	switch typ {
	case WatcherChildren:
		found = w.child.paths[path] != nil
	case WatcherData:
		found = w.data.paths[path] != nil
	case WatcherAny:
		found = w.child.paths[path] != nil || w.data.paths[path] != nil
	default:
		return CodeMarshallingError
	}
	if !found {
		return CodeNoWatcher
	}
	return CodeOK
}

// DropWatcher forgets every watch of id, in both tables (connection
// closed: DataTree.removeCnxn). The caller must not add watches for id
// afterwards (ZooKeeper ignores addWatch from a stale connection).
func (w *Watches) DropWatcher(id WatcherID) {
	w.data.drop(id)
	w.child.drop(id)
}

// Count is mntr's zk_watch_count (DataTree.getWatchCount): entries in the
// data table plus entries in the child table. A getData or exists watch
// counts 1, a getChildren watch 1, a persistent or recursive watch 2 (one
// entry per table; 3.9+ counts a recursive one once), and a one-shot watch
// set on a path where the watcher already has an entry in that table
// replaces it rather than adding one.
func (w *Watches) Count() int { return w.data.n + w.child.n }

// DataCount is wchs's "Total watches": the entries in the data table. Like
// ZooKeeper's wchs, wchc and wchp (DataTree.dumpWatches*, getWatches*),
// DataCount, Paths, Watchers, ByWatcher and ByPath look at the data table
// only: a connection's getChildren watches are not listed.
func (w *Watches) DataCount() int { return w.data.n }

// Paths is wchs's number of watched paths: paths with an entry in the data
// table.
func (w *Watches) Paths() int { return len(w.data.paths) }

// Watchers is wchs's number of watching connections: as in 3.8, every
// watcher that has had an entry in the data table since it was last
// dropped, including one whose watches have all fired or been removed.
func (w *Watches) Watchers() int { return len(w.data.watchers) }

// ByWatcher is wchc: each watcher of Watchers with its paths in the data
// table, sorted; a watcher left without entries maps to an empty list, as
// 3.8 prints it with no paths. The result is a fresh map the caller owns.
func (w *Watches) ByWatcher() map[WatcherID][]string {
	out := make(map[WatcherID][]string, len(w.data.watchers))
	for id, ps := range w.data.watchers {
		list := make([]string, 0, len(ps))
		for p := range ps {
			list = append(list, p)
		}
		slices.Sort(list)
		out[id] = list
	}
	return out
}

// ByPath is wchp: each path with an entry in the data table and its
// watchers, sorted. The result is a fresh map the caller owns.
func (w *Watches) ByPath() map[string][]WatcherID {
	out := make(map[string][]WatcherID, len(w.data.paths))
	for p, ws := range w.data.paths {
		list := make([]WatcherID, 0, len(ws))
		for id := range ws {
			list = append(list, id)
		}
		slices.Sort(list)
		out[p] = list
	}
	return out
}

// set gives id the mode m (not modeNone) on path, replacing what it had
// (WatchManager.addWatch: last registration wins).
func (t *watchTable) set(path string, id WatcherID, m watchMode) {
	ws := t.paths[path]
	if ws == nil {
		ws = make(map[WatcherID]watchMode)
		t.paths[path] = ws
	}
	old := ws[id]
	if old == m {
		return
	}
	ws[id] = m
	if old == modeNone {
		t.n++
		ps := t.watchers[id]
		if ps == nil {
			ps = make(map[string]struct{})
			t.watchers[id] = ps
		}
		ps[path] = struct{}{}
	}
	if old == modeRecursive {
		t.unindexRecursive(path, id)
	}
	if m == modeRecursive {
		rs := t.recursive[path]
		if rs == nil {
			rs = make(map[WatcherID]struct{})
			t.recursive[path] = rs
		}
		rs[id] = struct{}{}
		t.nRecursive++
	}
}

// remove drops id's entry on path and reports whether there was one. The
// watcher stays in watchers, possibly with no path (3.8's watch2Paths).
func (t *watchTable) remove(path string, id WatcherID) bool {
	ws := t.paths[path]
	old, ok := ws[id]
	if !ok {
		return false
	}
	delete(ws, id)
	if len(ws) == 0 {
		delete(t.paths, path)
	}
	delete(t.watchers[id], path)
	if old == modeRecursive {
		t.unindexRecursive(path, id)
	}
	t.n--
	return true
}

func (t *watchTable) unindexRecursive(path string, id WatcherID) {
	rs := t.recursive[path]
	delete(rs, id)
	if len(rs) == 0 {
		delete(t.recursive, path)
	}
	t.nRecursive--
}

// drop forgets id altogether.
func (t *watchTable) drop(id WatcherID) {
	for p := range t.watchers[id] {
		t.remove(p, id)
	}
	delete(t.watchers, id)
}

// trigger appends to ids the watchers this table tells about an event of
// type typ at path and consumes the standard entries that fired on path
// (the rules are in Trigger's doc).
func (t *watchTable) trigger(ids []WatcherID, path string, typ EventType) []WatcherID {
	ncc := typ == EventNodeChildrenChanged
	if ws := t.paths[path]; ws != nil {
		for id, m := range ws {
			switch m {
			case modeRecursive:
				if !ncc {
					ids = append(ids, id)
				}
			case modePersistent:
				ids = append(ids, id)
			default:
				ids = append(ids, id)
				// NB: deleting from ws while ranging over it is allowed.
				t.remove(path, id)
			}
		}
	}
	if !ncc && t.nRecursive > 0 {
		for p, ok := watchParent(path); ok; p, ok = watchParent(p) {
			for id := range t.recursive[p] {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// watchParent returns the parent of a ZooKeeper path ("/a/b" → "/a",
// "/a" → "/") and false for "/" or a path without a slash, as
// PathParentIterator walks.
func watchParent(p string) (string, bool) {
	if p == "/" {
		return "", false
	}
	i := strings.LastIndexByte(p, '/')
	switch {
	case i < 0:
		return "", false
	case i == 0:
		return "/", true
	}
	return p[:i], true
}
