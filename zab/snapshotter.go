package zab

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"zabd/engine"
	"zabd/log"
	"zabd/snapshot"
)

// SnapshotStore is what the snapshotter needs of engine.SnapshotStore.
type SnapshotStore interface {
	Save(write func(w io.Writer) (log.Zxid, error)) (engine.SnapshotInfo, error)
	Purge(keep int) (removed []engine.SnapshotInfo, oldestKept engine.SnapshotInfo, err error)
	List() ([]engine.SnapshotInfo, error)
}

// LogPurger removes log records below a zxid (engine.Engine.PurgeBefore).
type LogPurger interface {
	PurgeBefore(z log.Zxid) error
}

// SnapshotterConfig configures a Snapshotter.
type SnapshotterConfig struct {
	Store SnapshotStore
	// Log, if set, is purged with the snapshots (see Purge).
	Log LogPurger
	// SnapCount is ZooKeeper's snapCount: a snapshot is taken once more
	// than SnapCount/2 + rand(SnapCount/2) txns were applied since the
	// last one began, the random part drawn anew each time so that a
	// cluster's servers do not snapshot together
	// (SyncRequestProcessor). Default 100000, at least 2.
	SnapCount int
	// RetainCount is autopurge.snapRetainCount: how many snapshots a purge
	// keeps. Default and minimum 3, as ZooKeeper.
	RetainCount int
	// PurgeInterval is autopurge.purgeInterval. Zero turns purging off
	// (ZooKeeper's default: snapshots and log are kept forever); otherwise
	// a purge runs after every snapshot saved and every PurgeInterval.
	PurgeInterval time.Duration
	// Rand draws the thresholds; default seeded from the clock.
	Rand *rand.Rand
	// Snapshot tunes the writer (chunk sizes, level, pacing); Stop is set
	// by the snapshotter. Duty 0 means DefaultSnapshotDuty (100: unpaced).
	Snapshot snapshot.Options
	// Share bounds, in percent, the wall time that background snapshots
	// taken one after another may fill: after a snapshot that took T, the
	// next one does not begin before (100-Share)/Share × T has passed
	// since it ended. A threshold crossed sooner is remembered, and its
	// snapshot begins when the wait is over. 100 means no wait
	// (ZooKeeper's rule alone); 0 means DefaultSnapshotShare.
	Share  int
	Logger *slog.Logger
	// Now is the clock for durations; default time.Now.
	Now func() time.Time
	// After waits out the Share; default time.After.
	After func(time.Duration) <-chan time.Time
	// OnSnapshot, if set, is told of each snapshot saved (for metrics).
	OnSnapshot func(info engine.SnapshotInfo, meta snapshot.Meta, took time.Duration)
}

func (c *SnapshotterConfig) fill() error {
	if c.Store == nil {
		return errors.New("zab: snapshotter needs a store")
	}
	if c.SnapCount == 0 {
		c.SnapCount = 100000
	}
	if c.SnapCount < 2 {
		return fmt.Errorf("zab: snapCount must be at least 2, got %d", c.SnapCount)
	}
	if c.RetainCount == 0 {
		c.RetainCount = 3
	}
	if c.RetainCount < 3 {
		return fmt.Errorf("zab: snapRetainCount must be at least 3, got %d", c.RetainCount)
	}
	if c.PurgeInterval < 0 {
		return fmt.Errorf("zab: negative purge interval %v", c.PurgeInterval)
	}
	if c.Rand == nil {
		seed := uint64(time.Now().UnixNano())
		c.Rand = rand.New(rand.NewPCG(seed, seed>>17^0x5eed))
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.After == nil {
		c.After = time.After
	}
	if c.Snapshot.Duty == 0 {
		c.Snapshot.Duty = DefaultSnapshotDuty
	}
	if c.Share == 0 {
		c.Share = DefaultSnapshotShare
	}
	if c.Share < 0 || c.Share > 100 {
		return fmt.Errorf("zab: snapshot share must be in [1, 100] percent, got %d", c.Share)
	}
	return nil
}

// DefaultSnapshotDuty paces background snapshots to work at most half the
// time (snapshot.Options.Duty), leaving the rest of a CPU to requests.
// Unpaced, a snapshot of a large tree takes a whole CPU for its walk and
// compression while requests queue behind it; paced, it takes about twice
// as long, and a threshold crossed meanwhile is skipped as before. With
// 8 creates outstanding on each of 32 sessions over 400k znodes, two sets
// of 3 alternating runs: p99 47-66 -> 17-24 ms and 29-68 -> 21-31 ms
// (README, "Snapshots and tail latency").
const DefaultSnapshotDuty = 50

// DefaultSnapshotShare lets background snapshots fill at most a quarter
// of the wall time (SnapshotterConfig.Share), so that what they cost per
// write stays bounded as the tree grows. snapCount alone asks for a
// snapshot every 50k-100k txns whatever the tree's size: with a million
// znodes under 50k-70k creates/s, one snapshot's walk outlasts the next
// threshold, snapshots run back to back, and they took 14-25 µs of CPU
// per create against 12-15 µs with this share (one P). The price is
// replay at restart: up to the txns of a snapshot, its wait and a
// threshold, where ZooKeeper replays up to a threshold.
const DefaultSnapshotShare = 25

// SnapshotterStats counts the snapshotter's work since it was made.
type SnapshotterStats struct {
	// Skipped counts thresholds crossed while a snapshot ran or waited to
	// begin; Deferred, snapshots that waited for the Share.
	Snapshots, Failures, Skipped, Deferred, Purges int
	Last                                           engine.SnapshotInfo
	LastMeta                                       snapshot.Meta
	LastDuration                                   time.Duration
	LastErr                                        error
}

// Snapshotter takes fuzzy snapshots in the background and applies the
// retention policy. AfterApply (plugged into PipelineConfig.AfterApply)
// counts applied txns on the applier goroutine and, past the threshold,
// signals the snapshotter's goroutine without blocking; that goroutine
// walks the tree through the Source given to Start, chunk by chunk, so
// writes go on. One snapshot runs at a time: a threshold crossed while
// one runs is skipped, as ZooKeeper does. A snapshot asked for during the
// wait that follows the last one (SnapshotterConfig.Share) begins when the
// wait is over (purges go on meanwhile); thresholds crossed meanwhile are
// skipped too.
//
// Concurrency: all methods are safe for concurrent use. mu guards the
// counters and stats; opMu serializes snapshots and purges.
type Snapshotter struct {
	cfg  SnapshotterConfig
	kick chan struct{} // cap 1: a snapshot is wanted
	stop chan struct{}
	done chan struct{}

	opMu sync.Mutex

	mu sync.Mutex
	// Guarded by mu.
	count     int       // txns applied since the last snapshot began
	threshold int       // take one when count > threshold
	running   bool      // a snapshot is being taken, or waits to begin
	notBefore time.Time // end of the wait after the last snapshot (Share)
	started   bool
	closed    bool
	stats     SnapshotterStats
}

// NewSnapshotter checks cfg and returns a snapshotter that counts txns
// but takes no snapshot until Start.
func NewSnapshotter(cfg SnapshotterConfig) (*Snapshotter, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	s := &Snapshotter{cfg: cfg, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.threshold = s.nextThreshold()
	return s, nil
}

// nextThreshold is snapCount/2 + rand(snapCount/2). Caller holds mu (or
// owns s exclusively).
func (s *Snapshotter) nextThreshold() int {
	half := s.cfg.SnapCount / 2
	return half + s.cfg.Rand.IntN(half)
}

// AfterApply counts txns applied; it never blocks. Its signature is
// PipelineConfig.AfterApply's. Recovery may call it with the number of
// txns replayed, so a long log tail gets a snapshot soon after start.
func (s *Snapshotter) AfterApply(lastZxid int64, txns int) {
	s.mu.Lock()
	s.count += txns
	if s.count <= s.threshold {
		s.mu.Unlock()
		return
	}
	s.count = 0
	s.threshold = s.nextThreshold()
	skip := s.running
	if skip {
		s.stats.Skipped++
	}
	s.mu.Unlock()
	if skip {
		s.cfg.Logger.Warn("snapshot: one is still being taken; skipping this one", "last_zxid", log.Zxid(lastZxid).String())
		return
	}
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Start begins taking snapshots of the tree behind src (the pipeline's
// WithTree), and purging on PurgeInterval.
func (s *Snapshotter) Start(src snapshot.Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed {
		return
	}
	s.started = true
	go s.loop(src)
}

func (s *Snapshotter) loop(src snapshot.Source) {
	defer close(s.done)
	var tick <-chan time.Time
	if s.cfg.PurgeInterval > 0 {
		t := time.NewTicker(s.cfg.PurgeInterval)
		defer t.Stop()
		tick = t.C
	}
	var due <-chan time.Time // fires when an asked-for snapshot's wait is over
	for {
		select {
		case <-s.stop:
			return
		case <-s.kick:
			if wait, ok := s.shareWait(); ok {
				s.cfg.Logger.Debug("snapshot: waiting for the share after the last one", "wait", wait, "share_percent", s.cfg.Share)
				due = s.cfg.After(wait)
			} else {
				s.TakeSnapshot(src)
			}
		case <-due:
			due = nil
			s.TakeSnapshot(src)
		case <-tick:
			s.Purge()
		}
	}
}

// shareWait says how long a snapshot asked for now must wait for the
// Share after the last one, if at all. A snapshot that waits counts as
// running meanwhile, so thresholds crossed during the wait are skipped.
func (s *Snapshotter) shareWait() (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := s.notBefore.Sub(s.cfg.Now())
	if wait <= 0 {
		return 0, false
	}
	s.running = true
	s.stats.Deferred++
	return wait, true
}

// TakeSnapshot takes one snapshot now (waiting for one in progress), then
// purges if purging is on. Errors are logged and counted, and returned.
func (s *Snapshotter) TakeSnapshot(src snapshot.Source) (engine.SnapshotInfo, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	began := s.cfg.Now()
	var meta snapshot.Meta
	o := s.cfg.Snapshot
	o.Stop = s.stop
	info, err := s.cfg.Store.Save(func(w io.Writer) (log.Zxid, error) {
		var err error
		meta, err = snapshot.Write(w, src, o)
		return meta.StartZxid, err
	})
	ended := s.cfg.Now()
	took := ended.Sub(began)
	s.mu.Lock()
	s.running = false
	if share := s.cfg.Share; share < 100 {
		s.notBefore = ended.Add(took * time.Duration(100-share) / time.Duration(share))
	}
	if err != nil {
		s.stats.Failures++
		s.stats.LastErr = err
	} else {
		s.stats.Snapshots++
		s.stats.Last, s.stats.LastMeta, s.stats.LastDuration, s.stats.LastErr = info, meta, took, nil
	}
	s.mu.Unlock()
	if err != nil {
		if errors.Is(err, snapshot.ErrStopped) {
			s.cfg.Logger.Info("snapshot: abandoned at shutdown", "took", took.Round(time.Millisecond))
		} else {
			s.cfg.Logger.Error("snapshot: failed", "err", err, "took", took.Round(time.Millisecond))
		}
		return info, err
	}
	if s.cfg.OnSnapshot != nil {
		s.cfg.OnSnapshot(info, meta, took)
	}
	s.cfg.Logger.Info("snapshot: saved", "file", info.Path, "start_zxid", info.StartZxid.String(), "end_zxid", meta.EndZxid.String(),
		"nodes", meta.Nodes, "sessions", meta.Sessions, "bytes", info.Bytes, "raw_bytes", meta.RawBytes,
		"took", took.Round(time.Millisecond))
	if s.cfg.PurgeInterval > 0 {
		s.purgeLocked(s.cfg.RetainCount)
	}
	return info, nil
}

// Purge applies the retention policy now, whether or not purging is on:
// it keeps the newest RetainCount snapshots and removes the log records
// below the oldest kept snapshot's start zxid + 1, so every record that
// any kept snapshot needs for replay (zxid > its start) stays.
func (s *Snapshotter) Purge() error {
	_, err := s.PurgeKeeping(s.cfg.RetainCount)
	return err
}

// PurgeResult says what a purge did.
type PurgeResult struct {
	Removed []engine.SnapshotInfo
	// Kept is how many snapshots are left (-1: the store could not be
	// listed afterwards), OldestKept the oldest of them (zero: none, and
	// nothing was purged from the log).
	Kept       int
	OldestKept engine.SnapshotInfo
	// LogPurgedBefore: log records below it were removed (0: none).
	LogPurgedBefore log.Zxid
}

// PurgeKeeping is Purge keeping the newest keep snapshots instead of
// RetainCount (an operator's purge on demand); keep is at least 3, as
// ZooKeeper's PurgeTxnLog requires.
func (s *Snapshotter) PurgeKeeping(keep int) (PurgeResult, error) {
	if keep < 3 {
		return PurgeResult{}, fmt.Errorf("zab: a purge keeps at least 3 snapshots, asked to keep %d", keep)
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	return s.purgeLocked(keep)
}

func (s *Snapshotter) purgeLocked(keep int) (PurgeResult, error) {
	var res PurgeResult
	removed, oldest, err := s.cfg.Store.Purge(keep)
	res.Removed, res.OldestKept = removed, oldest
	if err != nil {
		s.cfg.Logger.Error("purge: removing snapshots failed", "err", err)
		return res, err
	}
	if oldest.Path == "" {
		return res, nil // no snapshot yet: every log record is still needed
	}
	if s.cfg.Log != nil {
		if err := s.cfg.Log.PurgeBefore(oldest.StartZxid + 1); err != nil {
			s.cfg.Logger.Error("purge: removing log records failed", "before", (oldest.StartZxid + 1).String(), "err", err)
			return res, err
		}
		res.LogPurgedBefore = oldest.StartZxid + 1
	}
	s.mu.Lock()
	s.stats.Purges++
	s.mu.Unlock()
	res.Kept = -1 // unknown if the store cannot be listed; the purge itself succeeded
	if infos, err := s.cfg.Store.List(); err == nil {
		res.Kept = len(infos)
	}
	s.cfg.Logger.Info("purge: done", "snapshots_removed", len(removed), "snapshots_kept", res.Kept, "retain_count", keep,
		"oldest_kept", oldest.StartZxid.String(), "log_purged_before", (oldest.StartZxid + 1).String())
	return res, nil
}

// Stats returns counters and the last snapshot's figures.
func (s *Snapshotter) Stats() SnapshotterStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Close stops the goroutine, abandoning a snapshot in progress between
// chunks (its temporary file is removed), and waits for it.
func (s *Snapshotter) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	started := s.started
	close(s.stop)
	s.mu.Unlock()
	if started {
		<-s.done
	}
}
