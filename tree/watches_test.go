package tree

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// describeWatches lists every entry of both tables as "table path id
// mode", sorted, for want/got comparisons of the registry's state.
func describeWatches(w *Watches) []string {
	var out []string
	for _, tb := range []struct {
		name string
		t    *watchTable
	}{{"data", &w.data}, {"child", &w.child}} {
		for p, ws := range tb.t.paths {
			for id, m := range ws {
				out = append(out, fmt.Sprintf("%s %s %d %s", tb.name, p, id, m))
			}
		}
	}
	slices.Sort(out)
	return out
}

func (m watchMode) String() string {
	switch m {
	case modeNone:
		return "none"
	case modeStandard:
		return "standard"
	case modePersistent:
		return "persistent"
	case modeRecursive:
		return "recursive"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// checkWatchesInvariants verifies the invariants stated on watchTable's
// fields, in both tables.
func checkWatchesInvariants(t *testing.T, w *Watches) {
	t.Helper()
	for name, tb := range map[string]*watchTable{"data": &w.data, "child": &w.child} {
		n, nRec := 0, 0
		for p, ws := range tb.paths {
			if len(ws) == 0 {
				t.Fatalf("%s: paths[%q] is empty", name, p)
			}
			for id, m := range ws {
				if m != modeStandard && m != modePersistent && m != modeRecursive {
					t.Fatalf("%s: paths[%q][%d] = %v", name, p, id, m)
				}
				if _, ok := tb.watchers[id][p]; !ok {
					t.Fatalf("%s: paths[%q][%d] set but watchers[%d] lacks %q", name, p, id, id, p)
				}
				_, inRec := tb.recursive[p][id]
				if inRec != (m == modeRecursive) {
					t.Fatalf("%s: recursive[%q][%d] = %v, mode %v", name, p, id, inRec, m)
				}
				n++
				nRec += countIf(m == modeRecursive)
			}
		}
		for id, ps := range tb.watchers {
			for p := range ps {
				if tb.paths[p][id] == modeNone {
					t.Fatalf("%s: watchers[%d] has %q but paths lacks it", name, id, p)
				}
			}
		}
		for p, rs := range tb.recursive {
			if len(rs) == 0 {
				t.Fatalf("%s: recursive[%q] is empty", name, p)
			}
		}
		if n != tb.n || nRec != tb.nRecursive {
			t.Fatalf("%s: counters n=%d rec=%d, recounted %d %d", name, tb.n, tb.nRecursive, n, nRec)
		}
	}
}

func countIf(b bool) int {
	if b {
		return 1
	}
	return 0
}

type wFakeTree map[string]Stat

func (f wFakeTree) StatOf(p string) (Stat, bool) { s, ok := f[p]; return s, ok }

var wOK = Result{Err: CodeOK}

func wRead(op Op, path string) Request { return Request{Op: op, Path: path, Watch: true} }

func wEvent(typ EventType, p string) WatchEvent { return WatchEvent{Type: typ, Path: p} }

func wDeliveries(e WatchEvent, ids ...WatcherID) []Delivery {
	var out []Delivery
	for _, id := range ids {
		out = append(out, Delivery{Watcher: id, Event: e})
	}
	return out
}

func TestWatchesTrigger(t *testing.T) {
	created := func(p string) WatchEvent { return wEvent(EventNodeCreated, p) }
	deleted := func(p string) WatchEvent { return wEvent(EventNodeDeleted, p) }
	changed := func(p string) WatchEvent { return wEvent(EventNodeDataChanged, p) }
	children := func(p string) WatchEvent { return wEvent(EventNodeChildrenChanged, p) }

	tests := []struct {
		name      string
		setup     func(w *Watches)
		events    []WatchEvent
		want      [][]Delivery // one per event
		wantAfter []string
	}{
		{
			name:      "exists on missing node is an exist watch, fires once on NodeCreated",
			setup:     func(w *Watches) { w.AddForRead(1, wRead(OpExists, "/a"), Result{Err: CodeNoNode}) },
			events:    []WatchEvent{created("/a"), created("/a")},
			want:      [][]Delivery{wDeliveries(created("/a"), 1), nil},
			wantAfter: nil,
		},
		{
			name:   "exists on present node is a data watch",
			setup:  func(w *Watches) { w.AddForRead(1, wRead(OpExists, "/a"), wOK) },
			events: []WatchEvent{children("/a"), changed("/a"), changed("/a")},
			want:   [][]Delivery{nil, wDeliveries(changed("/a"), 1), nil},
		},
		{
			name:   "getData watch fires on NodeDataChanged and is consumed",
			setup:  func(w *Watches) { w.AddForRead(1, wRead(OpGetData, "/a"), wOK) },
			events: []WatchEvent{changed("/a"), changed("/a")},
			want:   [][]Delivery{wDeliveries(changed("/a"), 1), nil},
		},
		{
			name: "failed or unwatched reads register nothing",
			setup: func(w *Watches) {
				w.AddForRead(1, wRead(OpGetData, "/a"), Result{Err: CodeNoNode})
				w.AddForRead(1, wRead(OpGetData, "/a"), Result{Err: CodeNoAuth})
				w.AddForRead(1, wRead(OpExists, "/a"), Result{Err: CodeBadArguments})
				w.AddForRead(1, wRead(OpExists, "/a"), Result{Err: CodeNoAuth})
				w.AddForRead(1, wRead(OpGetChildren, "/a"), Result{Err: CodeNoNode})
				w.AddForRead(1, wRead(OpGetChildren2, "/a"), Result{Err: CodeNoAuth})
				w.AddForRead(1, Request{Op: OpGetData, Path: "/a"}, wOK)
				w.AddForRead(1, Request{Op: OpExists, Path: "/a"}, Result{Err: CodeNoNode})
				w.AddForRead(1, wRead(OpGetACL, "/a"), wOK)
				w.AddForRead(1, wRead(OpGetAllChildrenNumber, "/a"), wOK)
			},
			events: []WatchEvent{created("/a"), changed("/a"), children("/a"), deleted("/a")},
			want:   [][]Delivery{nil, nil, nil, nil},
		},
		{
			name:      "getChildren watch fires on NodeChildrenChanged only",
			setup:     func(w *Watches) { w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK) },
			events:    []WatchEvent{changed("/a"), created("/a"), children("/a"), children("/a")},
			want:      [][]Delivery{nil, nil, wDeliveries(children("/a"), 1), nil},
			wantAfter: nil,
		},
		{
			name:   "getChildren2 watch is a child watch",
			setup:  func(w *Watches) { w.AddForRead(2, wRead(OpGetChildren2, "/a"), wOK) },
			events: []WatchEvent{children("/a")},
			want:   [][]Delivery{wDeliveries(children("/a"), 2)},
		},
		{
			name: "NodeDeleted fires data, exist and child watches once per watcher and consumes them",
			setup: func(w *Watches) {
				w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
				w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
				w.AddForRead(2, wRead(OpGetChildren, "/a"), wOK)
				w.AddForRead(3, wRead(OpExists, "/a"), wOK)
				w.AddForRead(4, wRead(OpGetData, "/b"), wOK)
			},
			events:    []WatchEvent{deleted("/a"), deleted("/a")},
			want:      [][]Delivery{wDeliveries(deleted("/a"), 1, 2, 3), nil},
			wantAfter: []string{"data /b 4 standard"},
		},
		{
			name: "create: NodeCreated on the path, NodeChildrenChanged on the parent, separately",
			setup: func(w *Watches) {
				w.AddForRead(1, wRead(OpExists, "/a/b"), Result{Err: CodeNoNode})
				w.AddForRead(2, wRead(OpGetChildren, "/a"), wOK)
				w.AddForRead(3, wRead(OpGetData, "/a"), wOK)
			},
			events: []WatchEvent{created("/a/b"), children("/a")},
			want: [][]Delivery{
				wDeliveries(created("/a/b"), 1),
				wDeliveries(children("/a"), 2),
			},
			wantAfter: []string{"data /a 3 standard"},
		},
		{
			name:   "child watch on the root",
			setup:  func(w *Watches) { w.AddForRead(1, wRead(OpGetChildren, "/"), wOK) },
			events: []WatchEvent{created("/a"), children("/")},
			want:   [][]Delivery{nil, wDeliveries(children("/"), 1)},
		},
		{
			name:   "persistent watch fires for every event type on its path and stays",
			setup:  func(w *Watches) { w.AddPersistent(1, "/a", WatchModePersistent) },
			events: []WatchEvent{created("/a"), changed("/a"), children("/a"), deleted("/a"), created("/a")},
			want: [][]Delivery{
				wDeliveries(created("/a"), 1), wDeliveries(changed("/a"), 1),
				wDeliveries(children("/a"), 1), wDeliveries(deleted("/a"), 1),
				wDeliveries(created("/a"), 1),
			},
			wantAfter: []string{"child /a 1 persistent", "data /a 1 persistent"},
		},
		{
			name:      "persistent watch does not fire for descendants",
			setup:     func(w *Watches) { w.AddPersistent(1, "/a", WatchModePersistent) },
			events:    []WatchEvent{created("/a/b"), changed("/a/b"), deleted("/a/b"), children("/a/b")},
			want:      [][]Delivery{nil, nil, nil, nil},
			wantAfter: []string{"child /a 1 persistent", "data /a 1 persistent"},
		},
		{
			name:  "recursive watch fires for descendants except NodeChildrenChanged",
			setup: func(w *Watches) { w.AddPersistent(1, "/a", WatchModePersistentRecursive) },
			events: []WatchEvent{
				created("/a/b"), children("/a"), changed("/a/b/c"), deleted("/a/b/c"),
				children("/a/b"), created("/ab"), changed("/b"), changed("/"),
			},
			want: [][]Delivery{
				wDeliveries(created("/a/b"), 1), nil, wDeliveries(changed("/a/b/c"), 1),
				wDeliveries(deleted("/a/b/c"), 1), nil, nil, nil, nil,
			},
			wantAfter: []string{"child /a 1 recursive", "data /a 1 recursive"},
		},
		{
			name:   "recursive watch fires on its own path except NodeChildrenChanged",
			setup:  func(w *Watches) { w.AddPersistent(1, "/a", WatchModePersistentRecursive) },
			events: []WatchEvent{created("/a"), changed("/a"), children("/a"), deleted("/a")},
			want: [][]Delivery{
				wDeliveries(created("/a"), 1), wDeliveries(changed("/a"), 1), nil,
				wDeliveries(deleted("/a"), 1),
			},
			wantAfter: []string{"child /a 1 recursive", "data /a 1 recursive"},
		},
		{
			name:   "recursive watch on the root sees every node event",
			setup:  func(w *Watches) { w.AddPersistent(7, "/", WatchModePersistentRecursive) },
			events: []WatchEvent{created("/x"), changed("/x/y/z"), children("/"), deleted("/x")},
			want: [][]Delivery{
				wDeliveries(created("/x"), 7), wDeliveries(changed("/x/y/z"), 7), nil,
				wDeliveries(deleted("/x"), 7),
			},
			wantAfter: []string{"child / 7 recursive", "data / 7 recursive"},
		},
		{
			name: "one-shot then persistent on the same path: the persistent mode replaces it",
			setup: func(w *Watches) {
				w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
				w.AddPersistent(1, "/a", WatchModePersistent)
			},
			events:    []WatchEvent{changed("/a"), changed("/a")},
			want:      [][]Delivery{wDeliveries(changed("/a"), 1), wDeliveries(changed("/a"), 1)},
			wantAfter: []string{"child /a 1 persistent", "data /a 1 persistent"},
		},
		{
			// ZooKeeper 3.8: one mode per (watcher, path) per table, the
			// last registration wins (3.9+ keeps both, ZOOKEEPER-4466).
			name: "persistent then one-shots on the same path: both tables downgraded",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/a", WatchModePersistent)
				w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
				w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
			},
			events: []WatchEvent{changed("/a"), changed("/a"), children("/a"), children("/a")},
			want: [][]Delivery{
				wDeliveries(changed("/a"), 1), nil,
				wDeliveries(children("/a"), 1), nil,
			},
			wantAfter: nil,
		},
		{
			name: "persistent then getChildren: child entry one-shot, data entry stays persistent",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/a", WatchModePersistent)
				w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
			},
			events: []WatchEvent{children("/a"), children("/a"), changed("/a"), deleted("/a")},
			want: [][]Delivery{
				wDeliveries(children("/a"), 1), nil,
				wDeliveries(changed("/a"), 1), wDeliveries(deleted("/a"), 1),
			},
			wantAfter: []string{"data /a 1 persistent"},
		},
		{
			name: "recursive then getData: the child table's recursive entry still fires NodeDeleted",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/a", WatchModePersistentRecursive)
				w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
			},
			events: []WatchEvent{
				created("/a/b"), changed("/a/b"), changed("/a"), changed("/a"),
				deleted("/a/b"), children("/a"), deleted("/a"),
			},
			want: [][]Delivery{
				nil, nil, wDeliveries(changed("/a"), 1), nil,
				wDeliveries(deleted("/a/b"), 1), nil, wDeliveries(deleted("/a"), 1),
			},
			wantAfter: []string{"child /a 1 recursive"},
		},
		{
			name: "persistent after recursive: no longer recursive in either table",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/a", WatchModePersistentRecursive)
				w.AddPersistent(1, "/a", WatchModePersistent)
			},
			events:    []WatchEvent{created("/a/b"), deleted("/a/b"), children("/a")},
			want:      [][]Delivery{nil, nil, wDeliveries(children("/a"), 1)},
			wantAfter: []string{"child /a 1 persistent", "data /a 1 persistent"},
		},
		{
			name: "NodeDeleted: a watcher in both tables is told once, both one-shots consumed",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/", WatchModePersistentRecursive)
				w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
				w.AddForRead(2, wRead(OpGetData, "/a"), wOK)
				w.AddForRead(2, wRead(OpGetChildren, "/a"), wOK)
			},
			events:    []WatchEvent{deleted("/a")},
			want:      [][]Delivery{wDeliveries(deleted("/a"), 1, 2)},
			wantAfter: []string{"child / 1 recursive", "data / 1 recursive"},
		},
		{
			name: "recursive ancestor plus persistent watch of one watcher: one delivery",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/", WatchModePersistentRecursive)
				w.AddPersistent(1, "/a", WatchModePersistentRecursive)
				w.AddForRead(1, wRead(OpGetData, "/a/b"), wOK)
				w.AddPersistent(1, "/a/b", WatchModePersistent)
			},
			events: []WatchEvent{changed("/a/b")},
			want:   [][]Delivery{wDeliveries(changed("/a/b"), 1)},
			wantAfter: []string{
				"child / 1 recursive", "child /a 1 recursive", "child /a/b 1 persistent",
				"data / 1 recursive", "data /a 1 recursive", "data /a/b 1 persistent",
			},
		},
		{
			name: "deliveries sorted by watcher",
			setup: func(w *Watches) {
				for _, id := range []WatcherID{9, 3, 5, 1} {
					w.AddForRead(id, wRead(OpGetData, "/a/b"), wOK)
				}
				w.AddPersistent(4, "/a", WatchModePersistentRecursive)
				w.AddPersistent(2, "/", WatchModePersistentRecursive)
			},
			events: []WatchEvent{changed("/a/b")},
			want:   [][]Delivery{wDeliveries(changed("/a/b"), 1, 2, 3, 4, 5, 9)},
			wantAfter: []string{
				"child / 2 recursive", "child /a 4 recursive",
				"data / 2 recursive", "data /a 4 recursive",
			},
		},
		{
			name: "multiRead registers each sub-wRead's watch",
			setup: func(w *Watches) {
				w.AddForRead(1, Request{Op: OpMultiRead, Ops: []Request{
					wRead(OpGetData, "/a"),
					wRead(OpGetChildren, "/b"),
					wRead(OpGetData, "/missing"),
					{Op: OpGetData, Path: "/nowatch"},
				}}, Result{Results: []Result{wOK, wOK, {Err: CodeNoNode}, wOK}})
			},
			events:    nil,
			want:      nil,
			wantAfter: []string{"child /b 1 standard", "data /a 1 standard"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWatches()
			tc.setup(w)
			var got [][]Delivery
			for _, e := range tc.events {
				got = append(got, w.Trigger(e))
				checkWatchesInvariants(t, w)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("deliveries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAfter, describeWatches(w)); diff != "" {
				t.Errorf("watches after (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWatchesTriggerAll(t *testing.T) {
	w := NewWatches()
	w.AddForRead(2, wRead(OpExists, "/a/b"), Result{Err: CodeNoNode})
	w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
	w.AddPersistent(3, "/a", WatchModePersistentRecursive)
	// create /a/b then setData /a/b then delete /a/b, as three Apply batches
	// folded into one: one-shot watches consumed early do not fire later.
	got := w.TriggerAll([]WatchEvent{
		wEvent(EventNodeCreated, "/a/b"), wEvent(EventNodeChildrenChanged, "/a"),
		wEvent(EventNodeDataChanged, "/a/b"),
		wEvent(EventNodeDeleted, "/a/b"), wEvent(EventNodeChildrenChanged, "/a"),
	})
	want := []Delivery{
		{2, wEvent(EventNodeCreated, "/a/b")}, {3, wEvent(EventNodeCreated, "/a/b")},
		{1, wEvent(EventNodeChildrenChanged, "/a")},
		{3, wEvent(EventNodeDataChanged, "/a/b")},
		{3, wEvent(EventNodeDeleted, "/a/b")},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("TriggerAll (-want +got):\n%s", diff)
	}
	if got := w.TriggerAll(nil); got != nil {
		t.Errorf("TriggerAll(nil) = %v, want nil", got)
	}
}

func TestWatchesTriggerPanicsOnNonNodeEvent(t *testing.T) {
	for _, typ := range []EventType{EventNone, EventDataWatchRemoved, EventChildWatchRemoved, EventPersistentWatchRemoved, 0} {
		t.Run(fmt.Sprint(typ), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Trigger(type %d) did not panic", typ)
				}
			}()
			NewWatches().Trigger(wEvent(typ, "/a"))
		})
	}
}

func TestWatchesSetWatches(t *testing.T) {
	tree := wFakeTree{
		"/":      {Mzxid: 0, Pzxid: 9},
		"/old":   {Mzxid: 5, Pzxid: 5},
		"/new":   {Mzxid: 11, Pzxid: 12},
		"/kids":  {Mzxid: 3, Pzxid: 15},
		"/exact": {Mzxid: 10, Pzxid: 10},
	}
	tests := []struct {
		name      string
		req       Request
		want      []Delivery
		wantAfter []string
	}{
		{
			name: "data watches",
			req:  Request{Op: OpSetWatches, RelativeZxid: 10, DataWatches: []string{"/gone", "/new", "/old", "/exact"}},
			want: []Delivery{
				{1, wEvent(EventNodeDeleted, "/gone")},
				{1, wEvent(EventNodeDataChanged, "/new")},
			},
			wantAfter: []string{"data /exact 1 standard", "data /old 1 standard"},
		},
		{
			name:      "exist watches",
			req:       Request{Op: OpSetWatches, RelativeZxid: 10, ExistWatches: []string{"/old", "/gone"}},
			want:      []Delivery{{1, wEvent(EventNodeCreated, "/old")}},
			wantAfter: []string{"data /gone 1 standard"},
		},
		{
			name: "child watches",
			req:  Request{Op: OpSetWatches, RelativeZxid: 10, ChildWatches: []string{"/kids", "/gone", "/old", "/exact", "/"}},
			want: []Delivery{
				{1, wEvent(EventNodeChildrenChanged, "/kids")},
				{1, wEvent(EventNodeDeleted, "/gone")},
			},
			wantAfter: []string{"child / 1 standard", "child /exact 1 standard", "child /old 1 standard"},
		},
		{
			name: "order is data, exist, child lists; duplicates not merged",
			req: Request{Op: OpSetWatches2, RelativeZxid: 10,
				ChildWatches: []string{"/gone"}, ExistWatches: []string{"/new"}, DataWatches: []string{"/gone"}},
			want: []Delivery{
				{1, wEvent(EventNodeDeleted, "/gone")},
				{1, wEvent(EventNodeCreated, "/new")},
				{1, wEvent(EventNodeDeleted, "/gone")},
			},
		},
		{
			name: "persistent lists re-register in both tables, even on missing nodes; last mode wins",
			req: Request{Op: OpSetWatches2, RelativeZxid: 10, DataWatches: []string{"/old"},
				PersistentWatches: []string{"/new", "/gone", "/old"}, PersistentRecursiveWatches: []string{"/", "/new"}},
			want: nil,
			wantAfter: []string{
				"child / 1 recursive", "child /gone 1 persistent", "child /new 1 recursive", "child /old 1 persistent",
				"data / 1 recursive", "data /gone 1 persistent", "data /new 1 recursive", "data /old 1 persistent",
			},
		},
		{
			name: "setWatches (v1) carries no persistent lists",
			req: Request{Op: OpSetWatches, RelativeZxid: 10, DataWatches: []string{"/old"},
				PersistentWatches: []string{"/new"}, PersistentRecursiveWatches: []string{"/"}},
			wantAfter: []string{"data /old 1 standard"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWatches()
			got := w.SetWatches(1, tc.req, tree)
			checkWatchesInvariants(t, w)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("SetWatches wDeliveries (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantAfter, describeWatches(w)); diff != "" {
				t.Errorf("watches after (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("re-registered watches fire like fresh ones", func(t *testing.T) {
		w := NewWatches()
		w.SetWatches(1, Request{Op: OpSetWatches2, RelativeZxid: 10,
			DataWatches: []string{"/old"}, ExistWatches: []string{"/gone"}, ChildWatches: []string{"/old"},
			PersistentRecursiveWatches: []string{"/"}}, tree)
		got := w.TriggerAll([]WatchEvent{wEvent(EventNodeCreated, "/gone"), wEvent(EventNodeDeleted, "/old"), wEvent(EventNodeChildrenChanged, "/")})
		want := []Delivery{{1, wEvent(EventNodeCreated, "/gone")}, {1, wEvent(EventNodeDeleted, "/old")}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"child / 1 recursive", "data / 1 recursive"}, describeWatches(w)); diff != "" {
			t.Errorf("watches after (-want +got):\n%s", diff)
		}
	})
}

func TestWatchesRemoveCheck(t *testing.T) {
	// Watcher 1: addWatch PERSISTENT then getData on /a (so a standard
	// data entry and a persistent child entry), recursive on /. Watcher 2:
	// getData /b. Watcher 3: getChildren /c.
	setup := func() *Watches {
		w := NewWatches()
		w.AddPersistent(1, "/a", WatchModePersistent)
		w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
		w.AddPersistent(1, "/", WatchModePersistentRecursive)
		w.AddForRead(2, wRead(OpGetData, "/b"), wOK)
		w.AddForRead(3, wRead(OpGetChildren, "/c"), wOK)
		return w
	}
	before := describeWatches(setup())
	without := func(drop ...string) []string {
		return slices.DeleteFunc(slices.Clone(before), func(s string) bool { return slices.Contains(drop, s) })
	}
	tests := []struct {
		name       string
		id         WatcherID
		path       string
		typ        WatcherType
		wantCheck  Code
		wantRemove Code
		wantAfter  []string // after Remove
	}{
		{"children takes the child entry, persistent or not", 1, "/a", WatcherChildren, CodeOK, CodeOK,
			without("child /a 1 persistent")},
		{"data takes the data entry", 1, "/a", WatcherData, CodeOK, CodeOK,
			without("data /a 1 standard")},
		{"any takes both", 1, "/a", WatcherAny, CodeOK, CodeOK,
			without("child /a 1 persistent", "data /a 1 standard")},
		{"data takes the recursive data entry only", 1, "/", WatcherData, CodeOK, CodeOK,
			without("data / 1 recursive")},
		{"children takes the recursive child entry only", 1, "/", WatcherChildren, CodeOK, CodeOK,
			without("child / 1 recursive")},
		// 3.8's containsWatcher: any watcher on the path in that table.
		{"check sees another watcher's data entry", 1, "/b", WatcherData, CodeOK, CodeNoWatcher, before},
		{"check sees another watcher's child entry", 2, "/c", WatcherAny, CodeOK, CodeNoWatcher, before},
		{"table without an entry on the path", 1, "/c", WatcherData, CodeNoWatcher, CodeNoWatcher, before},
		{"table without an entry on the path (children)", 2, "/b", WatcherChildren, CodeNoWatcher, CodeNoWatcher, before},
		{"ancestor's recursive watch does not count", 1, "/a/x", WatcherAny, CodeNoWatcher, CodeNoWatcher, before},
		{"3.9's persistent type is unknown to 3.8", 1, "/a", WatcherPersistent, CodeMarshallingError, CodeMarshallingError, before},
		{"3.9's recursive type is unknown to 3.8", 1, "/", WatcherPersistentRecursive, CodeMarshallingError, CodeMarshallingError, before},
		{"unknown type 0", 1, "/a", 0, CodeMarshallingError, CodeMarshallingError, before},
		{"unknown type 6", 1, "/a", 6, CodeMarshallingError, CodeMarshallingError, before},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := setup()
			if got := w.Check(tc.id, tc.path, tc.typ); got != tc.wantCheck {
				t.Errorf("Check(%d, %q, %d) = %v, want %v", tc.id, tc.path, tc.typ, got, tc.wantCheck)
			}
			if diff := cmp.Diff(before, describeWatches(w)); diff != "" {
				t.Errorf("Check changed the registry (-want +got):\n%s", diff)
			}
			if got := w.Remove(tc.id, tc.path, tc.typ); got != tc.wantRemove {
				t.Errorf("Remove(%d, %q, %d) = %v, want %v", tc.id, tc.path, tc.typ, got, tc.wantRemove)
			}
			checkWatchesInvariants(t, w)
			if diff := cmp.Diff(tc.wantAfter, describeWatches(w)); diff != "" {
				t.Errorf("after Remove (-want +got):\n%s", diff)
			}
			if tc.wantRemove == CodeOK {
				if got := w.Remove(tc.id, tc.path, tc.typ); got != CodeNoWatcher {
					t.Errorf("second Remove = %v, want %v", got, CodeNoWatcher)
				}
				if got := w.Check(tc.id, tc.path, tc.typ); got != CodeNoWatcher {
					t.Errorf("Check after Remove = %v, want %v", got, CodeNoWatcher)
				}
			}
		})
	}

	// ZooKeeper 3.8's persistent-watches transcript: after addWatch
	// PERSISTENT_RECURSIVE, removeWatches Data then Children both succeed.
	t.Run("recursive watch removed table by table", func(t *testing.T) {
		w := NewWatches()
		w.AddPersistent(1, "/r", WatchModePersistentRecursive)
		for _, step := range []struct {
			typ  WatcherType
			want Code
		}{{WatcherData, CodeOK}, {WatcherData, CodeNoWatcher}, {WatcherChildren, CodeOK}, {WatcherAny, CodeNoWatcher}} {
			if got := w.Remove(1, "/r", step.typ); got != step.want {
				t.Errorf("Remove(%d) = %v, want %v", step.typ, got, step.want)
			}
		}
		checkWatchesInvariants(t, w)
		if w.data.nRecursive+w.child.nRecursive != 0 {
			t.Fatalf("nRecursive = %d+%d, want 0", w.data.nRecursive, w.child.nRecursive)
		}
		if got := w.Trigger(wEvent(EventNodeDeleted, "/r/x")); got != nil {
			t.Errorf("Trigger = %v, want nil", got)
		}
	})
}

func TestWatchesAddPersistentBadMode(t *testing.T) {
	w := NewWatches()
	for _, m := range []WatchMode{-1, 2, 99} {
		if got := w.AddPersistent(1, "/a", m); got != CodeMarshallingError {
			t.Errorf("AddPersistent(mode %d) = %v, want %v", m, got, CodeMarshallingError)
		}
	}
	if got := describeWatches(w); got != nil {
		t.Errorf("registry after bad modes = %v, want empty", got)
	}
	if got := w.AddPersistent(1, "/a", WatchModePersistent); got != CodeOK {
		t.Errorf("AddPersistent(persistent) = %v, want ok", got)
	}
}

func TestWatchesDropWatcher(t *testing.T) {
	w := NewWatches()
	w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
	w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
	w.AddPersistent(1, "/", WatchModePersistentRecursive)
	w.AddForRead(1, wRead(OpGetData, "/gone"), wOK)
	w.Remove(1, "/gone", WatcherData)
	w.AddForRead(2, wRead(OpGetData, "/a"), wOK)
	w.DropWatcher(1)
	w.DropWatcher(42) // unknown: no-op
	checkWatchesInvariants(t, w)
	if diff := cmp.Diff([]string{"data /a 2 standard"}, describeWatches(w)); diff != "" {
		t.Errorf("after DropWatcher (-want +got):\n%s", diff)
	}
	if got := w.Watchers(); got != 1 {
		t.Errorf("Watchers after DropWatcher = %d, want 1", got)
	}
	if diff := cmp.Diff(wDeliveries(wEvent(EventNodeDeleted, "/a"), 2), w.Trigger(wEvent(EventNodeDeleted, "/a"))); diff != "" {
		t.Errorf("Trigger after DropWatcher (-want +got):\n%s", diff)
	}
}

func TestWatchesStats(t *testing.T) {
	type stats struct {
		Count, DataCount, Paths, Watchers int
		ByWatcher                         map[WatcherID][]string
		ByPath                            map[string][]WatcherID
	}
	get := func(w *Watches) stats {
		return stats{w.Count(), w.DataCount(), w.Paths(), w.Watchers(), w.ByWatcher(), w.ByPath()}
	}
	tests := []struct {
		name  string
		setup func(w *Watches)
		want  stats
	}{
		{"empty", func(*Watches) {}, stats{ByWatcher: map[WatcherID][]string{}, ByPath: map[string][]WatcherID{}}},
		{
			name: "mixed",
			setup: func(w *Watches) {
				w.AddForRead(3, wRead(OpGetData, "/b"), wOK)
				w.AddForRead(1, wRead(OpGetData, "/b"), wOK)
				w.AddForRead(1, wRead(OpExists, "/a"), Result{Err: CodeNoNode})
				w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK) // child table: +1
				w.AddForRead(2, wRead(OpGetChildren, "/c"), wOK) // child only: not in wchc/wchp
				w.AddPersistent(4, "/d", WatchModePersistent)    // both tables: +2
				w.AddPersistent(4, "/", WatchModePersistentRecursive)
				w.AddForRead(4, wRead(OpGetData, "/d"), wOK) // replaces the data entry: +0
			},
			want: stats{
				Count: 3 + 1 + 1 + 2 + 2, DataCount: 5, Paths: 4, Watchers: 3,
				ByWatcher: map[WatcherID][]string{1: {"/a", "/b"}, 3: {"/b"}, 4: {"/", "/d"}},
				ByPath:    map[string][]WatcherID{"/": {4}, "/a": {1}, "/b": {1, 3}, "/d": {4}},
			},
		},
		{
			// 3.8's watch2Paths keeps a watcher whose data watches all
			// fired or were removed, until its connection closes.
			name: "watchers left without data watches are still counted and listed",
			setup: func(w *Watches) {
				w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
				w.AddForRead(2, wRead(OpExists, "/a"), wOK)
				w.Trigger(wEvent(EventNodeDataChanged, "/a"))
				w.AddForRead(3, wRead(OpGetData, "/q"), wOK)
				w.AddForRead(3, wRead(OpGetData, "/r"), wOK)
				w.Remove(3, "/q", WatcherData)
				w.AddForRead(5, wRead(OpGetChildren, "/x"), wOK) // child table only
			},
			want: stats{
				Count: 2, DataCount: 1, Paths: 1, Watchers: 3,
				ByWatcher: map[WatcherID][]string{1: {}, 2: {}, 3: {"/r"}},
				ByPath:    map[string][]WatcherID{"/r": {3}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWatches()
			tc.setup(w)
			checkWatchesInvariants(t, w)
			if diff := cmp.Diff(tc.want, get(w)); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWatchParent(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/", "", false}, {"/a", "/", true}, {"/a/b", "/a", true}, {"/a/b/c", "/a/b", true},
		{"", "", false}, {"a", "", false},
	}
	for _, tc := range tests {
		got, ok := watchParent(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("watchParent(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// naiveWatches is the twin for the property test: ZooKeeper 3.8's two
// tables, each a flat list of (watcher, path, mode) entries plus the set of
// watchers it has seen since they were last dropped; every rule is
// evaluated by scanning, with prefix tests in place of the parent walk.
type naiveWatches struct{ data, child naiveTable }

type naiveTable struct {
	entries []naiveEntry
	seen    map[WatcherID]bool
}

type naiveEntry struct {
	id   WatcherID
	path string
	mode watchMode
}

func (t *naiveTable) set(id WatcherID, p string, m watchMode) {
	if t.seen == nil {
		t.seen = map[WatcherID]bool{}
	}
	t.seen[id] = true
	for i, e := range t.entries {
		if e.id == id && e.path == p {
			t.entries[i].mode = m
			return
		}
	}
	t.entries = append(t.entries, naiveEntry{id, p, m})
}

func (t *naiveTable) remove(id WatcherID, p string) bool {
	n := len(t.entries)
	t.entries = slices.DeleteFunc(t.entries, func(e naiveEntry) bool { return e.id == id && e.path == p })
	return len(t.entries) < n
}

func (t *naiveTable) anyOn(p string) bool {
	return slices.ContainsFunc(t.entries, func(e naiveEntry) bool { return e.path == p })
}

func (t *naiveTable) drop(id WatcherID) {
	t.entries = slices.DeleteFunc(t.entries, func(e naiveEntry) bool { return e.id == id })
	delete(t.seen, id)
}

func wIsStrictAncestor(a, p string) bool {
	if a == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, a+"/")
}

// trigger marks in hit whom this table tells about e, and consumes.
func (t *naiveTable) trigger(e WatchEvent, hit map[WatcherID]bool) {
	ncc := e.Type == EventNodeChildrenChanged
	var keep []naiveEntry
	for _, r := range t.entries {
		switch {
		case r.path == e.Path && r.mode == modeStandard:
			hit[r.id] = true
			continue // consumed
		case r.path == e.Path && r.mode == modePersistent:
			hit[r.id] = true
		case r.path == e.Path || wIsStrictAncestor(r.path, e.Path):
			if r.mode == modeRecursive && !ncc {
				hit[r.id] = true
			}
		}
		keep = append(keep, r)
	}
	t.entries = keep
}

func (n *naiveWatches) addForRead(id WatcherID, req Request, res Result) {
	if req.Op == OpMultiRead {
		for i := range req.Ops {
			if i < len(res.Results) {
				n.addForRead(id, req.Ops[i], res.Results[i])
			}
		}
		return
	}
	switch {
	case !req.Watch:
	case req.Op == OpExists && (res.Err == CodeOK || res.Err == CodeNoNode):
		n.data.set(id, req.Path, modeStandard)
	case req.Op == OpGetData && res.Err == CodeOK:
		n.data.set(id, req.Path, modeStandard)
	case (req.Op == OpGetChildren || req.Op == OpGetChildren2) && res.Err == CodeOK:
		n.child.set(id, req.Path, modeStandard)
	}
}

func (n *naiveWatches) addPersistent(id WatcherID, p string, m watchMode) {
	n.data.set(id, p, m)
	n.child.set(id, p, m)
}

func (n *naiveWatches) trigger(e WatchEvent) []Delivery {
	hit := map[WatcherID]bool{}
	switch e.Type {
	case EventNodeCreated, EventNodeDataChanged:
		n.data.trigger(e, hit)
	case EventNodeChildrenChanged:
		n.child.trigger(e, hit)
	case EventNodeDeleted:
		n.data.trigger(e, hit)
		n.child.trigger(e, hit)
	}
	var out []Delivery
	for id := range hit {
		out = append(out, Delivery{id, e})
	}
	slices.SortFunc(out, func(a, b Delivery) int { return int(a.Watcher) - int(b.Watcher) })
	return out
}

func (n *naiveWatches) setWatches(id WatcherID, req Request, t StatLookup) []Delivery {
	var out []Delivery
	for _, p := range req.DataWatches {
		st, ok := t.StatOf(p)
		if !ok {
			out = append(out, Delivery{id, wEvent(EventNodeDeleted, p)})
		} else if st.Mzxid > req.RelativeZxid {
			out = append(out, Delivery{id, wEvent(EventNodeDataChanged, p)})
		} else {
			n.data.set(id, p, modeStandard)
		}
	}
	for _, p := range req.ExistWatches {
		if _, ok := t.StatOf(p); ok {
			out = append(out, Delivery{id, wEvent(EventNodeCreated, p)})
		} else {
			n.data.set(id, p, modeStandard)
		}
	}
	for _, p := range req.ChildWatches {
		st, ok := t.StatOf(p)
		if !ok {
			out = append(out, Delivery{id, wEvent(EventNodeDeleted, p)})
		} else if st.Pzxid > req.RelativeZxid {
			out = append(out, Delivery{id, wEvent(EventNodeChildrenChanged, p)})
		} else {
			n.child.set(id, p, modeStandard)
		}
	}
	if req.Op == OpSetWatches2 {
		for _, p := range req.PersistentWatches {
			n.addPersistent(id, p, modePersistent)
		}
		for _, p := range req.PersistentRecursiveWatches {
			n.addPersistent(id, p, modeRecursive)
		}
	}
	return out
}

// tables is the 3.8 meaning of a removeWatches/checkWatches type.
func (n *naiveWatches) tables(typ WatcherType) []*naiveTable {
	switch typ {
	case WatcherChildren:
		return []*naiveTable{&n.child}
	case WatcherData:
		return []*naiveTable{&n.data}
	case WatcherAny:
		return []*naiveTable{&n.child, &n.data}
	}
	return nil
}

func (n *naiveWatches) remove(id WatcherID, p string, typ WatcherType) Code {
	ts := n.tables(typ)
	if ts == nil {
		return CodeMarshallingError
	}
	removed := false
	for _, t := range ts {
		if t.remove(id, p) {
			removed = true
		}
	}
	if !removed {
		return CodeNoWatcher
	}
	return CodeOK
}

func (n *naiveWatches) check(p string, typ WatcherType) Code {
	ts := n.tables(typ)
	if ts == nil {
		return CodeMarshallingError
	}
	for _, t := range ts {
		if t.anyOn(p) {
			return CodeOK
		}
	}
	return CodeNoWatcher
}

func (n *naiveWatches) drop(id WatcherID) {
	n.data.drop(id)
	n.child.drop(id)
}

type naiveStats struct {
	Count, DataCount, Paths, Watchers int
	ByWatcher                         map[WatcherID][]string
	ByPath                            map[string][]WatcherID
	Dump                              []string
}

func (n *naiveWatches) stats() naiveStats {
	s := naiveStats{ByWatcher: map[WatcherID][]string{}, ByPath: map[string][]WatcherID{}}
	for id := range n.data.seen {
		s.ByWatcher[id] = []string{}
	}
	for _, e := range n.data.entries {
		s.ByWatcher[e.id] = append(s.ByWatcher[e.id], e.path)
		s.ByPath[e.path] = append(s.ByPath[e.path], e.id)
	}
	s.DataCount = len(n.data.entries)
	s.Count = len(n.data.entries) + len(n.child.entries)
	s.Paths, s.Watchers = len(s.ByPath), len(s.ByWatcher)
	for _, v := range s.ByWatcher {
		slices.Sort(v)
	}
	for _, v := range s.ByPath {
		slices.Sort(v)
	}
	for _, e := range n.data.entries {
		s.Dump = append(s.Dump, fmt.Sprintf("data %s %d %s", e.path, e.id, e.mode))
	}
	for _, e := range n.child.entries {
		s.Dump = append(s.Dump, fmt.Sprintf("child %s %d %s", e.path, e.id, e.mode))
	}
	slices.Sort(s.Dump)
	return s
}

func wRealStats(w *Watches) naiveStats {
	return naiveStats{w.Count(), w.DataCount(), w.Paths(), w.Watchers(), w.ByWatcher(), w.ByPath(), describeWatches(w)}
}

// TestWatchesMatchesNaiveTwin drives Watches and naiveWatches with the same
// seeded random operations and requires identical answers and state after
// every step.
func TestWatchesMatchesNaiveTwin(t *testing.T) {
	paths := []string{"/", "/a", "/a/b", "/a/b/c", "/a/c", "/ab", "/b", "/b/a"}
	seeds, steps := int64(150), 150
	if testing.Short() {
		seeds = 20
	}
	for seed := int64(1); seed <= seeds; seed++ {
		rng := rand.New(rand.NewSource(seed))
		w, n := NewWatches(), &naiveWatches{}
		path := func() string { return paths[rng.Intn(len(paths))] }
		id := func() WatcherID { return WatcherID(1 + rng.Intn(4)) }
		readReq := func() (Request, Result) {
			ops := []Op{OpExists, OpGetData, OpGetChildren, OpGetChildren2, OpGetACL}
			errs := []Code{CodeOK, CodeOK, CodeOK, CodeNoNode, CodeNoAuth}
			return Request{Op: ops[rng.Intn(len(ops))], Path: path(), Watch: rng.Intn(5) > 0},
				Result{Err: errs[rng.Intn(len(errs))]}
		}
		eventTypes := []EventType{EventNodeCreated, EventNodeDeleted, EventNodeDataChanged, EventNodeChildrenChanged}
		event := func() WatchEvent { return wEvent(eventTypes[rng.Intn(len(eventTypes))], path()) }
		somePaths := func() []string {
			var out []string
			for range rng.Intn(3) {
				out = append(out, path())
			}
			return out
		}
		for step := range steps {
			var desc string
			var got, want any
			switch op := rng.Intn(100); {
			case op < 30:
				req, res := readReq()
				if rng.Intn(8) == 0 {
					r2, res2 := readReq()
					req = Request{Op: OpMultiRead, Ops: []Request{req, r2}}
					res = Result{Results: []Result{res, res2}}
				}
				x := id()
				desc = fmt.Sprintf("AddForRead(%d, %+v, %+v)", x, req, res)
				w.AddForRead(x, req, res)
				n.addForRead(x, req, res)
			case op < 40:
				x, p, m := id(), path(), WatchMode(rng.Intn(2))
				desc = fmt.Sprintf("AddPersistent(%d, %q, %d)", x, p, m)
				got = w.AddPersistent(x, p, m)
				if m == WatchModePersistent {
					n.addPersistent(x, p, modePersistent)
				} else {
					n.addPersistent(x, p, modeRecursive)
				}
				want = CodeOK
			case op < 65:
				e := event()
				desc = fmt.Sprintf("Trigger(%v)", e)
				got, want = w.Trigger(e), n.trigger(e)
			case op < 72:
				evs := []WatchEvent{event(), event(), event()}
				desc = fmt.Sprintf("TriggerAll(%v)", evs)
				got = w.TriggerAll(evs)
				var all []Delivery
				for _, e := range evs {
					all = append(all, n.trigger(e)...)
				}
				want = all
			case op < 80:
				x, p, typ := id(), path(), WatcherType(rng.Intn(7))
				desc = fmt.Sprintf("Remove(%d, %q, %d)", x, p, typ)
				got, want = w.Remove(x, p, typ), n.remove(x, p, typ)
			case op < 88:
				x, p, typ := id(), path(), WatcherType(rng.Intn(7))
				desc = fmt.Sprintf("Check(%d, %q, %d)", x, p, typ)
				got, want = w.Check(x, p, typ), n.check(p, typ)
			case op < 95:
				st := wFakeTree{}
				for _, p := range paths {
					if rng.Intn(2) == 0 {
						st[p] = Stat{Mzxid: rng.Int63n(4), Pzxid: rng.Int63n(4)}
					}
				}
				x := id()
				req := Request{Op: []Op{OpSetWatches, OpSetWatches2}[rng.Intn(2)], RelativeZxid: rng.Int63n(4),
					DataWatches: somePaths(), ExistWatches: somePaths(), ChildWatches: somePaths(),
					PersistentWatches: somePaths(), PersistentRecursiveWatches: somePaths()}
				desc = fmt.Sprintf("SetWatches(%d, %+v, %v)", x, req, st)
				got, want = w.SetWatches(x, req, st), n.setWatches(x, req, st)
			default:
				x := id()
				desc = fmt.Sprintf("DropWatcher(%d)", x)
				w.DropWatcher(x)
				n.drop(x)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("seed %d step %d %s (-naive +real):\n%s", seed, step, desc, diff)
			}
			if diff := cmp.Diff(n.stats(), wRealStats(w)); diff != "" {
				t.Fatalf("seed %d step %d after %s: state (-naive +real):\n%s", seed, step, desc, diff)
			}
			checkWatchesInvariants(t, w)
		}
	}
}

// BenchmarkTrigger measures one NodeDataChanged on /a/b/c with 1 or 1000
// persistent watchers on it (persistent so that every iteration does the
// same work), with no recursive watch anywhere (no ancestor walk), with
// recursive watches elsewhere (walk, no hit) and with a recursive watcher on
// an ancestor. "noise" adds 1000 one-shot watchers on the ancestors, which
// the walk must not scan.
func BenchmarkTrigger(b *testing.B) {
	const target = "/a/b/c"
	for _, watchers := range []int{1, 1000} {
		for _, rec := range []string{"none", "elsewhere", "ancestor", "ancestor+noise"} {
			b.Run(fmt.Sprintf("watchers=%d/recursive=%s", watchers, rec), func(b *testing.B) {
				w := NewWatches()
				for i := range watchers {
					w.AddPersistent(WatcherID(i+1), target, WatchModePersistent)
				}
				switch rec {
				case "elsewhere":
					w.AddPersistent(1, "/z", WatchModePersistentRecursive)
				case "ancestor", "ancestor+noise":
					w.AddPersistent(1, "/a", WatchModePersistentRecursive)
					w.AddPersistent(WatcherID(watchers+1), "/", WatchModePersistentRecursive)
				}
				if rec == "ancestor+noise" {
					for i := range 1000 {
						w.AddForRead(WatcherID(10000+i), wRead(OpGetData, "/a"), wOK)
						w.AddForRead(WatcherID(10000+i), wRead(OpGetChildren, "/a/b"), wOK)
					}
				}
				e := wEvent(EventNodeDataChanged, target)
				b.ReportAllocs()
				for b.Loop() {
					if len(w.Trigger(e)) == 0 {
						b.Fatal("no deliveries")
					}
				}
			})
		}
	}
}
