package pebble

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"
	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"zabd/engine"
	"zabd/log"
)

// Reader reads a pebble engine's records without changing its directory:
// pebble opened with ReadOnly (it replays the WAL into memory and writes
// nothing) over a filesystem that refuses every write and skips pebble's
// LOCK file, so that it can read a store a running zabd has open (zabd
// holds that lock for as long as it runs).
//
// What it sees is the store as of the open: every batch in the manifest
// and the WALs then (a batch is one WAL record, replayed whole or not at
// all), so a prefix of the log. Beside a running server a compaction or
// flush can remove a file between pebble's listing and its reading it:
// OpenReader then opens again (up to openAttempts times); an iteration
// fails with the missing file, and the caller may open again.
//
// Concurrency: as pebble.DB; an Iterator has a single owner.
type Reader struct {
	db  *pebble.DB
	dir string
}

// ReaderOptions configure OpenReader. The zero value is usable.
type ReaderOptions struct {
	// Logger receives pebble's own log lines (Infof at Debug level);
	// default slog.Default().
	Logger *slog.Logger
}

// openAttempts bounds OpenReader's opens beside a changing store.
const openAttempts = 5

// OpenReader opens the pebble store in dir for reading only (see Reader).
// A missing dir is an error; nothing is created.
func OpenReader(dir string, o ReaderOptions) (*Reader, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("pebble engine: %w", err)
	}
	var db *pebble.DB
	var err error
	for attempt := 1; ; attempt++ {
		db, err = pebble.Open(dir, &pebble.Options{
			ReadOnly:  true,
			FS:        readOnlyFS{pvfs.Default},
			Logger:    slogLogger{o.Logger.With("engine", "pebble", "dir", dir)},
			CacheSize: 1 << 20,
		})
		// A file the manifest named was removed by the running server's
		// flush or compaction before pebble read it: a newer manifest
		// names its successor, so open again.
		if err == nil || !errors.Is(err, fs.ErrNotExist) || attempt == openAttempts {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pebble engine: opening %s read-only: %w", dir, err)
	}
	return &Reader{db: db, dir: dir}, nil
}

// Iter returns an iterator over every record with zxid >= from. Keys that
// are not 8 bytes end it with an error matching ErrCorrupt; pebble checks
// every block's checksum as it reads it.
func (r *Reader) Iter(from log.Zxid) (engine.Iterator, error) {
	it, err := r.db.NewIter(&pebble.IterOptions{LowerBound: key(from)})
	if err != nil {
		return nil, fmt.Errorf("pebble engine: %w", err)
	}
	return &iter{it: it}, nil
}

// Close closes the store.
func (r *Reader) Close() error {
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("pebble engine: closing %s: %w", r.dir, err)
	}
	return nil
}

// errReadOnly is readOnlyFS's refusal. Pebble opened ReadOnly never
// writes; if a version of it tried, the open would fail with this error
// rather than change the store.
var errReadOnly = errors.New("pebble engine: opened read-only: refusing to change the store")

// readOnlyFS is pebble's filesystem with every change refused and Lock a
// no-op that creates nothing: pebble takes an exclusive lock even to
// read, which would fail beside a running zabd, and create the LOCK file
// where there is none.
type readOnlyFS struct{ pvfs.FS }

func refuse(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: errReadOnly} }

func (readOnlyFS) Create(name string, _ pvfs.DiskWriteCategory) (pvfs.File, error) {
	return nil, refuse("create", name)
}
func (readOnlyFS) Link(oldname, _ string) error { return refuse("link", oldname) }
func (readOnlyFS) OpenReadWrite(name string, _ pvfs.DiskWriteCategory, _ ...pvfs.OpenOption) (pvfs.File, error) {
	return nil, refuse("open for writing", name)
}
func (readOnlyFS) Remove(name string) error       { return refuse("remove", name) }
func (readOnlyFS) RemoveAll(name string) error    { return refuse("remove", name) }
func (readOnlyFS) Rename(oldname, _ string) error { return refuse("rename", oldname) }
func (readOnlyFS) ReuseForWrite(oldname, _ string, _ pvfs.DiskWriteCategory) (pvfs.File, error) {
	return nil, refuse("reuse for writing", oldname)
}
func (readOnlyFS) MkdirAll(dir string, _ os.FileMode) error { return refuse("mkdir", dir) }
func (readOnlyFS) Lock(string) (io.Closer, error)           { return noLock{}, nil }
func (readOnlyFS) Unwrap() pvfs.FS                          { return nil }

type noLock struct{}

func (noLock) Close() error { return nil }
