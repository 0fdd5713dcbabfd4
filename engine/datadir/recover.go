package datadir

import (
	"fmt"
	"path/filepath"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
)

// RecordSource is what recovery reads of the log: engine.Engine's Iter and
// LastZxid.
type RecordSource interface {
	Iter(from log.Zxid) (engine.Iterator, error)
	LastZxid() log.Zxid
}

// Recovered is the state Recover rebuilt.
type Recovered struct {
	Tree     *tree.Tree
	Snapshot engine.SnapshotInfo // the snapshot restored; zero Path if none
	Meta     snapshot.Meta       // its Meta (zero if none)
	Replayed int                 // txns replayed from the log after it
	// Last is the last zxid the data dir has seen: the log's last, or the
	// snapshot's start if the log holds nothing after it. The next epoch
	// must be above it.
	Last log.Zxid
}

// Recover rebuilds the tree from the data dir: the newest snapshot in
// snaps that reads back whole (skipped is told of each one that does not,
// newest first, before an older one is tried), then every txn of the log
// after the snapshot's start zxid. It refuses a log purged past the
// snapshot (ErrLogHole).
func (d Dir) Recover(src RecordSource, snaps *engine.SnapshotStore, cfg tree.Config, skipped func(engine.SnapshotInfo, error)) (Recovered, error) {
	return d.RecoverFrom(src, LoadSnapshot(snaps, cfg, skipped))
}

// Restored is the first half of Recover: the newest snapshot that read
// back whole (none: an empty tree and a zero Info), or why none could be.
type Restored struct {
	Tree *tree.Tree
	Meta snapshot.Meta
	Info engine.SnapshotInfo
	Err  error
}

// LoadSnapshot restores the newest snapshot of snaps that reads back
// whole, as Recover does. It reads nothing of the log, so it may run while
// the log opens; nothing may change snaps meanwhile.
func LoadSnapshot(snaps *engine.SnapshotStore, cfg tree.Config, skipped func(engine.SnapshotInfo, error)) Restored {
	t, meta, info, err := snaps.LoadNewest(cfg, skipped)
	return Restored{Tree: t, Meta: meta, Info: info, Err: err}
}

// RecoverFrom is the second half of Recover: it replays the log after the
// restored snapshot r over it.
func (d Dir) RecoverFrom(src RecordSource, r Restored) (Recovered, error) {
	if r.Err != nil {
		return Recovered{}, fmt.Errorf("datadir: restoring a snapshot: %w", r.Err)
	}
	t, meta, info := r.Tree, r.Meta, r.Info
	if err := d.CheckLogCovers(meta.StartZxid); err != nil {
		return Recovered{}, err
	}
	it, err := src.Iter(meta.StartZxid + 1)
	if err != nil {
		return Recovered{}, fmt.Errorf("datadir: reading the log after zxid %s: %w", meta.StartZxid, err)
	}
	n, err := Replay(t, it)
	it.Close()
	if err != nil {
		return Recovered{}, err
	}
	return Recovered{Tree: t, Snapshot: info, Meta: meta, Replayed: n, Last: max(src.LastZxid(), meta.StartZxid)}, nil
}

// SetAside is one snapshot SetAsideUnusable moved.
type SetAside struct {
	From, To string
	Meta     snapshot.Meta // as far as it could be read
	Why      string
}

// SetAsideUnusable moves into the directory aside (which must exist)
// every snapshot of snaps that cannot stand for the state at zxid kept
// (engine.SnapshotStore.UsableFor): one that starts after kept, one whose
// walk ended after it, one of a format version that does not record where
// its walk ended, and one whose header or trailer cannot be read. A cut of
// the log at kept (a repair, a TRUNC) must do this, or a restore would
// bring back txns the log no longer has. The moves are durable when it
// returns (both directories synced).
func SetAsideUnusable(fsys vfs.FS, snaps *engine.SnapshotStore, dir string, kept log.Zxid, aside string) ([]SetAside, error) {
	infos, err := snaps.List()
	if err != nil {
		return nil, fmt.Errorf("datadir: listing the snapshots in %s: %w", dir, err)
	}
	var moved []SetAside
	for _, info := range infos {
		m, usable, err := snaps.UsableFor(info, kept)
		if usable {
			continue
		}
		var why string
		switch {
		case info.StartZxid > kept:
			why = "it starts after the cut"
		case err != nil:
			why = fmt.Sprintf("its header or trailer cannot be read (%v), so it cannot be shown to end at or before the cut", err)
		case !m.EndKnown():
			why = fmt.Sprintf("it is of format version %d, which does not record where its walk ended, so it may hold txns after the cut", m.Version)
		default:
			why = fmt.Sprintf("its walk ended at zxid %v, after the cut: it holds txns the cut log no longer has", m.EndZxid)
		}
		to := filepath.Join(aside, filepath.Base(info.Path))
		if err := fsys.Rename(info.Path, to); err != nil {
			return moved, fmt.Errorf("datadir: moving snapshot %s aside (%s): %w", info.Path, why, err)
		}
		moved = append(moved, SetAside{From: info.Path, To: to, Meta: m, Why: why})
	}
	if len(moved) == 0 {
		return nil, nil
	}
	if err := vfs.SyncDir(fsys, aside); err != nil {
		return moved, fmt.Errorf("datadir: syncing %s: %w", aside, err)
	}
	if err := vfs.SyncDir(fsys, dir); err != nil {
		return moved, fmt.Errorf("datadir: syncing %s: %w", dir, err)
	}
	return moved, nil
}
