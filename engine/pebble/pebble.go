package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/cockroachdb/pebble/v2"

	"zabd/engine"
	"zabd/log"
)

// Options configure a pebble engine. The zero value is usable.
type Options struct {
	GroupCommit engine.GroupCommitOptions
	// Logger receives pebble's own log lines (Infof at Debug level);
	// default slog.Default().
	Logger *slog.Logger
	// MemTableBytes is pebble's MemTableSize. Default 32 MiB: the workload
	// is append-only small records bound by the WAL fsync, so a memtable
	// costs only memory and WAL replay time at open, while each flush
	// writes an L0 file; 32 MiB keeps flushes rare and replay under a
	// second. Tests set it small.
	MemTableBytes uint64
	// CacheBytes is pebble's block cache. Default 8 MiB: records are read
	// only by sequential scans (recovery, follower sync), which gain little
	// from caching.
	CacheBytes int64
}

// ErrCorrupt matches errors about keys or values that cannot be a record.
var ErrCorrupt = errors.New("pebble engine: corrupt store")

// Engine is the pebble engine. Safe for concurrent use (see
// engine.GroupCommitter; the pebble DB is itself safe for concurrent use).
type Engine struct {
	db  *pebble.DB
	dir string
	g   *engine.GroupCommitter
}

var (
	_ engine.Engine        = (*Engine)(nil)
	_ engine.AsyncAppender = (*Engine)(nil)
	_ engine.StatsReporter = (*Engine)(nil)
)

// Open opens (creating if needed) a pebble store in dir.
func Open(dir string, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 32 << 20
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = 8 << 20
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebble engine: %w", err)
	}
	po := &pebble.Options{
		Logger:                      slogLogger{o.Logger.With("engine", "pebble", "dir", dir)},
		MemTableSize:                o.MemTableBytes,
		MemTableStopWritesThreshold: 4,
		CacheSize:                   o.CacheBytes,
		// Keys arrive in order, so flushed L0 files never overlap and
		// compacting them is cheap; reads are rare scans. Let L0 grow
		// rather than ever stall a durable write behind compaction.
		L0CompactionThreshold: 4,
		L0StopWritesThreshold: 64,
		FormatMajorVersion:    pebble.FormatNewest,
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("pebble engine: opening %s: %w", dir, engine.WrapLocked(err))
	}
	e := &Engine{db: db, dir: dir}
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

// endKey sorts after every 8-byte key: the exclusive end of "everything".
var endKey = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}

// commit is the engine.CommitFunc: one batch, one synced WAL write. The
// batch copies keys and values, so recs are not retained.
func (e *Engine) commit(recs []log.Record) error {
	size := 0
	for _, r := range recs {
		size += len(r.Data) + 8 + 16
	}
	b := e.db.NewBatchWithSize(size)
	defer b.Close()
	var k [8]byte
	for _, r := range recs {
		binary.BigEndian.PutUint64(k[:], uint64(r.Zxid))
		if err := b.Set(k[:], r.Data, nil); err != nil {
			return fmt.Errorf("pebble engine: batch set %v: %w", r.Zxid, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebble engine: commit %d records up to %v: %w", len(recs), recs[len(recs)-1].Zxid, err)
	}
	return nil
}

// lastAtOrBelow returns the greatest stored zxid <= z, 0 if none.
func (e *Engine) lastAtOrBelow(z log.Zxid) (log.Zxid, error) {
	o := &pebble.IterOptions{}
	if z != ^log.Zxid(0) {
		o.UpperBound = key(z + 1)
	}
	it, err := e.db.NewIter(o)
	if err != nil {
		return 0, fmt.Errorf("pebble engine: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return decodeKey(it.Key())
}

func decodeKey(k []byte) (log.Zxid, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: key %x is not 8 bytes", ErrCorrupt, k)
	}
	return log.Zxid(binary.BigEndian.Uint64(k)), nil
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

// Pebble gives no way to tell that nothing of a failed batch became durable:
// it applies a batch to the memtable before the WAL sync it waits on, so a
// failed commit (ENOSPC included) may still be flushed to an sstable later.
// So every commit failure stays sticky: the commit function never returns
// an error matching log.ErrNoSpace, Paused is always nil, and Resume only
// reports the sticky failure (nil if none); it never resumes anything.
func (e *Engine) Resume() error { return e.g.Resume() }

// Paused is always nil (see Resume).
func (e *Engine) Paused() error { return e.g.Paused() }

// Iter implements engine.Engine.
func (e *Engine) Iter(from log.Zxid) (engine.Iterator, error) {
	last := e.g.LastZxid()
	if last == 0 || from > last {
		return &iter{}, nil
	}
	it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: key(from), UpperBound: key(last + 1)})
	if err != nil {
		return nil, fmt.Errorf("pebble engine: %w", err)
	}
	return &iter{it: it}, nil
}

// TruncateAfter implements engine.Engine.
func (e *Engine) TruncateAfter(z log.Zxid) error {
	return e.g.Truncate(z, func() (log.Zxid, error) {
		if err := e.db.DeleteRange(key(z+1), endKey, pebble.Sync); err != nil {
			return 0, fmt.Errorf("pebble engine: truncate after %v: %w", z, err)
		}
		return e.lastAtOrBelow(z)
	})
}

// PurgeBefore implements engine.Engine: one range deletion of [0, z),
// never reaching the last record.
func (e *Engine) PurgeBefore(z log.Zxid) error {
	return e.g.Exclusive(func(last log.Zxid) error {
		z = min(z, last)
		if z == 0 {
			return nil
		}
		if err := e.db.DeleteRange(key(0), key(z), pebble.Sync); err != nil {
			return fmt.Errorf("pebble engine: purge before %v: %w", z, err)
		}
		return nil
	})
}

// Close implements engine.Engine: queued appends are committed (or failed)
// first, then the store is closed.
func (e *Engine) Close() error {
	if err := e.g.Close(); err != nil {
		return err
	}
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("pebble engine: closing %s: %w", e.dir, err)
	}
	return nil
}

// iter adapts a pebble iterator; a nil it is empty.
type iter struct {
	it      *pebble.Iterator
	started bool
	rec     log.Record
	err     error
}

func (i *iter) Next() bool {
	if i.it == nil || i.err != nil {
		return false
	}
	var ok bool
	if !i.started {
		i.started = true
		ok = i.it.First()
	} else {
		ok = i.it.Next()
	}
	if !ok {
		i.err = i.it.Error()
		return false
	}
	z, err := decodeKey(i.it.Key())
	if err != nil {
		i.err = err
		return false
	}
	v, err := i.it.ValueAndErr()
	if err != nil {
		i.err = fmt.Errorf("pebble engine: reading %v: %w", z, err)
		return false
	}
	i.rec = log.Record{Zxid: z, Data: bytes.Clone(v)}
	return true
}

// Record returns the current record; its Data belongs to the caller.
func (i *iter) Record() log.Record { return i.rec }

func (i *iter) Err() error { return i.err }

func (i *iter) Close() error {
	if i.it == nil {
		return nil
	}
	err := i.it.Close()
	i.it = nil
	return err
}

// slogLogger routes pebble's logger into slog. Pebble's Infof lines
// (compactions, WAL recovery) go to Debug.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Infof(format string, args ...any) {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		s.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (s slogLogger) Errorf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...))
}

func (s slogLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.l.Error("pebble fatal error", "msg", msg)
	panic("pebble: " + msg)
}
