package badger

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"syscall"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"zabd/engine"
	"zabd/log"
)

// Reader reads a badger engine's records without changing its directory:
// badger opened with ReadOnly, which takes a shared lock on the directory
// and writes nothing, with every table and block checksum verified as it
// is read.
//
// Badger's writer holds an exclusive lock on its directory for as long as
// it runs, so a Reader cannot be opened beside a running zabd: OpenReader
// then fails with an error matching ErrLockedByServer (and
// engine.ErrStoreLocked). Reading without the lock (badger's
// BypassLockGuard) is not safe: the writer appends to the memtable's WAL
// and rewrites the manifest under it, and a read-only open cannot cut a
// WAL tail it finds half written. Conversely, while a Reader is open a
// zabd cannot start on the directory (it finds badger's lock held).
//
// Concurrency: as badger.DB; an Iterator has a single owner.
type Reader struct {
	db  *badger.DB
	dir string
}

// ReaderOptions configure OpenReader. The zero value is usable.
type ReaderOptions struct {
	// Logger receives badger's own log lines (Infof and Debugf at Debug
	// level); default slog.Default().
	Logger *slog.Logger
}

// ErrLockedByServer matches OpenReader's refusal of a store another
// process (a running zabd) has open.
var ErrLockedByServer = errors.New("badger engine: the store is open in another process (a running zabd?): badger locks its directory, so it cannot be read beside it")

// OpenReader opens the badger store in dir for reading only (see
// Reader). A missing dir is an error; nothing is created.
func OpenReader(dir string, o ReaderOptions) (*Reader, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("badger engine: %w", err)
	}
	bo := badger.DefaultOptions(dir).
		WithReadOnly(true).
		WithLogger(slogLogger{o.Logger.With("engine", "badger", "dir", dir)}).
		WithMetricsEnabled(false).
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithNumCompactors(0).
		WithChecksumVerificationMode(options.OnTableAndBlockRead)
	db, err := badger.Open(bo)
	if err != nil {
		if errors.Is(engine.WrapLocked(err), engine.ErrStoreLocked) || errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w (%w): %w", ErrLockedByServer, engine.ErrStoreLocked, err)
		}
		return nil, fmt.Errorf("badger engine: opening %s read-only: %w", dir, err)
	}
	return &Reader{db: db, dir: dir}, nil
}

// Iter returns an iterator over every record with zxid >= from. Keys that
// are not 8 bytes end it with an error matching ErrCorrupt.
func (r *Reader) Iter(from log.Zxid) (engine.Iterator, error) {
	txn := r.db.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{})
	it.Seek(key(from))
	return &iter{txn: txn, it: it, last: ^log.Zxid(0)}, nil
}

// Close closes the store and lets go of badger's shared lock.
func (r *Reader) Close() error {
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("badger engine: closing %s: %w", r.dir, err)
	}
	return nil
}
