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
	db  *badger.DB
	dir string
	g   *engine.GroupCommitter
	// dirSync is used by the write side only (commit, and TruncateAfter
	// and PurgeBefore, which hold the committer's write side).
	dirSync *dirSyncer

	// Set by tests only, before use. deleteChunk bounds the records one
	// deletion transaction removes (0: defaultDeleteChunk);
	// afterDeleteStep runs after each deletion transaction is durable,
	// with their 1-based count so far, and an error from it stops the
	// deletion there (a crash at that moment).
	deleteChunk     int
	afterDeleteStep func(step int) error
}

// defaultDeleteChunk bounds one deletion transaction, so one sync per
// 4096 records removed. Larger transactions cost badger more per deletion
// (4096 to 16384 measured about the same overall, 1024 slower); a
// transaction may hold at most 15% of a memtable, 26214 deletions of the
// default 16 MiB one, and where badger refuses earlier (ErrTxnTooBig)
// deleteInOrder ends the transaction there.
const defaultDeleteChunk = 4096

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
			// Commit what fits, make it durable, and go on in a new
			// transaction. A crash in between leaves a prefix, which no
			// caller was told is durable. NB: the sync is what makes it
			// a prefix on power loss too: DB.Sync syncs only the active
			// memtable's WAL, so without it a transaction left in an
			// older WAL (the memtable filled up in between) could be
			// lost while the later one survives.
			if err := txn.Commit(); err != nil {
				return fmt.Errorf("badger engine: commit up to %v: %w", r.Zxid, err)
			}
			if err := e.sync(); err != nil {
				return fmt.Errorf("badger engine: before %v: %w", r.Zxid, err)
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
	if err := e.sync(); err != nil {
		return fmt.Errorf("badger engine: after %v: %w", recs[len(recs)-1].Zxid, err)
	}
	return nil
}

// sync makes every committed transaction durable: DB.Sync, then the
// directory if a commit made badger create a file (a new WAL).
func (e *Engine) sync() error {
	if err := e.db.Sync(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return e.dirSync.check()
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

// truncateAbove durably deletes every record above z, newest first: the
// chunk at the top of the log, then the chunk below it, each with
// deleteInOrder, top record first. So every deletion transaction removes
// the current tail, and a crash at any moment leaves a prefix of the log
// (see doc.go), never a hole.
//
// It first lists the zxids above z with one forward scan of the keys (8
// bytes of memory per record removed), rather than reading each chunk
// when its turn comes: a reverse iterator pays a skiplist search per step
// in the memtable, and a forward one started below records already
// deleted reads ahead past all of them (badger's iterator keeps the next
// live item), which makes chunk-by-chunk reading quadratic.
func (e *Engine) truncateAbove(z log.Zxid) error {
	if z == ^log.Zxid(0) {
		return nil
	}
	var zs []log.Zxid // ascending
	err := e.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Seek(key(z + 1)); it.Valid(); it.Next() {
			rz, err := decodeKey(it.Item().Key())
			if err != nil {
				return err
			}
			zs = append(zs, rz)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading records above %v: %w", z, err)
	}
	step := 0
	keys := make([][]byte, 0, min(len(zs), e.chunk()))
	for hi := len(zs); hi > 0; {
		lo := max(0, hi-e.chunk())
		keys = keys[:0]
		for i := hi - 1; i >= lo; i-- {
			keys = append(keys, key(zs[i]))
		}
		if err := e.deleteInOrder(keys, &step); err != nil {
			return err
		}
		hi = lo
	}
	return nil
}

// purgeBelow durably deletes every record below z, oldest first (chunks
// as truncateAbove's, ascending), so a crash part way leaves a contiguous
// suffix of the log.
func (e *Engine) purgeBelow(z log.Zxid) error {
	step := 0
	var from log.Zxid // no record below from is left
	for {
		keys, err := e.readChunk(from, func(rz log.Zxid) bool { return rz >= z })
		if err != nil || len(keys) == 0 {
			return err
		}
		if err := e.deleteInOrder(keys, &step); err != nil {
			return err
		}
		highest, _ := decodeKey(keys[len(keys)-1])
		from = highest + 1 // highest < z
	}
}

// readChunk returns the keys of up to e.chunk() records from start on,
// ascending, up to the first record for which past is true (excluded).
// Only purgeBelow uses it: reading up, it finds live records ahead.
func (e *Engine) readChunk(start log.Zxid, past func(log.Zxid) bool) ([][]byte, error) {
	var keys [][]byte
	err := e.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		for it.Seek(key(start)); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			rz, err := decodeKey(k)
			if err != nil {
				return err
			}
			if past(rz) {
				break
			}
			keys = append(keys, k)
			if len(keys) == e.chunk() {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading records from %v: %w", start, err)
	}
	return keys, nil
}

func (e *Engine) chunk() int {
	if e.deleteChunk > 0 {
		return e.deleteChunk
	}
	return defaultDeleteChunk
}

// deleteInOrder deletes keys (records' keys, all present) in
// transactions of consecutive keys, in the order given: each transaction
// is committed and made durable (sync) before the next one starts, so the
// deletions become durable in that order, on power loss too (DB.Sync
// syncs only the active memtable's WAL: without a sync per transaction,
// one left in an older WAL could be lost while a later one survives). A
// transaction ends at the chunk's end or where badger says it is full.
// *step counts the transactions made durable.
func (e *Engine) deleteInOrder(keys [][]byte, step *int) error {
	for len(keys) > 0 {
		txn := e.db.NewTransaction(true)
		n := 0
		for ; n < len(keys); n++ {
			err := txn.Delete(keys[n])
			if errors.Is(err, badger.ErrTxnTooBig) && n > 0 {
				break
			}
			if err != nil {
				txn.Discard()
				z, _ := decodeKey(keys[n])
				return fmt.Errorf("deleting %v: %w", z, err)
			}
		}
		first, _ := decodeKey(keys[0])
		last, _ := decodeKey(keys[n-1])
		if err := txn.Commit(); err != nil {
			return fmt.Errorf("committing the deletion of %d records from %v to %v: %w", n, first, last, err)
		}
		if err := e.sync(); err != nil {
			return fmt.Errorf("after deleting %d records from %v to %v: %w", n, first, last, err)
		}
		keys = keys[n:]
		*step++
		if e.afterDeleteStep != nil {
			if err := e.afterDeleteStep(*step); err != nil {
				return err
			}
		}
	}
	return nil
}

// Append implements engine.Engine.
func (e *Engine) Append(ctx context.Context, recs []log.Record) error { return e.g.Append(ctx, recs) }

// AppendAsync implements engine.AsyncAppender.
func (e *Engine) AppendAsync(recs []log.Record) <-chan error { return e.g.AppendAsync(recs) }

// AppendAsyncInto is AppendAsync answering on a channel the caller owns
// (engine.GroupCommitter.AppendAsyncInto).
func (e *Engine) AppendAsyncInto(recs []log.Record, done chan<- error) {
	e.g.AppendAsyncInto(recs, done)
}

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

// TruncateAfter implements engine.Engine: it deletes the records above
// z newest first, one durable transaction per chunk, so that a crash part
// way leaves a prefix of the log no shorter than z, which the caller must
// cut again (see doc.go).
func (e *Engine) TruncateAfter(z log.Zxid) error {
	return e.g.Truncate(z, func() (log.Zxid, error) {
		if err := e.truncateAbove(z); err != nil {
			return 0, fmt.Errorf("badger engine: truncate after %v: %w", z, err)
		}
		last, err := e.lastAtOrBelow(z)
		if err != nil {
			return 0, fmt.Errorf("badger engine: truncate after %v: %w", z, err)
		}
		return last, nil
	})
}

// PurgeBefore implements engine.Engine: it deletes [0, z) oldest first,
// one durable transaction per chunk, never reaching the last record.
func (e *Engine) PurgeBefore(z log.Zxid) error {
	return e.g.Exclusive(func(last log.Zxid) error {
		z = min(z, last)
		if z == 0 {
			return nil
		}
		if err := e.purgeBelow(z); err != nil {
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
