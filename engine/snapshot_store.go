package engine

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
)

// SnapshotDirName is the directory, beside an engine's data, that holds
// snapshots. Every engine (native, pebble, badger) shares this store.
const SnapshotDirName = "snapshot"

const (
	snapPrefix  = "snapshot."
	snapTmpName = "snapshot.tmp"
)

// SnapshotName is the file name of the snapshot whose walk began at z:
// "snapshot." and 16 lower-case hex digits, so names sort in zxid order.
func SnapshotName(z log.Zxid) string { return fmt.Sprintf("%s%016x", snapPrefix, uint64(z)) }

// SnapshotInfo names one stored snapshot. It holds what the directory
// listing says (List reads no file); the end zxid is in the file's
// trailer: ReadMeta, UsableFor.
type SnapshotInfo struct {
	StartZxid log.Zxid
	Path      string // the file's path in the store's FS
	Bytes     int64
}

// ErrNoValidSnapshot is returned by LoadNewest when snapshots exist but
// none can be read: replaying the log from zero could silently miss
// purged records, so the caller must not start from an empty tree.
var ErrNoValidSnapshot = errors.New("engine: no readable snapshot")

// SnapshotStore keeps snapshot files in one directory, through a vfs.FS:
// each is written as snapshot.tmp, fsynced, renamed to its final name and
// the directory fsynced, so a crash leaves either the whole file under its
// name or no file under that name (a stale snapshot.tmp is removed by the
// next Save or by OpenSnapshotStore).
//
// Concurrency: safe for concurrent use; mu serializes Save and Purge.
type SnapshotStore struct {
	fs  vfs.FS
	dir string
	mu  sync.Mutex
}

// OpenSnapshotStore opens (creating durably if needed) the snapshot
// directory dir and removes a temporary file a crash left behind.
func OpenSnapshotStore(fsys vfs.FS, dir string) (*SnapshotStore, error) {
	if _, err := fsys.Stat(dir); vfs.IsNotExist(err) {
		if err := fsys.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("engine: creating snapshot dir: %w", err)
		}
		if err := vfs.SyncDir(fsys, filepath.Dir(dir)); err != nil {
			return nil, fmt.Errorf("engine: syncing the parent of %s: %w", dir, err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("engine: snapshot dir: %w", err)
	}
	s := &SnapshotStore{fs: fsys, dir: dir}
	if err := s.removeTmp(); err != nil {
		return nil, err
	}
	return s, nil
}

// Dir is the store's directory.
func (s *SnapshotStore) Dir() string { return s.dir }

func (s *SnapshotStore) removeTmp() error {
	tmp := filepath.Join(s.dir, snapTmpName)
	if err := s.fs.Remove(tmp); err != nil && !vfs.IsNotExist(err) {
		return fmt.Errorf("engine: removing stale %s: %w", tmp, err)
	}
	return nil
}

// Save writes one snapshot durably. write streams it to w (buffered) and
// returns its start zxid, which names the file. On any failure the
// temporary file is removed and no snapshot.<zxid> is created or changed.
// A snapshot with the same start zxid is replaced.
func (s *SnapshotStore) Save(write func(w io.Writer) (log.Zxid, error)) (SnapshotInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.removeTmp(); err != nil {
		return SnapshotInfo{}, err
	}
	tmp := filepath.Join(s.dir, snapTmpName)
	f, err := s.fs.Create(tmp)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("engine: creating %s: %w", tmp, err)
	}
	fail := func(err error) (SnapshotInfo, error) {
		f.Close()
		s.fs.Remove(tmp) // best effort; the next Save or open retries
		return SnapshotInfo{}, err
	}
	cw := &snapCountWriter{w: f}
	bw := bufio.NewWriterSize(cw, 256<<10)
	start, err := write(bw)
	if err != nil {
		return fail(fmt.Errorf("engine: writing %s: %w", tmp, err))
	}
	if err := bw.Flush(); err != nil {
		return fail(fmt.Errorf("engine: writing %s: %w", tmp, err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("engine: syncing %s: %w", tmp, err))
	}
	if err := f.Close(); err != nil {
		s.fs.Remove(tmp)
		return SnapshotInfo{}, fmt.Errorf("engine: closing %s: %w", tmp, err)
	}
	final := filepath.Join(s.dir, SnapshotName(start))
	if err := s.fs.Rename(tmp, final); err != nil {
		s.fs.Remove(tmp)
		return SnapshotInfo{}, fmt.Errorf("engine: installing %s: %w", final, err)
	}
	if err := vfs.SyncDir(s.fs, s.dir); err != nil {
		return SnapshotInfo{}, fmt.Errorf("engine: syncing %s after installing %s: %w", s.dir, final, err)
	}
	return SnapshotInfo{StartZxid: start, Path: final, Bytes: cw.n}, nil
}

// List returns the stored snapshots, newest (highest start zxid) first.
// Files that are not snapshots (a temporary file, strangers) are ignored.
func (s *SnapshotStore) List() ([]SnapshotInfo, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, fmt.Errorf("engine: listing %s: %w", s.dir, err)
	}
	var out []SnapshotInfo
	for _, name := range names {
		z, ok := ParseSnapshotName(name)
		if !ok {
			continue
		}
		p := filepath.Join(s.dir, name)
		fi, err := s.fs.Stat(p)
		if err != nil {
			if vfs.IsNotExist(err) {
				continue // purged meanwhile
			}
			return nil, fmt.Errorf("engine: %w", err)
		}
		out = append(out, SnapshotInfo{StartZxid: z, Path: p, Bytes: fi.Size()})
	}
	slices.SortFunc(out, func(a, b SnapshotInfo) int { return cmp.Compare(b.StartZxid, a.StartZxid) })
	return out, nil
}

// ParseSnapshotName is the inverse of SnapshotName: the start zxid a
// snapshot file's name gives, and whether it is a snapshot's name.
func ParseSnapshotName(name string) (log.Zxid, bool) {
	hex, ok := strings.CutPrefix(name, snapPrefix)
	if !ok || len(hex) != 16 || strings.ToLower(hex) != hex {
		return 0, false
	}
	z, err := strconv.ParseUint(hex, 16, 64)
	return log.Zxid(z), err == nil
}

// Open opens a stored snapshot for reading.
func (s *SnapshotStore) Open(info SnapshotInfo) (io.ReadCloser, error) {
	f, err := s.fs.Open(info.Path)
	if err != nil {
		return nil, fmt.Errorf("engine: opening snapshot: %w", err)
	}
	return f, nil
}

// Load reads one stored snapshot into a new tree built with cfg (LastZxid
// = its start zxid); the Meta says where its walk ended, if it is of a
// version that records it. Errors name the file; damage matches
// snapshot.ErrCorrupt, and so does a header whose start zxid is not the
// one in the file name.
func (s *SnapshotStore) Load(info SnapshotInfo, cfg tree.Config) (*tree.Tree, snapshot.Meta, error) {
	rc, err := s.Open(info)
	if err != nil {
		return nil, snapshot.Meta{}, err
	}
	defer rc.Close()
	t, m, err := snapshot.Read(bufio.NewReaderSize(rc, 256<<10), cfg)
	if err != nil {
		return nil, snapshot.Meta{}, fmt.Errorf("engine: snapshot %s: %w", info.Path, err)
	}
	if m.StartZxid != info.StartZxid {
		err := &snapshot.CorruptError{InHeader: true, Offset: 8, Reason: fmt.Sprintf("start zxid %v, file name says %v", m.StartZxid, info.StartZxid)}
		return nil, snapshot.Meta{}, fmt.Errorf("engine: snapshot %s: %w", info.Path, err)
	}
	return t, m, nil
}

// ReadMeta reads what a stored snapshot says about itself without reading
// its body (snapshot.ReadMeta: the header and the trailer, two small
// reads): its start and end zxids, time, version and size. Errors name the
// file; damage matches snapshot.ErrCorrupt, and so does a header whose
// start zxid is not the one in the file name.
func (s *SnapshotStore) ReadMeta(info SnapshotInfo) (snapshot.Meta, error) {
	f, err := s.fs.Open(info.Path)
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("engine: opening snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("engine: snapshot %s: %w", info.Path, err)
	}
	m, err := snapshot.ReadMeta(f, fi.Size())
	if err != nil {
		return snapshot.Meta{}, fmt.Errorf("engine: snapshot %s: %w", info.Path, err)
	}
	if m.StartZxid != info.StartZxid {
		err := &snapshot.CorruptError{InHeader: true, Offset: 8, Reason: fmt.Sprintf("start zxid %v, file name says %v", m.StartZxid, info.StartZxid)}
		return snapshot.Meta{}, fmt.Errorf("engine: snapshot %s: %w", info.Path, err)
	}
	return m, nil
}

// UsableFor applies snapshot.Meta.UsableFor to a stored snapshot: whether
// it can stand for the state at zxid z (its walk began and ended at or
// before z), as a cut of the log at z (--repair, TRUNC) or a replay to z
// needs. One that starts after z is not read (its Meta then holds only
// StartZxid); otherwise ReadMeta reads its header and trailer, and the
// Meta it returns says why (EndZxid, or EndKnown false for a version 1
// snapshot, which is never usable for a cut). With an error (the file
// cannot be read, or its header or trailer is damaged) the snapshot cannot
// be proven usable either: usable is false.
func (s *SnapshotStore) UsableFor(info SnapshotInfo, z log.Zxid) (m snapshot.Meta, usable bool, err error) {
	if info.StartZxid > z {
		return snapshot.Meta{StartZxid: info.StartZxid}, false, nil
	}
	m, err = s.ReadMeta(info)
	if err != nil {
		return snapshot.Meta{StartZxid: info.StartZxid}, false, err
	}
	return m, m.UsableFor(z), nil
}

// LoadNewest restores the newest readable snapshot. Each one that fails to
// load is passed to skipped (newest first) before an older one is tried.
// With no snapshot at all it returns a new empty tree, a zero Meta and a
// zero SnapshotInfo. If snapshots exist but none loads, the error matches
// ErrNoValidSnapshot and wraps the newest one's failure.
func (s *SnapshotStore) LoadNewest(cfg tree.Config, skipped func(SnapshotInfo, error)) (*tree.Tree, snapshot.Meta, SnapshotInfo, error) {
	infos, err := s.List()
	if err != nil {
		return nil, snapshot.Meta{}, SnapshotInfo{}, err
	}
	if len(infos) == 0 {
		return tree.New(cfg), snapshot.Meta{}, SnapshotInfo{}, nil
	}
	var first error
	for _, info := range infos {
		t, m, err := s.Load(info, cfg)
		if err == nil {
			return t, m, info, nil
		}
		if first == nil {
			first = err
		}
		if skipped != nil {
			skipped(info, err)
		}
	}
	return nil, snapshot.Meta{}, SnapshotInfo{}, fmt.Errorf("%w: %d in %s, newest: %w", ErrNoValidSnapshot, len(infos), s.dir, first)
}

// Purge removes all but the newest keep snapshots, oldest first (so a
// crash part way keeps the newest), then fsyncs the directory. It returns
// what it removed and the oldest snapshot kept (zero if none).
func (s *SnapshotStore) Purge(keep int) (removed []SnapshotInfo, oldestKept SnapshotInfo, err error) {
	if keep < 1 {
		return nil, SnapshotInfo{}, fmt.Errorf("engine: purge must keep at least one snapshot, got %d", keep)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	infos, err := s.List()
	if err != nil {
		return nil, SnapshotInfo{}, err
	}
	if len(infos) == 0 {
		return nil, SnapshotInfo{}, nil
	}
	kept := infos[:min(keep, len(infos))]
	oldestKept = kept[len(kept)-1]
	for i := len(infos) - 1; i >= len(kept); i-- {
		if err := s.fs.Remove(infos[i].Path); err != nil && !vfs.IsNotExist(err) {
			return removed, oldestKept, fmt.Errorf("engine: purging %s: %w", infos[i].Path, err)
		}
		removed = append(removed, infos[i])
	}
	if len(removed) > 0 {
		if err := vfs.SyncDir(s.fs, s.dir); err != nil {
			return removed, oldestKept, fmt.Errorf("engine: syncing %s after purge: %w", s.dir, err)
		}
	}
	return removed, oldestKept, nil
}

type snapCountWriter struct {
	w io.Writer
	n int64
}

func (c *snapCountWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
