package member

import (
	"io"

	"zabd/engine"
	"zabd/log"
	"zabd/snapshot"
	"zabd/tree"
	"zabd/zab"
)

// Snapshots taken by the snapshotter (zab.Snapshotter) must hold
// committed state only, and one tree: a member's tree may hold txns a
// recovery applied that the next leader truncates (until it serves), and
// a TRUNC or a SNAP replaces the tree. So a snapshot is saved only while
// the member serves, and a replacement of the tree waits for a snapshot
// in progress (swapMu).

// guardedStore is the snapshot store as the member's snapshotter sees it.
type guardedStore struct {
	m *Member
	*engine.SnapshotStore
}

// SnapshotStore wraps the member's store for its snapshotter: Save holds
// the tree in place for the walk and refuses while the member does not
// serve.
func (m *Member) SnapshotStore() zab.SnapshotStore {
	return guardedStore{m: m, SnapshotStore: m.cfg.Snaps}
}

func (g guardedStore) Save(write func(w io.Writer) (log.Zxid, error)) (engine.SnapshotInfo, error) {
	g.m.swapMu.RLock()
	defer g.m.swapMu.RUnlock()
	if !g.m.isServing() {
		return engine.SnapshotInfo{}, ErrNotServing
	}
	return g.SnapshotStore.Save(write)
}

// SnapshotSource is the snapshotter's view of the tree.
func (m *Member) SnapshotSource() snapshot.Source {
	return func(fn func(t *tree.Tree)) { m.withTree(fn) }
}

// LogPurger is the log as the snapshotter purges it (the member's index
// follows).
func (m *Member) LogPurger() zab.LogPurger { return m.log }
