package zab

import (
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
)

// TestSnapshotterThresholds drives AfterApply and checks that a snapshot
// is wanted exactly when more than snapCount/2 + rand(snapCount/2) txns
// were applied since the last one began, with a new draw each time, and
// that a threshold crossed while a snapshot runs is skipped.
func TestSnapshotterThresholds(t *testing.T) {
	const snapCount = 10
	s, err := NewSnapshotter(SnapshotterConfig{Store: &engine.SnapshotStore{}, SnapCount: snapCount, Rand: rand.New(rand.NewPCG(7, 7))})
	if err != nil {
		t.Fatal(err)
	}
	twin := rand.New(rand.NewPCG(7, 7))
	var gotAt, wantAt []int
	next := snapCount/2 + twin.IntN(snapCount/2)
	count := 0
	for i := 1; i <= 200; i++ {
		s.AfterApply(int64(i), 1)
		count++
		if count > next {
			wantAt = append(wantAt, i)
			count = 0
			next = snapCount/2 + twin.IntN(snapCount/2)
		}
		select {
		case <-s.kick:
			gotAt = append(gotAt, i)
		default:
		}
	}
	if diff := cmp.Diff(wantAt, gotAt); diff != "" {
		t.Errorf("snapshot wanted after txns (-want +got):\n%s", diff)
	}
	gaps := map[int]bool{}
	for i := 1; i < len(gotAt); i++ {
		g := gotAt[i] - gotAt[i-1]
		if g <= snapCount/2 || g > snapCount {
			t.Errorf("gap %d outside (%d, %d]", g, snapCount/2, snapCount)
		}
		gaps[g] = true
	}
	if len(gaps) < 3 {
		t.Errorf("gaps %v: want randomized thresholds", gaps)
	}

	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	s.AfterApply(1000, snapCount+1)
	if len(s.kick) != 0 || s.Stats().Skipped != 1 {
		t.Errorf("while running: kick %d, skipped %d; want 0 and 1", len(s.kick), s.Stats().Skipped)
	}
}

// clockStore is a snapshot store whose saves take took on a fake clock.
type clockStore struct {
	*engine.SnapshotStore
	clock *fakeClock
	took  time.Duration
}

func (c *clockStore) Save(write func(io.Writer) (log.Zxid, error)) (engine.SnapshotInfo, error) {
	c.clock.Advance(c.took)
	return c.SnapshotStore.Save(write)
}

// TestSnapshotterShare checks the wait after a snapshot. With Share 25, a
// snapshot that took 2s is followed by a wait of 6s: the next threshold
// crossed is not acted on until the snapshotter's wait for exactly the
// rest of those 6s has fired, and thresholds crossed during the wait are
// skipped. With Share 100 the next snapshot begins at once.
func TestSnapshotterShare(t *testing.T) {
	for _, share := range []int{25, 100} {
		t.Run(fmt.Sprint("share=", share), func(t *testing.T) {
			st, err := engine.OpenSnapshotStore(vfs.NewMem(), "/snap")
			if err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{now: time.UnixMilli(1_700_000_000_000)}
			store := &clockStore{SnapshotStore: st, clock: clock, took: 2 * time.Second}
			waits := make(chan time.Duration, 1)
			fire := make(chan time.Time)
			// taken hears of each snapshot once the snapshotter has
			// finished with it (its wait is set, it no longer runs).
			taken := make(chan struct{}, 10)
			s, err := NewSnapshotter(SnapshotterConfig{Store: store, SnapCount: 10, Share: share,
				Now: clock.Now, Rand: rand.New(rand.NewPCG(3, 3)),
				After:      func(d time.Duration) <-chan time.Time { waits <- d; return fire },
				OnSnapshot: func(engine.SnapshotInfo, snapshot.Meta, time.Duration) { taken <- struct{}{} }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tr := tree.New(tree.Config{})
			tr.SetLastZxid(1<<32 | 5)
			s.Start(snapshot.Still(tr))
			saved := func(what string) {
				t.Helper()
				select {
				case <-taken:
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: no snapshot saved", what)
				}
			}
			s.AfterApply(1<<32|5, 11) // past every threshold, no snapshot yet: no wait
			saved("first threshold")
			clock.Advance(time.Second)
			s.AfterApply(1<<32|6, 11)
			if share == 100 {
				saved("share 100, next threshold")
				if got := s.Stats().Deferred; got != 0 {
					t.Errorf("share 100: %d snapshots deferred, want 0", got)
				}
				return
			}
			select {
			case d := <-waits:
				if d != 5*time.Second {
					t.Errorf("waited %v, want 5s (6s after a 2s snapshot, 1s of it gone)", d)
				}
			case <-taken:
				t.Fatal("a snapshot was taken inside the wait")
			case <-time.After(10 * time.Second):
				t.Fatal("no wait after the threshold crossed during it")
			}
			s.AfterApply(1<<32|7, 11) // crossed again while the snapshot waits
			if got := s.Stats(); got.Deferred != 1 || got.Skipped != 1 || got.Snapshots != 1 {
				t.Errorf("during the wait: %d deferred, %d skipped, %d taken; want 1, 1, 1", got.Deferred, got.Skipped, got.Snapshots)
			}
			clock.Advance(5 * time.Second)
			fire <- clock.Now()
			saved("after the wait")
		})
	}
}

func TestSnapshotterConfig(t *testing.T) {
	store := &engine.SnapshotStore{}
	for _, c := range []SnapshotterConfig{
		{},
		{Store: store, SnapCount: 1},
		{Store: store, RetainCount: 2},
		{Store: store, PurgeInterval: -time.Second},
		{Store: store, Share: -1},
		{Store: store, Share: 101},
	} {
		if _, err := NewSnapshotter(c); err == nil {
			t.Errorf("%+v: want an error", c)
		}
	}
	s, err := NewSnapshotter(SnapshotterConfig{Store: store})
	if err != nil || s.cfg.SnapCount != 100000 || s.cfg.RetainCount != 3 || s.cfg.PurgeInterval != 0 || s.cfg.Snapshot.Duty != DefaultSnapshotDuty || s.cfg.Share != DefaultSnapshotShare {
		t.Errorf("defaults: %+v %v", s.cfg, err)
	}
	// Snapshots can be left unpaced.
	s, err = NewSnapshotter(SnapshotterConfig{Store: store, Snapshot: snapshot.Options{Duty: 100}})
	if err != nil || s.cfg.Snapshot.Duty != 100 {
		t.Errorf("Duty 100 not kept: %+v %v", s.cfg.Snapshot, err)
	}
}

// notifyStore tells the test about every save.
type notifyStore struct {
	*engine.SnapshotStore
	saved chan engine.SnapshotInfo
}

func (n *notifyStore) Save(write func(io.Writer) (log.Zxid, error)) (engine.SnapshotInfo, error) {
	info, err := n.SnapshotStore.Save(write)
	if err == nil {
		n.saved <- info
	}
	return info, err
}

// TestSnapshotterWithPipeline runs a pipeline whose AfterApply feeds a
// snapshotter and checks: AfterApply asks for snapshots as writes are
// applied; snapshots are fuzzy (writes are submitted and applied between
// the chunks of the walk); retention keeps RetainCount snapshots; the log
// keeps every record after the oldest kept one; and every kept snapshot
// plus the log replayed from its start equals the live tree. The test
// plays the snapshotter's goroutine so that it is deterministic.
func TestSnapshotterWithPipeline(t *testing.T) {
	mem := vfs.NewMem()
	st, err := engine.OpenSnapshotStore(mem, "/data/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.NewMemory()
	snap, err := NewSnapshotter(SnapshotterConfig{Store: st, Log: eng, SnapCount: 40, PurgeInterval: time.Hour, Share: 100,
		Rand: rand.New(rand.NewPCG(1, 2)), Snapshot: snapshot.Options{ChunkNodes: 5}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tree.New(tree.Config{})
	// The applier tells the snapshotter of a batch after answering it;
	// each write waits for that too, so whether a kick is there to see
	// does not depend on how the goroutines were scheduled.
	applied := make(chan int, 1024)
	afterApply := func(last int64, n int) {
		snap.AfterApply(last, n)
		applied <- n
	}
	p, err := NewPipeline(PipelineConfig{Tree: tr, Storage: eng, Epoch: 1, AfterApply: afterApply})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	i, seen := 0, 0   // writes made, and writes the snapshotter was told of
	var live []string // paths created and not deleted, oldest first
	write := func() {
		req := tree.Request{Op: tree.OpCreate, Path: fmt.Sprintf("/n%04d", i), Data: []byte{byte(i)}, ACL: tree.OpenACLUnsafe}
		switch {
		case i%4 == 2 && len(live) > 0:
			req = tree.Request{Op: tree.OpSetData, Path: live[len(live)-1], Data: []byte(fmt.Sprint(i)), Version: -1}
		case i%4 == 3 && len(live) > 0:
			req = tree.Request{Op: tree.OpDelete, Path: live[0], Version: -1}
			live = live[1:]
		default:
			live = append(live, req.Path)
		}
		i++
		done := make(chan error, 1)
		p.Submit(0, req, func(res tree.Result, err error) {
			if err == nil && res.Err != tree.CodeOK {
				err = res.Err
			}
			done <- err
		})
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("write %d not answered", i)
		}
		for seen < i {
			select {
			case n := <-applied:
				seen += n
			case <-time.After(10 * time.Second):
				t.Fatalf("write %d: the snapshotter was not told of it", i)
			}
		}
	}
	fuzzy := func(fn func(*tree.Tree)) {
		write() // between chunks, and before the first
		write()
		p.WithTree(fn)
	}
	for i < 600 {
		write()
		select {
		case <-snap.kick:
			if _, err := snap.TakeSnapshot(fuzzy); err != nil {
				t.Fatal(err)
			}
		default:
		}
	}
	stats := snap.Stats()
	// Every threshold crossing (after more than 20 to 40 txns) either
	// took a snapshot or, when writes during one crossed it, was skipped.
	if n := stats.Snapshots + stats.Skipped; n < i/40-1 || n > i/20+1 || stats.Skipped == 0 || stats.Snapshots < 3 {
		t.Errorf("stats %+v after %d txns: want %d to %d snapshots taken or skipped, some of each", stats, i, i/40-1, i/20+1)
	}
	if stats.Failures != 0 || stats.Purges != stats.Snapshots {
		t.Errorf("stats %+v: want no failures and one purge per snapshot", stats)
	}

	infos, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("%d snapshots kept, want 3 (snapRetainCount)", len(infos))
	}
	oldest := infos[len(infos)-1].StartZxid
	it, err := eng.Iter(0)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() || it.Record().Zxid > oldest+1 {
		t.Errorf("log starts at %v, want at or before %v (oldest kept snapshot %v + 1)", it.Record().Zxid, oldest+1, oldest)
	}
	first := it.Record().Zxid
	it.Close()
	if first == 1<<32|1 {
		t.Errorf("log never purged (starts at %v, oldest kept snapshot %v)", first, oldest)
	}

	var want string
	p.WithTree(func(t *tree.Tree) { want = t.DescribeTree() })
	for _, info := range infos {
		got, m, err := st.Load(info, tree.Config{})
		if err != nil {
			t.Fatal(err)
		}
		it, err := eng.Iter(m.StartZxid + 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := datadir.Replay(got, it); err != nil {
			t.Fatal(err)
		}
		it.Close()
		if diff := cmp.Diff(want, got.DescribeTree()); diff != "" {
			t.Errorf("snapshot %v + log replay differs from the live tree (-live +restored):\n%s", info.StartZxid, diff)
		}
	}
}

// TestSnapshotterBackground: past the threshold, the started goroutine
// takes a snapshot on its own; Close waits for it.
func TestSnapshotterBackground(t *testing.T) {
	st, err := engine.OpenSnapshotStore(vfs.NewMem(), "/snap")
	if err != nil {
		t.Fatal(err)
	}
	store := &notifyStore{SnapshotStore: st, saved: make(chan engine.SnapshotInfo, 10)}
	snap, err := NewSnapshotter(SnapshotterConfig{Store: store, SnapCount: 10})
	if err != nil {
		t.Fatal(err)
	}
	tr := tree.New(tree.Config{})
	tr.SetLastZxid(1<<32 | 77)
	snap.Start(snapshot.Still(tr))
	snap.AfterApply(1<<32|77, 5) // below every threshold
	select {
	case info := <-store.saved:
		t.Fatalf("snapshot %v below the threshold", info)
	default:
	}
	snap.AfterApply(1<<32|77, 10)
	select {
	case info := <-store.saved:
		if info.StartZxid != 1<<32|77 {
			t.Errorf("saved %+v, want start zxid 0x10000004d", info)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no snapshot after crossing the threshold")
	}
	snap.Close()
	snap.Close()
	if got := snap.Stats().Purges; got != 0 {
		t.Errorf("%d purges with purging off, want 0", got)
	}
}
