package badger_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"zabd/engine/enginetest"
)

// TestCloseReleasesGoroutines opens, uses and closes engines and checks
// that no goroutine outlives them (badger starts many per DB).
func TestCloseReleasesGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 5 {
		e := open(t, t.TempDir(), small)
		if err := e.Append(context.Background(), enginetest.Recs(1, 10)); err != nil {
			t.Fatal(err)
		}
		enginetest.ReadAll(t, e, 0)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Exiting goroutines may still be unwinding: poll briefly, bounded.
	var after int
	for range 100 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("goroutines: %d before opening 5 engines, %d after closing them", before, after)
}
