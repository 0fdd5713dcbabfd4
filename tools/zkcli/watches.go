package zkcli

import (
	"github.com/go-zookeeper/zk"

	"zabd/tree"
)

// watchKind is one of the Java client's five watch tables.
type watchKind int

const (
	watchData watchKind = iota + 1
	watchExist
	watchChild
	watchPersistent
	watchPersistentRecursive
)

// watchRegistry mirrors the watches the session holds, as the Java client's
// ZKWatchManager does: one-shot data/exist/child watches leave it when an
// event fires them, persistent ones stay until removed. zkCli's
// removewatches checks it before and after asking the server.
//
// Concurrency: not safe by itself; Client.mu guards it.
type watchRegistry map[watchKind]map[string]bool

func newWatchRegistry() watchRegistry {
	r := watchRegistry{}
	for k := watchData; k <= watchPersistentRecursive; k++ {
		r[k] = map[string]bool{}
	}
	return r
}

func (r watchRegistry) add(k watchKind, path string) { r[k][path] = true }

// fire drops the one-shot watches an event of type t at path consumes
// (ZKWatchManager.materialize).
func (r watchRegistry) fire(t zk.EventType, path string) {
	switch t {
	case zk.EventNodeDataChanged, zk.EventNodeCreated:
		delete(r[watchData], path)
		delete(r[watchExist], path)
	case zk.EventNodeChildrenChanged:
		delete(r[watchChild], path)
	case zk.EventNodeDeleted:
		delete(r[watchData], path)
		delete(r[watchExist], path)
		delete(r[watchChild], path)
	}
}

// kindsFor lists which tables a removewatches of type wt consults for the
// "is there any such watcher" check (containsWatcher) and which it removes
// from (removeWatcher). They differ: Children and Data count persistent
// watches as present but do not remove them.
func kindsFor(wt tree.WatcherType) (check, remove []watchKind) {
	switch wt {
	case tree.WatcherChildren:
		return []watchKind{watchChild, watchPersistent, watchPersistentRecursive}, []watchKind{watchChild}
	case tree.WatcherData:
		return []watchKind{watchData, watchExist, watchPersistent, watchPersistentRecursive}, []watchKind{watchData, watchExist}
	}
	all := []watchKind{watchChild, watchData, watchExist, watchPersistent, watchPersistentRecursive}
	return all, all
}

func (r watchRegistry) has(path string, kinds []watchKind) bool {
	for _, k := range kinds {
		if r[k][path] {
			return true
		}
	}
	return false
}

// remove drops path from the given tables and returns the removal events
// the Java client delivers for them, in a fixed order: child, data,
// persistent.
func (r watchRegistry) remove(path string, kinds []watchKind) []zk.EventType {
	var child, data, persistent bool
	for _, k := range kinds {
		if !r[k][path] {
			continue
		}
		delete(r[k], path)
		switch k {
		case watchChild:
			child = true
		case watchData, watchExist:
			data = true
		default:
			persistent = true
		}
	}
	var evs []zk.EventType
	if child {
		evs = append(evs, 6) // ChildWatchRemoved
	}
	if data {
		evs = append(evs, 5) // DataWatchRemoved
	}
	if persistent {
		evs = append(evs, 7) // PersistentWatchRemoved
	}
	return evs
}
