package logread

import (
	"bufio"
	"cmp"
	"fmt"
	"path/filepath"
	"slices"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
)

// Snapshot is one snapshot file of a data dir.
type Snapshot struct {
	Name  string   // file name, snapshot.<16 hex digits>
	Path  string   // the file's path
	Start log.Zxid // the start zxid its name gives
	Bytes int64
}

// Snapshots lists the data dir's snapshots, oldest first. A missing
// snapshot directory holds none; a temporary file (a snapshot being
// written) is not one.
func (d *DataDir) Snapshots() ([]Snapshot, error) {
	dir := filepath.Join(d.Dir, engine.SnapshotDirName)
	names, err := d.fs.List(dir)
	if vfs.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logread: listing %s: %w", dir, err)
	}
	var out []Snapshot
	for _, n := range names {
		z, ok := engine.ParseSnapshotName(n)
		if !ok {
			continue
		}
		p := filepath.Join(dir, n)
		fi, err := d.fs.Stat(p)
		if vfs.IsNotExist(err) {
			continue // purged meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("logread: %w", err)
		}
		out = append(out, Snapshot{Name: n, Path: p, Start: z, Bytes: fi.Size()})
	}
	slices.SortFunc(out, func(a, b Snapshot) int { return cmp.Compare(a.Start, b.Start) })
	return out, nil
}

// SnapshotMeta reads a snapshot's header and trailer only: its start and
// end zxids. A header whose start is not the one the name gives is
// damage (matching snapshot.ErrCorrupt).
func (d *DataDir) SnapshotMeta(s Snapshot) (snapshot.Meta, error) {
	f, err := d.fs.Open(s.Path)
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("logread: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("logread: %w", err)
	}
	m, err := snapshot.ReadMeta(f, fi.Size())
	if err != nil {
		return m, fmt.Errorf("snapshot %s: %w", s.Path, err)
	}
	return m, checkName(s.Path, m)
}

// CheckSnapshot reads a whole snapshot file, checking every checksum,
// without building its tree (snapshot.Check): its Meta counts its nodes
// and sessions.
func (d *DataDir) CheckSnapshot(s Snapshot) (snapshot.Meta, error) {
	f, err := d.fs.Open(s.Path)
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("logread: %w", err)
	}
	defer f.Close()
	m, err := snapshot.Check(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return m, fmt.Errorf("snapshot %s: %w", s.Path, err)
	}
	return m, checkName(s.Path, m)
}

// LoadSnapshot reads a whole snapshot file, checking every checksum, into
// a tree (see ReadSnapshotFile).
func (d *DataDir) LoadSnapshot(s Snapshot) (*tree.Tree, snapshot.Meta, error) {
	return readSnapshot(d.fs, s.Path)
}

// ReadSnapshotFile reads the snapshot file at path (anywhere, not only in
// a data dir), read-only, checking every checksum, into a tree built with
// a zero tree.Config. If the file's name is a snapshot's name, the start
// zxid it gives must be the header's. Errors name the file; damage
// matches snapshot.ErrCorrupt and says where.
func ReadSnapshotFile(path string) (*tree.Tree, snapshot.Meta, error) {
	return readSnapshot(vfs.ReadOnly(vfs.Default), path)
}

func readSnapshot(fsys vfs.FS, path string) (*tree.Tree, snapshot.Meta, error) {
	f, err := fsys.Open(path)
	if err != nil {
		return nil, snapshot.Meta{}, fmt.Errorf("logread: %w", err)
	}
	defer f.Close()
	t, m, err := snapshot.Read(bufio.NewReaderSize(f, 256<<10), tree.Config{})
	if err != nil {
		return nil, m, fmt.Errorf("snapshot %s: %w", path, err)
	}
	return t, m, checkName(path, m)
}

func checkName(path string, m snapshot.Meta) error {
	if z, ok := engine.ParseSnapshotName(filepath.Base(path)); ok && z != m.StartZxid {
		err := &snapshot.CorruptError{InHeader: true, Offset: 8, Reason: fmt.Sprintf("start zxid %v, file name says %v", m.StartZxid, z)}
		return fmt.Errorf("snapshot %s: %w", path, err)
	}
	return nil
}
