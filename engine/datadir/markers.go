package datadir

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"zabd/log"
	"zabd/log/vfs"
)

// Small durable facts kept beside the data, each in a file of its own,
// replaced whole (write a .tmp, fsync, rename, fsync the directory), so
// after a crash a file holds its old value or its new one, never a part.
const (
	// CurrentEpochFile holds the epoch this server last started in (as
	// ZooKeeper's currentEpoch file). The next start takes one above the
	// largest of it, the log's and the snapshot's, so a zxid is never
	// reused even when a repair cut the log's newest epoch away.
	CurrentEpochFile = "currentEpoch"
	// PurgedBelowFile holds the zxid below which the log was purged.
	// Recovery refuses a snapshot older than that (or no snapshot at all)
	// instead of replaying a log with a hole in it.
	PurgedBelowFile = "logPurgedBelow"
)

// Dir is a data directory's state on a filesystem. The zero value is not
// usable; its methods are safe for concurrent use only where the files
// they touch differ (one owner per file, as zabd has).
type Dir struct {
	FS   vfs.FS
	Path string
}

// Open returns the state of the data dir at path on fsys.
func Open(fsys vfs.FS, path string) Dir { return Dir{FS: fsys, Path: path} }

func (d Dir) file(name string) string { return filepath.Join(d.Path, name) }

// readUint reads a decimal number; a missing file is 0.
func (d Dir) readUint(name string) (uint64, error) {
	path := d.file(name)
	b, err := vfs.ReadFile(d.FS, path)
	if vfs.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("datadir: reading %s: %w", path, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("datadir: %s holds %q, not a number: %w", path, b, err)
	}
	return v, nil
}

// writeUint replaces name's number durably.
func (d Dir) writeUint(name string, v uint64) error {
	return d.replace(name, []byte(strconv.FormatUint(v, 10)+"\n"))
}

// replace makes name hold data, durably and atomically: a crash leaves
// the old content or the new.
func (d Dir) replace(name string, data []byte) error {
	path := d.file(name)
	tmp := path + ".tmp"
	if err := d.FS.Remove(tmp); err != nil && !vfs.IsNotExist(err) {
		return fmt.Errorf("datadir: removing a stale %s: %w", tmp, err)
	}
	f, err := d.FS.Create(tmp)
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("datadir: writing %s: %s: %w", tmp, vfs.NoSpaceDetail(d.FS, d.Path, int64(len(data))), err)
		}
		return fmt.Errorf("datadir: writing %s: %w", tmp, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		d.FS.Remove(tmp) // best effort: a leftover is removed by the next replace
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("datadir: writing %s: %s: %w", tmp, vfs.NoSpaceDetail(d.FS, d.Path, int64(len(data))), err)
		}
		return fmt.Errorf("datadir: writing %s: %w", tmp, err)
	}
	if err := d.FS.Rename(tmp, path); err != nil {
		return fmt.Errorf("datadir: installing %s: %w", path, err)
	}
	if err := vfs.SyncDir(d.FS, d.Path); err != nil {
		return fmt.Errorf("datadir: syncing %s after installing %s: %w", d.Path, name, err)
	}
	return nil
}

// CurrentEpoch is the epoch recorded by the last NextEpoch (0 if none).
func (d Dir) CurrentEpoch() (uint32, error) {
	v, err := d.readUint(CurrentEpochFile)
	return uint32(v), err
}

// NextEpoch is one above every epoch used before: the recorded one and
// last's (the log's or the snapshot's last zxid). It records the choice
// durably before returning, so no later start can choose it again.
func (d Dir) NextEpoch(last log.Zxid) (uint32, error) {
	recorded, err := d.readUint(CurrentEpochFile)
	if err != nil {
		return 0, err
	}
	e := max(recorded, uint64(last.Epoch())) + 1
	if e > 0xffffffff {
		return 0, fmt.Errorf("datadir: epochs exhausted (last %d)", e-1)
	}
	if err := d.writeUint(CurrentEpochFile, e); err != nil {
		return 0, err
	}
	return uint32(e), nil
}

// PurgedBelow is the zxid below which the log was purged (0 if never).
func (d Dir) PurgedBelow() (log.Zxid, error) {
	v, err := d.readUint(PurgedBelowFile)
	return log.Zxid(v), err
}

// Purger removes log records below a zxid (engine.Engine's PurgeBefore).
type Purger interface {
	PurgeBefore(z log.Zxid) error
}

// PurgeRecorder returns a Purger that records how far the log will be
// purged (durably, never moving back) before purging it with p, so that
// recovery can tell a log with a hole from a whole one.
func (d Dir) PurgeRecorder(p Purger) Purger { return purgeRecorder{d: d, p: p} }

type purgeRecorder struct {
	d Dir
	p Purger
}

func (r purgeRecorder) PurgeBefore(z log.Zxid) error {
	old, err := r.d.readUint(PurgedBelowFile)
	if err != nil {
		return err
	}
	if uint64(z) > old {
		if err := r.d.writeUint(PurgedBelowFile, uint64(z)); err != nil {
			return err
		}
	}
	return r.p.PurgeBefore(z)
}

// ErrLogHole matches CheckLogCovers' refusal.
var ErrLogHole = errors.New("datadir: the log does not reach back to the snapshot")

// CheckLogCovers refuses recovery from a snapshot starting at start when
// the log was purged past it: the records in (start, purgedBelow) are gone.
func (d Dir) CheckLogCovers(start log.Zxid) error {
	purged, err := d.PurgedBelow()
	if err != nil {
		return err
	}
	if purged > start+1 {
		return fmt.Errorf("%w: the log was purged below zxid %s but the newest usable snapshot starts at %s: "+
			"the txns between are gone (is the snapshot directory missing or damaged?)", ErrLogHole, purged, start)
	}
	return nil
}

// AcceptedEpochFile holds a quorum member's acceptedEpoch (ZooKeeper's
// file of that name): the newest epoch it agreed to follow or lead. In
// quorum mode CurrentEpochFile holds ZAB's currentEpoch: the epoch of the
// newest history the member synced.
const AcceptedEpochFile = "acceptedEpoch"

// Epochs reads a quorum member's acceptedEpoch and currentEpoch. A data
// dir that has never been a member has no acceptedEpoch: it is taken to
// be the currentEpoch.
func (d Dir) Epochs() (accepted, current uint32, err error) {
	c, err := d.readUint(CurrentEpochFile)
	if err != nil {
		return 0, 0, err
	}
	a, err := d.readUint(AcceptedEpochFile)
	if err != nil {
		return 0, 0, err
	}
	return uint32(max(a, c)), uint32(c), nil
}

// SetEpochs records both epochs durably, one file at a time, in an order
// that keeps acceptedEpoch >= currentEpoch at every moment a crash could
// reveal: a rising currentEpoch is written after acceptedEpoch, a falling
// one (a learner about to restore a snapshot) before it.
func (d Dir) SetEpochs(fromAccepted, fromCurrent, accepted, current uint32) error {
	writeAccepted := func() error {
		if accepted == fromAccepted {
			return nil
		}
		return d.writeUint(AcceptedEpochFile, uint64(accepted))
	}
	writeCurrent := func() error {
		if current == fromCurrent {
			return nil
		}
		return d.writeUint(CurrentEpochFile, uint64(current))
	}
	first, second := writeAccepted, writeCurrent
	if current < fromCurrent {
		first, second = writeCurrent, writeAccepted
	}
	if err := first(); err != nil {
		return err
	}
	return second()
}

// SetPurgedBelow records that the log holds nothing below z (a member
// that restored a snapshot its leader sent: its log starts after it).
func (d Dir) SetPurgedBelow(z log.Zxid) error {
	return d.writeUint(PurgedBelowFile, uint64(z))
}

// WriteMarker records a number under name durably (a file of its own).
func (d Dir) WriteMarker(name string, v uint64) error { return d.writeUint(name, v) }

// ReadMarker reads the number under name; ok is false when there is none.
func (d Dir) ReadMarker(name string) (v uint64, ok bool, err error) {
	if _, err := d.FS.Stat(d.file(name)); vfs.IsNotExist(err) {
		return 0, false, nil
	}
	v, err = d.readUint(name)
	return v, err == nil, err
}

// RemoveMarker removes name durably (nothing to do when it is gone).
func (d Dir) RemoveMarker(name string) error {
	if err := d.FS.Remove(d.file(name)); err != nil {
		if vfs.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("datadir: removing %s: %w", d.file(name), err)
	}
	return vfs.SyncDir(d.FS, d.Path)
}

// ErrNotEmpty matches CheckNew's refusal of a directory with files in it.
var ErrNotEmpty = errors.New("the destination exists and is not empty")

// CheckNew makes sure dir can become a new data dir: it is missing or
// empty. A tool writing one (a conversion, an import, an export) refuses
// anything else rather than mix its files with others.
func CheckNew(fsys vfs.FS, dir string) error {
	ents, err := fsys.List(dir)
	if vfs.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("datadir: %w", err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("%w: %s holds %s", ErrNotEmpty, dir, ents[0])
	}
	return nil
}
