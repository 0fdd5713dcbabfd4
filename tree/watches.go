package tree

import (
	"fmt"
	"slices"
	"strings"
)

// Watches is the server-side watch registry: which watcher (connection)
// holds which watch on which path, and who is told when a WatchEvent from
// Apply fires. It reproduces the behaviour of Apache ZooKeeper's
// server/watch/WatchManager together with the watch calls in DataTree and
// FinalRequestProcessor (see the method docs for the exact rules and where
// they come from).
//
// ZooKeeper keeps two tables, one for data watches (getData, exists,
// addWatch) and one for child watches (getChildren, addWatch). Watches keeps
// one table whose entries carry a bit set of kinds, which is the same
// information: watchData lives in the data table, watchChild in the child
// table, watchPersistent in both, watchRecursive in the data table (and, in
// 3.8, also in the child table, where it never fires; see Count).
//
// Several kinds of one watcher on one path coexist, as in ZooKeeper 3.9+
// (ZOOKEEPER-4466). NB: ZooKeeper 3.8 keeps a single mode per (watcher,
// path) per table, so there a one-shot getData watch set after addWatch
// PERSISTENT on the same path silently downgrades the persistent data watch
// to a one-shot; that is an upstream bug fixed in 3.9.0 and deliberately not
// reproduced here.
//
// Watches is pure and deterministic: no goroutines, clocks or I/O, and every
// returned slice is in a defined order. It is not safe for concurrent use;
// one owner (net's watch dispatcher) calls it.
type Watches struct {
	// paths maps a watched path to the kinds each watcher holds there.
	// Invariant: no inner map is empty and no kind stored is zero.
	paths map[string]map[WatcherID]watchKind
	// watchers maps a watcher to the paths it holds any watch on.
	// Invariant: p ∈ watchers[w] ⇔ w ∈ paths[p]; no inner map is empty.
	watchers map[WatcherID]map[string]struct{}
	// recursive indexes the persistent-recursive watches so that the walk
	// over an event's ancestors looks only at them.
	// Invariant: w ∈ recursive[p] ⇔ paths[p][w]&watchRecursive != 0;
	// nRecursive is the total size of recursive; no inner map is empty.
	recursive  map[string]map[WatcherID]struct{}
	nRecursive int
	// nData and nChild count (watcher, path) entries in ZooKeeper 3.8's
	// data and child tables (entries whose kind intersects dataTable,
	// resp. childTable38). Their sum is mntr's zk_watch_count.
	nData, nChild int
	// scratch is trigger's reusable buffer of watcher ids.
	scratch []WatcherID
}

// watchKind is the set of watch kinds one watcher holds on one path.
type watchKind uint8

const (
	// watchData is a one-shot watch in the data table: getData, exists on
	// a present or a missing node (an "exist watch" is stored exactly
	// like a data watch), setWatches' data and exist lists.
	watchData watchKind = 1 << iota
	// watchChild is a one-shot watch in the child table: getChildren,
	// getChildren2, setWatches' child list.
	watchChild
	// watchPersistent is addWatch(PERSISTENT): in both tables, never
	// consumed.
	watchPersistent
	// watchRecursive is addWatch(PERSISTENT_RECURSIVE): fires for the
	// path and all descendants, except for NodeChildrenChanged; never
	// consumed.
	watchRecursive

	watchAny = watchData | watchChild | watchPersistent | watchRecursive

	// dataTable is what ZooKeeper's dataWatches table holds.
	dataTable = watchData | watchPersistent | watchRecursive
	// childFires is what fires in ZooKeeper's childWatches table (3.8
	// stores recursive there too but skips it for NodeChildrenChanged,
	// and for NodeDeleted it is already covered by the data table).
	childFires = watchChild | watchPersistent
	// childTable38 is what ZooKeeper 3.8's childWatches table holds,
	// used only for counting.
	childTable38 = watchChild | watchPersistent | watchRecursive
)

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
	return &Watches{
		paths:     make(map[string]map[WatcherID]watchKind),
		watchers:  make(map[WatcherID]map[string]struct{}),
		recursive: make(map[string]map[WatcherID]struct{}),
	}
}

// AddForRead registers the watch a read asked for (req.Watch), given the
// read's result, as FinalRequestProcessor and DataTree do:
//
//   - exists: a data watch whether the node exists (CodeOK) or not
//     (CodeNoNode). DataTree.statNode adds the watch before it looks the
//     node up; on a missing node it fires on NodeCreated (the "exist
//     watch"). Any other error (bad path, NoAuth in 3.8.4+) adds none.
//   - getData: a data watch if the read succeeded.
//   - getChildren, getChildren2: a child watch if the read succeeded.
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
			w.add(req.Path, id, watchData)
		}
	case OpGetData:
		if res.Err == CodeOK {
			w.add(req.Path, id, watchData)
		}
	case OpGetChildren, OpGetChildren2:
		if res.Err == CodeOK {
			w.add(req.Path, id, watchChild)
		}
	}
}

// AddPersistent registers addWatch's persistent or persistent-recursive
// watch on path (DataTree.addWatch). Adding a kind the watcher already
// holds on path changes nothing. A mode other than the two is refused with
// CodeMarshallingError, which is what ZooKeeper answers when
// WatcherMode.fromZooDef throws.
func (w *Watches) AddPersistent(id WatcherID, path string, mode WatchMode) Code {
	switch mode {
	case WatchModePersistent:
		w.add(path, id, watchPersistent)
	case WatchModePersistentRecursive:
		w.add(path, id, watchRecursive)
	default:
		return CodeMarshallingError
	}
	return CodeOK
}

// Trigger returns who is told about ev, and consumes the one-shot watches
// that fired. It follows the triggerWatch calls in DataTree (createNode,
// deleteNode, setData) with the WatchManager.triggerWatch rules; Apply
// emits NodeCreated plus NodeChildrenChanged on the parent for a create,
// NodeDeleted plus NodeChildrenChanged on the parent for a delete, and
// NodeDataChanged for a setData.
//
//   - NodeCreated, NodeDataChanged (data table): data, persistent and
//     recursive watches on ev.Path; one-shot data watches there are
//     consumed.
//   - NodeDeleted (data table, then child table with the data table's
//     watchers suppressed): every kind on ev.Path; one-shot data and child
//     watches there are consumed.
//   - NodeChildrenChanged (child table): child and persistent watches on
//     ev.Path only; one-shot child watches are consumed. Recursive watches
//     never fire for it, neither on the path nor on an ancestor.
//   - For the first three types, recursive watches on every strict ancestor
//     of ev.Path fire too (PathParentIterator). The ancestor walk is
//     skipped when no recursive watch exists.
//
// A watcher gets at most one delivery per event however many of its watches
// match. Deliveries are sorted by WatcherID (ZooKeeper's order across
// connections is a HashSet's, i.e. unspecified). Persistent watches stay.
// Cost: O(watchers on ev.Path + depth × recursive watchers on ancestors)
// plus sorting the result, never O(all watches). Any other event type is a
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
	var fires, consume watchKind
	walk := true
	switch ev.Type {
	case EventNodeCreated, EventNodeDataChanged:
		fires, consume = dataTable, watchData
	case EventNodeDeleted:
		fires, consume = dataTable|childFires, watchData|watchChild
	case EventNodeChildrenChanged:
		fires, consume, walk = childFires, watchChild, false
	default:
		panic(fmt.Sprintf("tree: Watches.Trigger: event type %d at %q is not a node event", ev.Type, ev.Path))
	}
	ids := w.scratch[:0]
	if ws := w.paths[ev.Path]; ws != nil {
		for id, k := range ws {
			if k&fires == 0 {
				continue
			}
			ids = append(ids, id)
			if k&consume != 0 {
				// NB: deleting from ws while ranging over it is allowed.
				w.set(ev.Path, id, k, k&^consume)
			}
		}
	}
	if walk && w.nRecursive > 0 {
		for p, ok := watchParent(ev.Path); ok; p, ok = watchParent(p) {
			for id := range w.recursive[p] {
				ids = append(ids, id)
			}
		}
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
//     mzxid > req.RelativeZxid → NodeDataChanged; else a data watch.
//  2. each path of req.ExistWatches: node present → NodeCreated; else a
//     data watch (an exist watch).
//  3. each path of req.ChildWatches: node missing → NodeDeleted; pzxid >
//     req.RelativeZxid → NodeChildrenChanged; else a child watch.
//  4. req.PersistentWatches, then req.PersistentRecursiveWatches:
//     registered, no event (ignored for OpSetWatches, which ZooKeeper
//     calls with empty persistent lists).
//
// A watch whose event is returned is not registered. The deliveries all go
// to id, in list order, neither sorted nor merged: a path in both the data
// and the child list of a deleted node yields two NodeDeleted, as
// ZooKeeper sends.
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
			w.add(p, id, watchData)
		}
	}
	for _, p := range req.ExistWatches {
		if _, ok := t.StatOf(p); ok {
			missed(EventNodeCreated, p)
		} else {
			w.add(p, id, watchData)
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
			w.add(p, id, watchChild)
		}
	}
	if req.Op != OpSetWatches {
		for _, p := range req.PersistentWatches {
			w.add(p, id, watchPersistent)
		}
		for _, p := range req.PersistentRecursiveWatches {
			w.add(p, id, watchRecursive)
		}
	}
	return out
}

// watcherTypeKinds maps removeWatches/checkWatches' type to the kinds it
// names, as ZooKeeper 3.9+'s DataTree.removeWatch and containsWatcher do:
// Children is the one-shot child watch, Data the one-shot data/exist watch,
// Persistent and PersistentRecursive the addWatch ones, Any all of them.
func watcherTypeKinds(typ WatcherType) (watchKind, bool) {
	switch typ {
	// ZooKeeper 3.8 (the arbiter) works on whole table entries: Data
	// and Children match, and remove, persistent and recursive watches
	// too (3.8 keeps those in both tables).
	case WatcherChildren:
		return watchChild | watchPersistent | watchRecursive, true
	case WatcherData:
		return watchData | watchPersistent | watchRecursive, true
	case WatcherPersistent:
		return watchPersistent, true
	case WatcherPersistentRecursive:
		return watchRecursive, true
	case WatcherAny:
		return watchAny, true
	}
	return 0, false
}

// Remove is removeWatches: it drops id's watches of type typ on path
// (exactly path; ancestors are not looked at). It returns CodeOK if it
// dropped any, CodeNoWatcher if none matched (FinalRequestProcessor throws
// NoWatcherException), and CodeMarshallingError for an unknown type
// (WatcherType.fromInt throws).
//
// The server sends nothing else: DataWatchRemoved, ChildWatchRemoved and
// PersistentWatchRemoved events are made by the client library
// (ZKWatchManager.removeWatcher) when the reply is OK, so Remove returns no
// deliveries.
//
// NB: ZooKeeper 3.8 knows only types 1-3 (4 and 5 get
// CodeMarshallingError there; accepted here as 3.9+ does) and its
// Children/Data remove the whole table entry, persistent modes included;
// that is followed here, since the differential tests hold us to 3.8
// (3.9+ removes only the kind named).
func (w *Watches) Remove(id WatcherID, path string, typ WatcherType) Code {
	mask, ok := watcherTypeKinds(typ)
	if !ok {
		return CodeMarshallingError
	}
	k := w.paths[path][id]
	if k&mask == 0 {
		return CodeNoWatcher
	}
	w.set(path, id, k, k&^mask)
	return CodeOK
}

// Check is checkWatches: CodeOK if id holds a watch of type typ on exactly
// path, CodeNoWatcher if not, CodeMarshallingError for an unknown type.
//
// NB: ZooKeeper 3.8's WatchManager.containsWatcher answers true when any
// watcher at all watches path in the table asked about (a bug fixed in
// 3.9); this checks id's own watches, as 3.9+ does. The 3.8 client checks
// its own watches before asking, so the difference rarely shows.
func (w *Watches) Check(id WatcherID, path string, typ WatcherType) Code {
	mask, ok := watcherTypeKinds(typ)
	if !ok {
		return CodeMarshallingError
	}
	if w.paths[path][id]&mask == 0 {
		return CodeNoWatcher
	}
	return CodeOK
}

// DropWatcher forgets every watch of id (connection closed:
// DataTree.removeCnxn). The caller must not add watches for id afterwards
// (ZooKeeper ignores addWatch from a stale connection).
func (w *Watches) DropWatcher(id WatcherID) {
	for p := range w.watchers[id] {
		w.set(p, id, w.paths[p][id], 0)
	}
}

// Count is mntr's zk_watch_count: entries in the data table plus entries
// in the child table (DataTree.getWatchCount). A getData or exists watch
// counts 1, a getChildren watch 1, a persistent watch 2 (it sits in both
// tables), a recursive one 2 as in ZooKeeper 3.8 (3.9+ counts it once);
// several kinds of one watcher on one path in one table count once.
func (w *Watches) Count() int { return w.nData + w.nChild }

// DataCount is wchs's "Total watches": (watcher, path) entries in the data
// table. Like ZooKeeper's wchs, wchc and wchp (DataTree.dumpWatches*,
// getWatches*), DataCount, Paths, Watchers, ByWatcher and ByPath look at
// the data table only: a connection's getChildren watches are not listed.
func (w *Watches) DataCount() int { return w.nData }

// Paths is wchs's number of watched paths (data table only). O(paths).
func (w *Watches) Paths() int {
	n := 0
	for _, ws := range w.paths {
		for _, k := range ws {
			if k&dataTable != 0 {
				n++
				break
			}
		}
	}
	return n
}

// Watchers is wchs's number of watching connections (data table only).
// O(registrations).
func (w *Watches) Watchers() int {
	n := 0
	for id, ps := range w.watchers {
		for p := range ps {
			if w.paths[p][id]&dataTable != 0 {
				n++
				break
			}
		}
	}
	return n
}

// ByWatcher is wchc: each watcher's watched paths, sorted (data table
// only). The result is a fresh map the caller owns.
func (w *Watches) ByWatcher() map[WatcherID][]string {
	out := make(map[WatcherID][]string)
	for id, ps := range w.watchers {
		var list []string
		for p := range ps {
			if w.paths[p][id]&dataTable != 0 {
				list = append(list, p)
			}
		}
		if len(list) > 0 {
			slices.Sort(list)
			out[id] = list
		}
	}
	return out
}

// ByPath is wchp: each watched path's watchers, sorted (data table only).
// The result is a fresh map the caller owns.
func (w *Watches) ByPath() map[string][]WatcherID {
	out := make(map[string][]WatcherID)
	for p, ws := range w.paths {
		var list []WatcherID
		for id, k := range ws {
			if k&dataTable != 0 {
				list = append(list, id)
			}
		}
		if len(list) > 0 {
			slices.Sort(list)
			out[p] = list
		}
	}
	return out
}

// add gives id the kind k on path in addition to what it holds.
func (w *Watches) add(path string, id WatcherID, k watchKind) {
	old := w.paths[path][id]
	w.set(path, id, old, old|k)
}

// set changes id's kinds on path from old (which must be what is stored)
// to k, keeping every index and counter in step. All mutation goes
// through here.
func (w *Watches) set(path string, id WatcherID, old, k watchKind) {
	if old == k {
		return
	}
	w.nData += countIf(k&dataTable != 0) - countIf(old&dataTable != 0)
	w.nChild += countIf(k&childTable38 != 0) - countIf(old&childTable38 != 0)
	switch {
	case k&watchRecursive != 0 && old&watchRecursive == 0:
		rs := w.recursive[path]
		if rs == nil {
			rs = make(map[WatcherID]struct{})
			w.recursive[path] = rs
		}
		rs[id] = struct{}{}
		w.nRecursive++
	case k&watchRecursive == 0 && old&watchRecursive != 0:
		rs := w.recursive[path]
		delete(rs, id)
		if len(rs) == 0 {
			delete(w.recursive, path)
		}
		w.nRecursive--
	}
	if k != 0 {
		ws := w.paths[path]
		if ws == nil {
			ws = make(map[WatcherID]watchKind)
			w.paths[path] = ws
		}
		ws[id] = k
		if old == 0 {
			ps := w.watchers[id]
			if ps == nil {
				ps = make(map[string]struct{})
				w.watchers[id] = ps
			}
			ps[path] = struct{}{}
		}
		return
	}
	ws := w.paths[path]
	delete(ws, id)
	if len(ws) == 0 {
		delete(w.paths, path)
	}
	ps := w.watchers[id]
	delete(ps, path)
	if len(ps) == 0 {
		delete(w.watchers, id)
	}
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

func countIf(b bool) int {
	if b {
		return 1
	}
	return 0
}
