package tree

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// describeWatches lists every registration as "path id kinds", sorted, for
// want/got comparisons of the registry's state.
func describeWatches(w *Watches) []string {
	var out []string
	for p, ws := range w.paths {
		for id, k := range ws {
			out = append(out, fmt.Sprintf("%s %d %s", p, id, k))
		}
	}
	slices.Sort(out)
	return out
}

func (k watchKind) String() string {
	var parts []string
	for _, n := range []struct {
		k    watchKind
		name string
	}{{watchData, "data"}, {watchChild, "child"}, {watchPersistent, "persistent"}, {watchRecursive, "recursive"}} {
		if k&n.k != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// checkWatchesInvariants verifies the invariants stated on Watches' fields.
func checkWatchesInvariants(t *testing.T, w *Watches) {
	t.Helper()
	nData, nChild, nRec := 0, 0, 0
	for p, ws := range w.paths {
		if len(ws) == 0 {
			t.Fatalf("paths[%q] is empty", p)
		}
		for id, k := range ws {
			if k == 0 || k&^watchAny != 0 {
				t.Fatalf("paths[%q][%d] = %b", p, id, k)
			}
			if _, ok := w.watchers[id][p]; !ok {
				t.Fatalf("paths[%q][%d] set but watchers[%d] lacks %q", p, id, id, p)
			}
			_, inRec := w.recursive[p][id]
			if inRec != (k&watchRecursive != 0) {
				t.Fatalf("recursive[%q][%d] = %v, kind %s", p, id, inRec, k)
			}
			nData += countIf(k&dataTable != 0)
			nChild += countIf(k&childTable38 != 0)
			nRec += countIf(k&watchRecursive != 0)
		}
	}
	for id, ps := range w.watchers {
		if len(ps) == 0 {
			t.Fatalf("watchers[%d] is empty", id)
		}
		for p := range ps {
			if w.paths[p][id] == 0 {
				t.Fatalf("watchers[%d] has %q but paths lacks it", id, p)
			}
		}
	}
	for p, rs := range w.recursive {
		if len(rs) == 0 {
			t.Fatalf("recursive[%q] is empty", p)
		}
	}
	if nData != w.nData || nChild != w.nChild || nRec != w.nRecursive {
		t.Fatalf("counters data=%d child=%d rec=%d, recounted %d %d %d",
			w.nData, w.nChild, w.nRecursive, nData, nChild, nRec)
	}
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
			wantAfter: []string{"/b 4 data"},
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
			wantAfter: []string{"/a 3 data"},
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
			wantAfter: []string{"/a 1 persistent"},
		},
		{
			name:      "persistent watch does not fire for descendants",
			setup:     func(w *Watches) { w.AddPersistent(1, "/a", WatchModePersistent) },
			events:    []WatchEvent{created("/a/b"), changed("/a/b"), deleted("/a/b"), children("/a/b")},
			want:      [][]Delivery{nil, nil, nil, nil},
			wantAfter: []string{"/a 1 persistent"},
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
			wantAfter: []string{"/a 1 recursive"},
		},
		{
			name:   "recursive watch fires on its own path except NodeChildrenChanged",
			setup:  func(w *Watches) { w.AddPersistent(1, "/a", WatchModePersistentRecursive) },
			events: []WatchEvent{created("/a"), changed("/a"), children("/a"), deleted("/a")},
			want: [][]Delivery{
				wDeliveries(created("/a"), 1), wDeliveries(changed("/a"), 1), nil,
				wDeliveries(deleted("/a"), 1),
			},
			wantAfter: []string{"/a 1 recursive"},
		},
		{
			name:   "recursive watch on the root sees every node event",
			setup:  func(w *Watches) { w.AddPersistent(7, "/", WatchModePersistentRecursive) },
			events: []WatchEvent{created("/x"), changed("/x/y/z"), children("/"), deleted("/x")},
			want: [][]Delivery{
				wDeliveries(created("/x"), 7), wDeliveries(changed("/x/y/z"), 7), nil,
				wDeliveries(deleted("/x"), 7),
			},
			wantAfter: []string{"/ 7 recursive"},
		},
		{
			name: "one-shot then persistent on the same path: one delivery, persistent stays",
			setup: func(w *Watches) {
				w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
				w.AddPersistent(1, "/a", WatchModePersistent)
			},
			events:    []WatchEvent{changed("/a"), changed("/a")},
			want:      [][]Delivery{wDeliveries(changed("/a"), 1), wDeliveries(changed("/a"), 1)},
			wantAfter: []string{"/a 1 persistent"},
		},
		{
			// ZooKeeper 3.8 would downgrade the persistent data watch here
			// (single mode per path, ZOOKEEPER-4466); 3.9+ keeps both.
			name: "persistent then one-shot on the same path: persistent survives the one-shot",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/a", WatchModePersistent)
				w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
				w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
			},
			events: []WatchEvent{changed("/a"), changed("/a"), children("/a"), children("/a")},
			want: [][]Delivery{
				wDeliveries(changed("/a"), 1), wDeliveries(changed("/a"), 1),
				wDeliveries(children("/a"), 1), wDeliveries(children("/a"), 1),
			},
			wantAfter: []string{"/a 1 persistent"},
		},
		{
			name: "recursive ancestor plus data watch of one watcher: one delivery",
			setup: func(w *Watches) {
				w.AddPersistent(1, "/", WatchModePersistentRecursive)
				w.AddPersistent(1, "/a", WatchModePersistentRecursive)
				w.AddForRead(1, wRead(OpGetData, "/a/b"), wOK)
				w.AddPersistent(1, "/a/b", WatchModePersistent)
			},
			events:    []WatchEvent{changed("/a/b")},
			want:      [][]Delivery{wDeliveries(changed("/a/b"), 1)},
			wantAfter: []string{"/ 1 recursive", "/a 1 recursive", "/a/b 1 persistent"},
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
			events:    []WatchEvent{changed("/a/b")},
			want:      [][]Delivery{wDeliveries(changed("/a/b"), 1, 2, 3, 4, 5, 9)},
			wantAfter: []string{"/ 2 recursive", "/a 4 recursive"},
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
			wantAfter: []string{"/a 1 data", "/b 1 child"},
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
			wantAfter: []string{"/exact 1 data", "/old 1 data"},
		},
		{
			name:      "exist watches",
			req:       Request{Op: OpSetWatches, RelativeZxid: 10, ExistWatches: []string{"/old", "/gone"}},
			want:      []Delivery{{1, wEvent(EventNodeCreated, "/old")}},
			wantAfter: []string{"/gone 1 data"},
		},
		{
			name: "child watches",
			req:  Request{Op: OpSetWatches, RelativeZxid: 10, ChildWatches: []string{"/kids", "/gone", "/old", "/exact", "/"}},
			want: []Delivery{
				{1, wEvent(EventNodeChildrenChanged, "/kids")},
				{1, wEvent(EventNodeDeleted, "/gone")},
			},
			wantAfter: []string{"/ 1 child", "/exact 1 child", "/old 1 child"},
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
			name: "persistent lists just re-register, even on missing nodes",
			req: Request{Op: OpSetWatches2, RelativeZxid: 0,
				PersistentWatches: []string{"/new", "/gone"}, PersistentRecursiveWatches: []string{"/", "/new"}},
			want:      nil,
			wantAfter: []string{"/ 1 recursive", "/gone 1 persistent", "/new 1 persistent+recursive"},
		},
		{
			name: "setWatches (v1) carries no persistent lists",
			req: Request{Op: OpSetWatches, RelativeZxid: 10, DataWatches: []string{"/old"},
				PersistentWatches: []string{"/new"}, PersistentRecursiveWatches: []string{"/"}},
			wantAfter: []string{"/old 1 data"},
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
		if diff := cmp.Diff([]string{"/ 1 recursive"}, describeWatches(w)); diff != "" {
			t.Errorf("watches after (-want +got):\n%s", diff)
		}
	})
}

func TestWatchesRemoveCheck(t *testing.T) {
	// Watcher 1 holds every kind on /a; watcher 2 holds a data watch on /b;
	// watcher 1 holds a recursive watch on /.
	setup := func() *Watches {
		w := NewWatches()
		w.AddForRead(1, wRead(OpGetData, "/a"), wOK)
		w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK)
		w.AddPersistent(1, "/a", WatchModePersistent)
		w.AddPersistent(1, "/a", WatchModePersistentRecursive)
		w.AddPersistent(1, "/", WatchModePersistentRecursive)
		w.AddForRead(2, wRead(OpGetData, "/b"), wOK)
		return w
	}
	tests := []struct {
		name      string
		id        WatcherID
		path      string
		typ       WatcherType
		want      Code
		wantAfter []string // for Remove; Check must leave the setup unchanged
	}{
		// 3.8: Children and Data take the persistent entries with them
		{"children", 1, "/a", WatcherChildren, CodeOK,
			[]string{"/ 1 recursive", "/a 1 data", "/b 2 data"}},
		{"data", 1, "/a", WatcherData, CodeOK,
			[]string{"/ 1 recursive", "/a 1 child", "/b 2 data"}},
		{"persistent", 1, "/a", WatcherPersistent, CodeOK,
			[]string{"/ 1 recursive", "/a 1 data+child+recursive", "/b 2 data"}},
		{"persistent recursive", 1, "/a", WatcherPersistentRecursive, CodeOK,
			[]string{"/ 1 recursive", "/a 1 data+child+persistent", "/b 2 data"}},
		{"any", 1, "/a", WatcherAny, CodeOK,
			[]string{"/ 1 recursive", "/b 2 data"}},
		{"another watcher's watch does not count", 1, "/b", WatcherAny, CodeNoWatcher, nil},
		{"no such path", 2, "/a", WatcherData, CodeNoWatcher, nil},
		{"ancestor's recursive watch does not count", 2, "/b/c", WatcherAny, CodeNoWatcher, nil},
		{"type not held", 1, "/b", WatcherChildren, CodeNoWatcher, nil},
		{"data matches a recursive watch (3.8)", 1, "/", WatcherData, CodeOK,
			[]string{"/a 1 data+child+persistent+recursive", "/b 2 data"}},
		{"recursive on root", 1, "/", WatcherPersistentRecursive, CodeOK,
			[]string{"/a 1 data+child+persistent+recursive", "/b 2 data"}},
		{"unknown type 0", 1, "/a", 0, CodeMarshallingError, nil},
		{"unknown type 6", 1, "/a", 6, CodeMarshallingError, nil},
	}
	before := describeWatches(setup())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := setup()
			if got := w.Check(tc.id, tc.path, tc.typ); got != tc.want {
				t.Errorf("Check(%d, %q, %d) = %v, want %v", tc.id, tc.path, tc.typ, got, tc.want)
			}
			if diff := cmp.Diff(before, describeWatches(w)); diff != "" {
				t.Errorf("Check changed the registry (-want +got):\n%s", diff)
			}
			if got := w.Remove(tc.id, tc.path, tc.typ); got != tc.want {
				t.Errorf("Remove(%d, %q, %d) = %v, want %v", tc.id, tc.path, tc.typ, got, tc.want)
			}
			checkWatchesInvariants(t, w)
			wantAfter := tc.wantAfter
			if tc.want != CodeOK {
				wantAfter = before
			}
			if diff := cmp.Diff(wantAfter, describeWatches(w)); diff != "" {
				t.Errorf("after Remove (-want +got):\n%s", diff)
			}
			if tc.want == CodeOK {
				if got := w.Remove(tc.id, tc.path, tc.typ); got != CodeNoWatcher {
					t.Errorf("second Remove = %v, want %v", got, CodeNoWatcher)
				}
				if got := w.Check(tc.id, tc.path, tc.typ); got != CodeNoWatcher {
					t.Errorf("Check after Remove = %v, want %v", got, CodeNoWatcher)
				}
			}
		})
	}

	t.Run("removed recursive watch stops firing and the ancestor walk", func(t *testing.T) {
		w := setup()
		w.Remove(1, "/", WatcherAny)
		w.Remove(1, "/a", WatcherAny)
		if w.nRecursive != 0 {
			t.Fatalf("nRecursive = %d, want 0", w.nRecursive)
		}
		if got := w.Trigger(wEvent(EventNodeCreated, "/a/x")); got != nil {
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
	w.AddForRead(2, wRead(OpGetData, "/a"), wOK)
	w.DropWatcher(1)
	w.DropWatcher(42) // unknown: no-op
	checkWatchesInvariants(t, w)
	if diff := cmp.Diff([]string{"/a 2 data"}, describeWatches(w)); diff != "" {
		t.Errorf("after DropWatcher (-want +got):\n%s", diff)
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
				w.AddForRead(1, wRead(OpGetChildren, "/a"), wOK) // same entry in the child table: +1
				w.AddForRead(2, wRead(OpGetChildren, "/c"), wOK) // child only: not in wchc/wchp
				w.AddPersistent(4, "/d", WatchModePersistent)    // both tables: +2
				w.AddPersistent(4, "/", WatchModePersistentRecursive)
				w.AddForRead(4, wRead(OpGetData, "/d"), wOK) // same entries: +0
			},
			want: stats{
				Count: 3 + 1 + 1 + 2 + 2, DataCount: 5, Paths: 4, Watchers: 3,
				ByWatcher: map[WatcherID][]string{1: {"/a", "/b"}, 3: {"/b"}, 4: {"/", "/d"}},
				ByPath:    map[string][]WatcherID{"/": {4}, "/a": {1}, "/b": {1, 3}, "/d": {4}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWatches()
			tc.setup(w)
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

// naiveWatches is the twin for the property test: a flat list of
// (watcher, path, single kind) registrations, every rule evaluated by
// scanning it, with prefix tests in place of the parent walk.
type naiveWatches struct{ regs []naiveReg }

type naiveReg struct {
	id   WatcherID
	path string
	kind watchKind // exactly one bit
}

func (n *naiveWatches) add(id WatcherID, p string, k watchKind) {
	r := naiveReg{id, p, k}
	if !slices.Contains(n.regs, r) {
		n.regs = append(n.regs, r)
	}
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
		n.add(id, req.Path, watchData)
	case req.Op == OpGetData && res.Err == CodeOK:
		n.add(id, req.Path, watchData)
	case (req.Op == OpGetChildren || req.Op == OpGetChildren2) && res.Err == CodeOK:
		n.add(id, req.Path, watchChild)
	}
}

func wIsStrictAncestor(a, p string) bool {
	if a == "/" {
		return p != "/" && strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, a+"/")
}

func (n *naiveWatches) trigger(e WatchEvent) []Delivery {
	hit := map[WatcherID]bool{}
	var keep []naiveReg
	for _, r := range n.regs {
		fires, consumed := false, false
		if r.path == e.Path {
			switch e.Type {
			case EventNodeCreated, EventNodeDataChanged:
				fires = r.kind != watchChild
				consumed = r.kind == watchData
			case EventNodeDeleted:
				fires = true
				consumed = r.kind == watchData || r.kind == watchChild
			case EventNodeChildrenChanged:
				fires = r.kind == watchChild || r.kind == watchPersistent
				consumed = r.kind == watchChild
			}
		} else if r.kind == watchRecursive && e.Type != EventNodeChildrenChanged && wIsStrictAncestor(r.path, e.Path) {
			fires = true
		}
		if fires {
			hit[r.id] = true
		}
		if !consumed {
			keep = append(keep, r)
		}
	}
	n.regs = keep
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
			n.add(id, p, watchData)
		}
	}
	for _, p := range req.ExistWatches {
		if _, ok := t.StatOf(p); ok {
			out = append(out, Delivery{id, wEvent(EventNodeCreated, p)})
		} else {
			n.add(id, p, watchData)
		}
	}
	for _, p := range req.ChildWatches {
		st, ok := t.StatOf(p)
		if !ok {
			out = append(out, Delivery{id, wEvent(EventNodeDeleted, p)})
		} else if st.Pzxid > req.RelativeZxid {
			out = append(out, Delivery{id, wEvent(EventNodeChildrenChanged, p)})
		} else {
			n.add(id, p, watchChild)
		}
	}
	if req.Op == OpSetWatches2 {
		for _, p := range req.PersistentWatches {
			n.add(id, p, watchPersistent)
		}
		for _, p := range req.PersistentRecursiveWatches {
			n.add(id, p, watchRecursive)
		}
	}
	return out
}

func naiveTypeKinds(typ WatcherType) []watchKind {
	switch typ {
	case WatcherChildren: // 3.8: whole child-table entries
		return []watchKind{watchChild, watchPersistent, watchRecursive}
	case WatcherData: // 3.8: whole data-table entries
		return []watchKind{watchData, watchPersistent, watchRecursive}
	case WatcherPersistent:
		return []watchKind{watchPersistent}
	case WatcherPersistentRecursive:
		return []watchKind{watchRecursive}
	case WatcherAny:
		return []watchKind{watchData, watchChild, watchPersistent, watchRecursive}
	}
	return nil
}

func (n *naiveWatches) removeOrCheck(id WatcherID, p string, typ WatcherType, remove bool) Code {
	kinds := naiveTypeKinds(typ)
	if kinds == nil {
		return CodeMarshallingError
	}
	found := false
	var keep []naiveReg
	for _, r := range n.regs {
		if r.id == id && r.path == p && slices.Contains(kinds, r.kind) {
			found = true
			if remove {
				continue
			}
		}
		keep = append(keep, r)
	}
	n.regs = keep
	if !found {
		return CodeNoWatcher
	}
	return CodeOK
}

func (n *naiveWatches) drop(id WatcherID) {
	n.regs = slices.DeleteFunc(n.regs, func(r naiveReg) bool { return r.id == id })
}

type naiveStats struct {
	Count, DataCount, Paths, Watchers int
	ByWatcher                         map[WatcherID][]string
	ByPath                            map[string][]WatcherID
	Dump                              []string
}

func (n *naiveWatches) stats() naiveStats {
	type key struct {
		id WatcherID
		p  string
	}
	// ZooKeeper 3.8's data table holds every kind but the one-shot child
	// watch; its child table every kind but the one-shot data watch.
	inData, inChild, all := map[key]bool{}, map[key]bool{}, map[key]watchKind{}
	for _, r := range n.regs {
		k := key{r.id, r.path}
		all[k] |= r.kind
		if r.kind != watchChild {
			inData[k] = true
		}
		if r.kind != watchData {
			inChild[k] = true
		}
	}
	s := naiveStats{ByWatcher: map[WatcherID][]string{}, ByPath: map[string][]WatcherID{}}
	paths, watchers := map[string]bool{}, map[WatcherID]bool{}
	for k := range inData {
		s.ByWatcher[k.id] = append(s.ByWatcher[k.id], k.p)
		s.ByPath[k.p] = append(s.ByPath[k.p], k.id)
		paths[k.p], watchers[k.id] = true, true
	}
	s.DataCount = len(inData)
	s.Count = len(inData) + len(inChild)
	s.Paths, s.Watchers = len(paths), len(watchers)
	for _, v := range s.ByWatcher {
		slices.Sort(v)
	}
	for _, v := range s.ByPath {
		slices.Sort(v)
	}
	for k, kinds := range all {
		s.Dump = append(s.Dump, fmt.Sprintf("%s %d %s", k.p, k.id, kinds))
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
					n.add(x, p, watchPersistent)
				} else {
					n.add(x, p, watchRecursive)
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
				got, want = w.Remove(x, p, typ), n.removeOrCheck(x, p, typ, true)
			case op < 88:
				x, p, typ := id(), path(), WatcherType(rng.Intn(7))
				desc = fmt.Sprintf("Check(%d, %q, %d)", x, p, typ)
				got, want = w.Check(x, p, typ), n.removeOrCheck(x, p, typ, false)
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
