package badger_test

import (
	"context"
	"errors"
	"testing"

	"zabd/engine"
	"zabd/engine/badger"
	"zabd/engine/enginetest"
	"zabd/log"
)

// openChunked opens e with deletions of at most chunk records per
// transaction, so that a truncation of a few hundred records takes many.
func openChunked(t testing.TB, dir string, chunk int) *badger.Engine {
	e := open(t, dir, small)
	badger.SetDeleteChunk(e, chunk)
	return e
}

// TestTruncateCrash stops TruncateAfter after each of its deletion
// transactions in turn (as a crash would) and checks that the reopened
// store is a prefix of the log, never one with a hole.
func TestTruncateCrash(t *testing.T) {
	enginetest.RunTruncateCrashTests(t, enginetest.TruncateStopper{
		Open: func(t *testing.T, dir string) engine.Engine { return openChunked(t, dir, 16) },
		StopAfter: func(e engine.Engine, steps int) {
			badger.SetAfterDeleteStep(e.(*badger.Engine), func(step int) error {
				if step >= steps {
					return enginetest.ErrStopped
				}
				return nil
			})
		},
	})
}

// TestTruncateStopLeavesNoHole is one case of TestTruncateCrash spelled
// out: 200 records, chunks of 10, the truncation after 50 stopped after
// its first transaction. Reopened, the store must hold 1..k for some k in
// [50, 200] (the records removed are the newest ones), and the
// re-issued truncation must cut it at 50.
func TestTruncateStopLeavesNoHole(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openChunked(t, dir, 10)
	all := enginetest.Recs(1, 200)
	if err := e.Append(ctx, all); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	badger.SetAfterDeleteStep(e, func(step int) error { return stop })
	if err := e.TruncateAfter(50); !errors.Is(err, stop) {
		t.Fatalf("TruncateAfter(50) stopped after one transaction: got %v, want the stop", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openChunked(t, dir, 10)
	defer e.Close()
	last := enginetest.CheckPrefix(t, e, all, 1, 50, "reopened after stopping TruncateAfter(50) after one transaction")
	if want := log.Zxid(190); last != want {
		t.Errorf("after one transaction of 10 deletions LastZxid = %v, want %v", last, want)
	}
	if err := e.TruncateAfter(50); err != nil {
		t.Fatal(err)
	}
	if got := e.LastZxid(); got != 50 {
		t.Errorf("re-issued TruncateAfter(50): LastZxid %v", got)
	}
	if got := enginetest.ReadAll(t, e, 0); len(got) != 50 || got[49].Zxid != 50 {
		t.Errorf("re-issued TruncateAfter(50): %d records", len(got))
	}
}

// TestPurgeStopKeepsSuffix: PurgeBefore stopped after one transaction
// leaves a contiguous suffix ending at the last record.
func TestPurgeStopKeepsSuffix(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := openChunked(t, dir, 10)
	all := enginetest.Recs(1, 100)
	if err := e.Append(ctx, all); err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	badger.SetAfterDeleteStep(e, func(step int) error { return stop })
	if err := e.PurgeBefore(60); !errors.Is(err, stop) {
		t.Fatalf("PurgeBefore(60) stopped after one transaction: got %v, want the stop", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	e = openChunked(t, dir, 10)
	defer e.Close()
	got := enginetest.ReadAll(t, e, 0)
	if len(got) != 90 || got[0].Zxid != 11 || got[89].Zxid != 100 {
		t.Fatalf("after PurgeBefore(60) stopped after one transaction of 10: %d records, want 11..100", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Zxid != got[i-1].Zxid+1 {
			t.Fatalf("hole: %v followed by %v", got[i-1].Zxid, got[i].Zxid)
		}
	}
}

// TestKillDuringTruncate kills a process truncating a badger store with
// SIGKILL at a random moment (see enginetest.RunKillDuringTruncate).
func TestKillDuringTruncate(t *testing.T) {
	enginetest.RunKillDuringTruncate(t, enginetest.KillHarness{
		Open: func(t *testing.T, dir string) engine.Engine { return openChunked(t, dir, 64) },
		OnStep: func(e engine.Engine, step func()) {
			badger.SetAfterDeleteStep(e.(*badger.Engine), func(int) error { step(); return nil })
		},
	})
}

// BenchmarkTruncate: go test -run - -bench Truncate ./engine/badger
// (production options).
func BenchmarkTruncate(b *testing.B) {
	enginetest.RunTruncateBenchmarks(b, func(b *testing.B, dir string) engine.Engine { return open(b, dir, badger.Options{}) })
}
