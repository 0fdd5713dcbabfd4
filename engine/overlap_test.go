package engine_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

// released reports whether ch already has a value, without waiting.
func released(ch <-chan error) bool { return len(ch) > 0 }

// TestOverlappedSyncsReleaseInOrder holds the fsync of record 2 while
// record 3 is written and fdatasynced on a second handle (SyncsInFlight 2).
// Record 3's fdatasync returns first, but neither record is published nor
// its caller released until record 2's returns; then both are, in order.
func TestOverlappedSyncsReleaseInOrder(t *testing.T) {
	mem := vfs.NewMem()
	g := newGateFS(mem)
	e := mustOpenNative(t, g, engine.NativeOptions{SyncsInFlight: 2, OverlapMinRecords: 1})
	defer e.Close()
	if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.drainReturned()
	g.armed.Store(true)
	second := e.AppendAsync(enginetest.Recs(2, 1))
	<-g.entered // record 2's fsync is held
	third := e.AppendAsync(enginetest.Recs(3, 1))
	err := <-g.returned // record 3's fdatasync, on its own handle
	// Record 3's fdatasync covered record 2's bytes too: a crash now keeps
	// both, though neither caller has been told.
	crashed := mem.CrashClone(vfs.CrashOptions{})
	stillHeld := released(second) || released(third)
	last := e.LastZxid()
	close(g.release)
	if err != nil {
		t.Fatalf("record 3's fdatasync: %v", err)
	}
	if stillHeld {
		t.Error("a caller was released while record 2's sync was held")
	}
	if last != 1 {
		t.Errorf("LastZxid while record 2's sync was held = %v, want 1", last)
	}
	for i, ch := range []<-chan error{second, third} {
		if err := <-ch; err != nil {
			t.Fatalf("record %d: %v", i+2, err)
		}
	}
	if got, want := enginetest.ReadAll(t, e, 0), enginetest.Recs(1, 3); !cmp.Equal(got, want) {
		t.Errorf("records (-want +got):\n%s", cmp.Diff(want, got))
	}
	if st := e.Stats(); st.Fsyncs != 3 || st.Records != 3 {
		t.Errorf("stats %+v, want 3 fsyncs for 3 records", st)
	}
	e2 := mustOpenNative(t, crashed, engine.NativeOptions{})
	defer e2.Close()
	if got, want := enginetest.ReadAll(t, e2, 0), enginetest.Recs(1, 3); !cmp.Equal(got, want) {
		t.Errorf("after a crash while record 2's sync was held (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// TestOverlappedSyncFailure fails the fsync of record 3 while record 2's is
// held. Record 2's own fdatasync then succeeds, so its caller is told it is
// durable; record 3's fails with ErrSyncFailed, as does every later
// append, and what a crash leaves is a prefix holding records 1 and 2.
func TestOverlappedSyncFailure(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	g := newGateFS(efs)
	e := mustOpenNative(t, g, engine.NativeOptions{SyncsInFlight: 2, OverlapMinRecords: 1})
	if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.drainReturned()
	g.armed.Store(true)
	second := e.AppendAsync(enginetest.Recs(2, 1))
	<-g.entered // held before it reaches errorfs
	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 1})
	third := e.AppendAsync(enginetest.Recs(3, 1))
	err := <-g.returned
	stillHeld := released(second) || released(third)
	close(g.release)
	if !errors.Is(err, errorfs.ErrInjected) {
		t.Fatalf("record 3's fdatasync: got %v, want the injected failure", err)
	}
	if stillHeld {
		t.Error("a caller was released while record 2's sync was held")
	}
	if err := <-second; err != nil {
		t.Errorf("record 2 (its own sync succeeded): %v", err)
	}
	if err := <-third; !errors.Is(err, log.ErrSyncFailed) || !errors.Is(err, errorfs.ErrInjected) {
		t.Errorf("record 3: got %v, want ErrSyncFailed wrapping the injected error", err)
	}
	if err := e.Append(context.Background(), enginetest.Recs(4, 1)); !errors.Is(err, log.ErrSyncFailed) {
		t.Errorf("Append after the failure: got %v, want ErrSyncFailed", err)
	}
	if st := e.Stats(); st.Fsyncs != 2 || st.Records != 2 {
		t.Errorf("stats %+v, want 2 fsyncs for 2 records (the failed one not counted)", st)
	}
	e.Close()
	e2 := mustOpenNative(t, mem.CrashClone(vfs.CrashOptions{}), engine.NativeOptions{})
	defer e2.Close()
	got := enginetest.ReadAll(t, e2, 0)
	if len(got) < 2 || len(got) > 3 || !cmp.Equal(got, enginetest.Recs(1, len(got))) {
		t.Errorf("after a crash: %v, want records 1..k for k 2 or 3", got)
	}
}

// TestOverlapWaitsForFourRecords: with a sync in flight, the native
// engine's default OverlapMinRecords (4) keeps records 3, 4 and 5 queued
// until record 6 makes four; then the four are written and synced as one
// batch beside record 2's held sync.
func TestOverlapWaitsForFourRecords(t *testing.T) {
	g := newGateFS(vfs.NewMem())
	e := mustOpenNative(t, g, engine.NativeOptions{})
	defer e.Close()
	if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.drainReturned()
	g.armed.Store(true)
	dones := []<-chan error{e.AppendAsync(enginetest.Recs(2, 1))}
	<-g.entered // record 2's fsync is held
	for z := log.Zxid(3); z <= 6; z++ {
		dones = append(dones, e.AppendAsync(enginetest.Recs(z, 1)))
	}
	err := <-g.returned // the sync of the batch 3..6
	close(g.release)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dones {
		if err := <-d; err != nil {
			t.Fatalf("record %d: %v", i+2, err)
		}
	}
	if st := e.Stats(); st.Fsyncs != 3 || st.Records != 6 {
		t.Errorf("stats %+v, want 3 fsyncs (record 1, record 2, records 3..6) for 6 records", st)
	}
	if got, want := enginetest.ReadAll(t, e, 0), enginetest.Recs(1, 6); !cmp.Equal(got, want) {
		t.Errorf("records (-want +got):\n%s", cmp.Diff(want, got))
	}
}

// stepClock is a clock that moves only when told; safe for concurrent use.
type stepClock struct{ ns atomic.Int64 }

func (c *stepClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *stepClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// TestFsyncLatencyIsTheFdatasyncAlone: with record 2's fsync held for a
// second of the clock, record 3's fdatasync (which returned at once) is
// timed as that, not as the wait for record 2's outcome after it.
func TestFsyncLatencyIsTheFdatasyncAlone(t *testing.T) {
	clock := &stepClock{}
	g := newGateFS(vfs.NewMem())
	e := mustOpenNative(t, g, engine.NativeOptions{SyncsInFlight: 2, OverlapMinRecords: 1, Now: clock.now})
	defer e.Close()
	if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.drainReturned()
	before := e.Stats().FsyncLatency
	g.armed.Store(true)
	second := e.AppendAsync(enginetest.Recs(2, 1))
	<-g.entered // record 2's fsync is held
	third := e.AppendAsync(enginetest.Recs(3, 1))
	if err := <-g.returned; err != nil { // record 3's fdatasync
		t.Fatal(err)
	}
	clock.advance(time.Second)
	close(g.release)
	for _, ch := range []<-chan error{second, third} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	lat := e.Stats().FsyncLatency
	if got := lat.Total - before.Total; got != time.Second {
		t.Errorf("fsync time of records 2 and 3 = %v, want 1s (record 2's held fdatasync; record 3's took none)", got)
	}
	if lat.Max != time.Second {
		t.Errorf("longest fsync = %v, want 1s", lat.Max)
	}
}
