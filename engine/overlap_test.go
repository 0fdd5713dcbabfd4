package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

// ready reports whether ch has a value, without waiting.
func ready(ch <-chan error) bool {
	select {
	case err := <-ch:
		panic(err) // callers only ask of channels they then read again
	default:
		return false
	}
}

// TestOverlappedSyncsReleaseInOrder holds the fsync of record 2 and writes
// and syncs record 3 on a second handle meanwhile (SyncsInFlight 2):
// record 3's sync returns first, but its caller is released only after
// record 2's, and both are durable.
func TestOverlappedSyncsReleaseInOrder(t *testing.T) {
	mem := vfs.NewMem()
	g := newGateFS(mem)
	e := mustOpenNative(t, g, engine.NativeOptions{SyncsInFlight: 2})
	defer e.Close()
	if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	second := e.AppendAsync(enginetest.Recs(2, 1))
	<-g.entered // record 2's fsync is held
	third := e.AppendAsync(enginetest.Recs(3, 1))
	if !e.WaitSyncDoneBehind(10 * time.Second) {
		t.Fatal("record 3 was not written and synced while record 2's sync was held")
	}
	if ready(third) {
		t.Fatal("unreachable")
	}
	// Record 3's fdatasync covered record 2's bytes too: both are durable
	// (a crash now keeps them) though neither caller has been told.
	crashed := mem.CrashClone(vfs.CrashOptions{})
	close(g.release)
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
// held: neither caller is told its record is durable (record 2's own sync
// succeeds, but the log has failed), every later append fails, and what a
// crash leaves is a prefix holding every acknowledged record.
func TestOverlappedSyncFailure(t *testing.T) {
	mem := vfs.NewMem()
	efs := errorfs.Wrap(mem)
	g := newGateFS(efs)
	e := mustOpenNative(t, g, engine.NativeOptions{SyncsInFlight: 2})
	if err := e.Append(context.Background(), enginetest.Recs(1, 1)); err != nil {
		t.Fatal(err)
	}
	g.armed.Store(true)
	second := e.AppendAsync(enginetest.Recs(2, 1))
	<-g.entered // held before it reaches errorfs
	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 1})
	third := e.AppendAsync(enginetest.Recs(3, 1))
	if !e.WaitSyncDoneBehind(10 * time.Second) {
		t.Fatal("record 3's sync did not return while record 2's was held")
	}
	if ready(third) {
		t.Fatal("unreachable")
	}
	close(g.release)
	for i, ch := range []<-chan error{second, third} {
		if err := <-ch; !errors.Is(err, log.ErrSyncFailed) || !errors.Is(err, errorfs.ErrInjected) {
			t.Errorf("record %d: got %v, want ErrSyncFailed wrapping the injected error", i+2, err)
		}
	}
	if err := e.Append(context.Background(), enginetest.Recs(4, 1)); !errors.Is(err, log.ErrSyncFailed) {
		t.Errorf("Append after the failure: got %v, want ErrSyncFailed", err)
	}
	if st := e.Stats(); st.Fsyncs != 1 || st.Records != 1 {
		t.Errorf("stats %+v: a failed sync was counted", st)
	}
	e.Close()
	e2 := mustOpenNative(t, mem.CrashClone(vfs.CrashOptions{}), engine.NativeOptions{})
	defer e2.Close()
	got := enginetest.ReadAll(t, e2, 0)
	if len(got) < 1 || len(got) > 3 || !cmp.Equal(got, enginetest.Recs(1, len(got))) {
		t.Errorf("after a crash: %v, want records 1..k for some k in [1, 3]", got)
	}
}
