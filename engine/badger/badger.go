package badger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"zabd/engine"
	"zabd/log"
)

// Options configure a badger engine. The zero value is usable.
type Options struct {
	GroupCommit engine.GroupCommitOptions
	// Logger receives badger's own log lines (Infof and Debugf at Debug
	// level); default slog.Default().
	Logger *slog.Logger
	// MemTableBytes is badger's MemTableSize (each memtable preallocates
	// an arena of this size). Default 16 MiB rather than badger's 64 MiB:
	// the log is written once and read by rare sequential scans, so big
	// memtables buy nothing but memory. Tests set it to 1 MiB.
	MemTableBytes int64
	// ValueThreshold: values larger than this go to the value log. Default
	// (0) is badger's maximum, 1 MiB (less for memtables under 7 MiB: it
	// must fit 15% of one), which keeps records in the LSM tree.
	ValueThreshold int64
}

// ErrCorrupt matches errors about keys that cannot be a record's.
var ErrCorrupt = errors.New("badger engine: corrupt store")

// Engine is the badger engine. Safe for concurrent use (see
// engine.GroupCommitter; the badger DB is itself safe for concurrent use).
type Engine struct {
	db      *badger.DB
	dir     string
	g       *engine.GroupCommitter
	dirSync *dirSyncer // used by commit only (the group-commit goroutine)
}

var (
	_ engine.Engine        = (*Engine)(nil)
	_ engine.AsyncAppender = (*Engine)(nil)
	_ engine.StatsReporter = (*Engine)(nil)
)

// Open opens (creating if needed) a badger store in dir.
func Open(dir string, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 16 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("badger engine: %w", err)
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(slogLogger{o.Logger.With("engine", "badger", "dir", dir)}).
		WithSyncWrites(false). // one explicit DB.Sync per group commit; see doc.go
		WithDetectConflicts(false).
		WithMetricsEnabled(false). // badger's metrics are process-global expvars
		WithMemTableSize(o.MemTableBytes).
		WithNumMemtables(3).
		// Uncompressed tables are read straight from their mmap, so no
		// block cache (ristretto) is needed: the log is read by scans only.
		WithCompression(options.None).
		WithBlockCacheSize(0).
		WithIndexCacheSize(0).
		WithNumCompactors(2).
		// Value-log files are mmapped at twice this size; keep it modest
		// since records rarely go there.
		WithValueLogFileSize(64 << 20)
	if o.ValueThreshold == 0 {
		// Badger requires the threshold to fit in one transaction batch,
		// 15% of a memtable.
		o.ValueThreshold = min(1<<20, o.MemTableBytes*15/100)
	}
	bo = bo.WithValueThreshold(o.ValueThreshold)
	db, err := badger.Open(bo)
	if err != nil {
		return nil, fmt.Errorf("badger engine: opening %s: %w", dir, engine.WrapLocked(err))
	}
	e := &Engine{db: db, dir: dir, dirSync: newDirSyncer(dir)}
	last, err := e.lastAtOrBelow(^log.Zxid(0))
	if err == nil {
		e.g, err = engine.NewGroupCommitter(last, o.GroupCommit, e.commit)
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func key(z log.Zxid) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(z)) }

func decodeKey(k []byte) (log.Zxid, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: key %x is not 8 bytes", ErrCorrupt, k)
	}
	return log.Zxid(binary.BigEndian.Uint64(k)), nil
}

// commit is the engine.CommitFunc: transactions in zxid order, then one
// Sync. Badger copies keys and values into its memtable and WAL before
// Commit returns, so recs are not retained.
func (e *Engine) commit(recs []log.Record) error {
	keys := make([]byte, 8*len(recs))
	txn := e.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	for i, r := range recs {
		k := keys[8*i : 8*i+8 : 8*i+8]
		binary.BigEndian.PutUint64(k, uint64(r.Zxid))
		err := txn.Set(k, r.Data)
		if errors.Is(err, badger.ErrTxnTooBig) {
			// Commit what fits and go on in a new transaction. A crash
			// in between leaves a prefix, which no caller was told is
			// durable.
			if err := txn.Commit(); err != nil {
				return fmt.Errorf("badger engine: commit up to %v: %w", r.Zxid, err)
			}
			txn = e.db.NewTransaction(true)
			err = txn.Set(k, r.Data)
		}
		if err != nil {
			return fmt.Errorf("badger engine: set %v: %w", r.Zxid, err)
		}
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("badger engine: commit %d records up to %v: %w", len(recs), recs[len(recs)-1].Zxid, err)
	}
	if err := e.db.Sync(); err != nil {
		return fmt.Errorf("badger engine: sync after %v: %w", recs[len(recs)-1].Zxid, err)
	}
	// A commit may have made badger start a new WAL file.
	if err := e.dirSync.check(); err != nil {
		return fmt.Errorf("badger engine: after %v: %w", recs[len(recs)-1].Zxid, err)
	}
	return nil
}

// lastAtOrBelow returns the greatest stored zxid <= z, 0 if none.
func (e *Engine) lastAtOrBelow(z log.Zxid) (log.Zxid, error) {
	var last log.Zxid
	err := e.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Reverse: true})
		defer it.Close()
		it.Seek(key(z))
		if !it.Valid() {
			return nil
		}
		var err error
		last, err = decodeKey(it.Item().Key())
		return err
	})
	return last, err
}

// deleteRange durably deletes every record in [from, to), batching the
// deletions into transactions.
func (e *Engine) deleteRange(from, to log.Zxid) error {
	const chunk = 1024
	for {
		var keys [][]byte
		err := e.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{})
			defer it.Close()
			for it.Seek(key(from)); it.Valid() && len(keys) < chunk; it.Next() {
				k := it.Item().KeyCopy(nil)
				z, err := decodeKey(k)
				if err != nil {
					return err
				}
				if z >= to {
					break
				}
				keys = append(keys, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return e.db.Sync()
		}
		txn := e.db.NewTransaction(true)
		for _, k := range keys {
			err := txn.Delete(k)
			if errors.Is(err, badger.ErrTxnTooBig) {
				if err = txn.Commit(); err != nil {
					return err
				}
				txn = e.db.NewTransaction(true)
				err = txn.Delete(k)
			}
			if err != nil {
				txn.Discard()
				return err
			}
		}
		if err := txn.Commit(); err != nil {
			return err
		}
		from, _ = decodeKey(keys[len(keys)-1])
		from++
	}
}

// Append implements engine.Engine.
func (e *Engine) Append(ctx context.Context, recs []log.Record) error { return e.g.Append(ctx, recs) }

// AppendAsync implements engine.AsyncAppender.
func (e *Engine) AppendAsync(recs []log.Record) <-chan error { return e.g.AppendAsync(recs) }

// LastZxid implements engine.Engine.
func (e *Engine) LastZxid() log.Zxid { return e.g.LastZxid() }

// Stats implements engine.StatsReporter.
func (e *Engine) Stats() engine.Stats { return e.g.Stats() }

// Badger gives no way to tell that nothing of a failed batch became
// durable: a transaction is in the memtable (and its mmapped WAL) before
// DB.Sync, and a large batch is several transactions, so a failed commit
// (ENOSPC included) may still reach disk later. So every commit failure
// stays sticky: the commit function never returns an error matching
// log.ErrNoSpace, Paused is always nil, and Resume only reports the sticky
// failure (nil if none); it never resumes anything.
func (e *Engine) Resume() error { return e.g.Resume() }

// Paused is always nil (see Resume).
func (e *Engine) Paused() error { return e.g.Paused() }

// Iter implements engine.Engine.
func (e *Engine) Iter(from log.Zxid) (engine.Iterator, error) {
	last := e.g.LastZxid()
	if last == 0 || from > last {
		return &iter{}, nil
	}
	txn := e.db.NewTransaction(false)
	it := txn.NewIterator(badger.IteratorOptions{})
	it.Seek(key(from))
	return &iter{txn: txn, it: it, last: last}, nil
}

// TruncateAfter implements engine.Engine.
func (e *Engine) TruncateAfter(z log.Zxid) error {
	return e.g.Truncate(z, func() (log.Zxid, error) {
		if err := e.deleteRange(z+1, ^log.Zxid(0)); err != nil {
			return 0, fmt.Errorf("badger engine: truncate after %v: %w", z, err)
		}
		if z == ^log.Zxid(0)-1 { // deleteRange's end is exclusive
			if err := e.db.Update(func(txn *badger.Txn) error { return txn.Delete(key(^log.Zxid(0))) }); err != nil {
				return 0, err
			}
		}
		return e.lastAtOrBelow(z)
	})
}

// PurgeBefore implements engine.Engine: it deletes [0, z), never reaching
// the last record.
func (e *Engine) PurgeBefore(z log.Zxid) error {
	return e.g.Exclusive(func(last log.Zxid) error {
		z = min(z, last)
		if z == 0 {
			return nil
		}
		if err := e.deleteRange(0, z); err != nil {
			return fmt.Errorf("badger engine: purge before %v: %w", z, err)
		}
		return nil
	})
}

// Close implements engine.Engine: queued appends are committed (or failed)
// first, then the store is closed and its goroutines and mmaps released.
func (e *Engine) Close() error {
	if err := e.g.Close(); err != nil {
		return err
	}
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("badger engine: closing %s: %w", e.dir, err)
	}
	return nil
}

// iter walks a read transaction's iterator up to last; a nil it is empty.
type iter struct {
	txn     *badger.Txn
	it      *badger.Iterator
	last    log.Zxid
	started bool
	rec     log.Record
	err     error
}

func (i *iter) Next() bool {
	if i.it == nil || i.err != nil {
		return false
	}
	if i.started {
		i.it.Next()
	}
	i.started = true
	if !i.it.Valid() {
		return false
	}
	item := i.it.Item()
	z, err := decodeKey(item.Key())
	if err != nil {
		i.err = err
		return false
	}
	if z > i.last {
		return false
	}
	v, err := item.ValueCopy(nil)
	if err != nil {
		i.err = fmt.Errorf("badger engine: reading %v: %w", z, err)
		return false
	}
	i.rec = log.Record{Zxid: z, Data: v}
	return true
}

// Record returns the current record; its Data belongs to the caller.
func (i *iter) Record() log.Record { return i.rec }

func (i *iter) Err() error { return i.err }

func (i *iter) Close() error {
	if i.it == nil {
		return nil
	}
	i.it.Close()
	i.txn.Discard()
	i.it = nil
	return nil
}

// slogLogger routes badger's logger into slog; its chatty Infof lines
// (tables opened, compactions) go to Debug.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Errorf(format string, args ...any) { s.l.Error(fmt.Sprintf(format, args...)) }
func (s slogLogger) Warningf(format string, args ...any) {
	s.l.Warn(fmt.Sprintf(format, args...))
}
func (s slogLogger) Infof(format string, args ...any)  { s.debug(format, args) }
func (s slogLogger) Debugf(format string, args ...any) { s.debug(format, args) }

// debug formats only if Debug is enabled: badger calls Debugf on every
// write.
func (s slogLogger) debug(format string, args []any) {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		s.l.Debug(fmt.Sprintf(format, args...))
	}
}
