package member

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/snapshot"
	"zabd/tree"
	"zabd/zab/peer"
)

// Engine is what a member needs of its storage engine (engine.Engine).
type Engine interface {
	Append(ctx context.Context, recs []log.Record) error
	Iter(from log.Zxid) (engine.Iterator, error)
	LastZxid() log.Zxid
	TruncateAfter(z log.Zxid) error
	PurgeBefore(z log.Zxid) error
}

// memberLog is the member's log as the core reads it (peer.Log): the
// zxids the engine holds, kept in memory so Floor is a binary search, and
// the base: the zxid of the state the log starts after (0 while the log
// holds the whole history). Safe for concurrent use: the snapshotter's
// purge trims it from its own goroutine.
type memberLog struct {
	eng   Engine
	snaps *engine.SnapshotStore
	dir   datadir.Dir

	mu    sync.Mutex
	zxids []log.Zxid
	base  log.Zxid
}

// openLog indexes the engine's records. base is 0 when nothing was ever
// purged below the log (the purge marker is 0), else the state the log
// starts after: the purge marker minus one.
func openLog(eng Engine, snaps *engine.SnapshotStore, dir datadir.Dir) (*memberLog, error) {
	l := &memberLog{eng: eng, snaps: snaps, dir: dir}
	purged, err := dir.PurgedBelow()
	if err != nil {
		return nil, err
	}
	if purged > 0 {
		l.base = purged - 1
	}
	it, err := eng.Iter(0)
	if err != nil {
		return nil, fmt.Errorf("member: indexing the log: %w", err)
	}
	defer it.Close()
	for it.Next() {
		l.zxids = append(l.zxids, it.Record().Zxid)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("member: indexing the log: %w", err)
	}
	return l, nil
}

func (l *memberLog) lastLocked() log.Zxid {
	if n := len(l.zxids); n > 0 && l.zxids[n-1] > l.base {
		return l.zxids[n-1]
	}
	return l.base
}

// Bounds: peer.Log.
func (l *memberLog) Bounds() (log.Zxid, log.Zxid) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.base > 0 {
		return l.base, l.lastLocked()
	}
	if len(l.zxids) == 0 {
		return 0, 0
	}
	return l.zxids[0], l.lastLocked()
}

// Floor: peer.Log.
func (l *memberLog) Floor(z log.Zxid) (log.Zxid, bool) {
	oldest, _ := l.Bounds()
	l.mu.Lock()
	defer l.mu.Unlock()
	if z < oldest {
		return 0, false
	}
	i, found := slices.BinarySearch(l.zxids, z)
	if found && z >= l.base {
		return z, true
	}
	if i == 0 || l.zxids[i-1] < l.base {
		return l.base, true
	}
	return l.zxids[i-1], true
}

// Whole: peer.Log.
func (l *memberLog) Whole() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base == 0
}

// Base: peer.Log. The lowest zxid the state can be rebuilt at: 0 for a
// whole log, else the oldest end of a snapshot the log reaches back to
// (the last zxid when none does: nothing can be cut).
func (l *memberLog) Base() log.Zxid {
	l.mu.Lock()
	base, last := l.base, l.lastLocked()
	l.mu.Unlock()
	if base == 0 {
		return 0
	}
	infos, err := l.snaps.List()
	if err != nil {
		return last
	}
	lowest := last
	for _, info := range infos {
		if info.StartZxid < base {
			continue // the log no longer reaches back to it
		}
		m, err := l.snaps.ReadMeta(info)
		if err != nil || !m.EndKnown() {
			continue
		}
		lowest = min(lowest, m.EndZxid)
	}
	return lowest
}

// appended records entries the engine now holds.
func (l *memberLog) appended(es []peer.Entry) {
	l.mu.Lock()
	for _, e := range es {
		l.zxids = append(l.zxids, e.Zxid)
	}
	l.mu.Unlock()
}

// truncated drops the zxids above z.
func (l *memberLog) truncated(z log.Zxid) {
	l.mu.Lock()
	i, _ := slices.BinarySearch(l.zxids, z+1)
	l.zxids = l.zxids[:i]
	l.mu.Unlock()
}

// restarted empties the log: it starts after the state at z.
func (l *memberLog) restarted(z log.Zxid) {
	l.mu.Lock()
	l.zxids, l.base = nil, z
	l.mu.Unlock()
}

// PurgeBefore purges the engine below z (datadir.Purger) and moves the
// base up to the state the log now starts after (z-1: the start of the
// oldest snapshot kept, which the snapshotter purges below).
func (l *memberLog) PurgeBefore(z log.Zxid) error {
	if err := l.eng.PurgeBefore(z); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if z-1 > l.base {
		l.base = z - 1
	}
	i, _ := slices.BinarySearch(l.zxids, l.base)
	l.zxids = slices.Delete(l.zxids, 0, i)
	return nil
}

// entries reads the logged entries in (prev, to] from the engine, and
// checks they continue prev: prev is a zxid the log holds, or the base,
// or 0 with a whole log.
func (l *memberLog) entries(prev, to log.Zxid) ([]peer.Entry, error) {
	if f, ok := l.Floor(prev); (!ok || f != prev) && !(prev == 0 && l.Whole()) {
		return nil, fmt.Errorf("member: the log does not hold zxid %v any more", prev)
	}
	it, err := l.eng.Iter(prev + 1)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []peer.Entry
	for it.Next() {
		r := it.Record()
		if r.Zxid <= prev {
			// Purged below prev+1 only partly: Iter may start lower.
			continue
		}
		if r.Zxid > to {
			break
		}
		out = append(out, peer.Entry{Zxid: r.Zxid, Data: r.Data})
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 || out[len(out)-1].Zxid != to {
		return nil, fmt.Errorf("member: the log does not hold every txn in (%v, %v]", prev, to)
	}
	return out, nil
}

// ---- restoring a snapshot the leader sent ----

// restoreMarker names the snapshot a restore is installing until the log
// is emptied behind it; a start finishes (or forgets) a restore a crash
// interrupted (FinishRestore).
const restoreMarker = "restoring"

// restore makes the snapshot in b (the exact state at z, as a leader
// sends it) the member's state, and its log empty after it, crash-safely:
// a marker names z first; then the snapshot is saved, the log emptied and
// the purge marker moved to z+1; then the marker goes. A crash before the
// snapshot is saved leaves the old state (FinishRestore drops the
// marker); after, FinishRestore completes the rest.
func restore(eng Engine, snaps *engine.SnapshotStore, dir datadir.Dir, z log.Zxid, b []byte) error {
	m, err := snapshot.ReadHeader(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("member: the snapshot the leader sent: %w", err)
	}
	if m.StartZxid != z {
		return fmt.Errorf("member: the leader sent a snapshot starting at %v for the state at %v", m.StartZxid, z)
	}
	if err := dir.WriteMarker(restoreMarker, uint64(z)); err != nil {
		return err
	}
	if _, err := snaps.Save(func(w io.Writer) (log.Zxid, error) {
		_, err := w.Write(b)
		return z, err
	}); err != nil {
		return fmt.Errorf("member: saving the snapshot at %v the leader sent: %w", z, err)
	}
	return finishRestore(eng, dir, z)
}

func finishRestore(eng Engine, dir datadir.Dir, z log.Zxid) error {
	if err := eng.TruncateAfter(0); err != nil {
		return fmt.Errorf("member: emptying the log for the snapshot at %v: %w", z, err)
	}
	if err := dir.SetPurgedBelow(z + 1); err != nil {
		return err
	}
	return dir.RemoveMarker(restoreMarker)
}

// FinishRestore completes a restore a crash interrupted, before recovery
// reads the data dir: if the snapshot it was installing is saved, the log
// is emptied behind it; if not, the old state stands.
func FinishRestore(eng Engine, snaps *engine.SnapshotStore, dir datadir.Dir) error {
	z, ok, err := dir.ReadMarker(restoreMarker)
	if err != nil || !ok {
		return err
	}
	infos, err := snaps.List()
	if err != nil {
		return err
	}
	for _, info := range infos {
		if info.StartZxid == log.Zxid(z) {
			return finishRestore(eng, dir, log.Zxid(z))
		}
	}
	return dir.RemoveMarker(restoreMarker)
}

// rebuild makes the tree the state at z from the newest snapshot usable
// for it and the log (already cut at z).
func rebuild(eng Engine, snaps *engine.SnapshotStore, dir datadir.Dir, cfg tree.Config, z log.Zxid) (*tree.Tree, error) {
	infos, err := snaps.List()
	if err != nil {
		return nil, err
	}
	t := tree.New(cfg)
	for _, info := range infos {
		if _, usable, err := snaps.UsableFor(info, z); err != nil || !usable {
			continue
		}
		st, m, err := snaps.Load(info, cfg)
		if err != nil {
			continue
		}
		if err := dir.CheckLogCovers(m.StartZxid); err != nil {
			continue
		}
		t = st
		break
	}
	if t.LastZxid() == 0 {
		if err := dir.CheckLogCovers(0); err != nil {
			return nil, fmt.Errorf("member: no snapshot to rebuild the state at %v from: %w", z, err)
		}
	}
	it, err := eng.Iter(log.Zxid(t.LastZxid()) + 1)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	if _, err := datadir.Replay(t, it); err != nil {
		return nil, err
	}
	if log.Zxid(t.LastZxid()) > z {
		return nil, fmt.Errorf("member: rebuilding the state at %v went to %v", z, log.Zxid(t.LastZxid()))
	}
	return t, nil
}

// snapshotBytes writes the exact state of t (held still by the caller)
// with codec.
func snapshotBytes(t *tree.Tree, codec snapshot.Codec) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := snapshot.Write(&buf, snapshot.Still(t), snapshot.Options{Codec: codec}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var errNoSnapshot = errors.New("member: SNAP without a snapshot")
