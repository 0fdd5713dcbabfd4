package pebble_test

import (
	"testing"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/engine/pebble"
)

// TestKillDuringTruncate kills a process truncating a pebble store with
// SIGKILL at a random moment (see enginetest.RunKillDuringTruncate).
// Pebble's TruncateAfter is one range deletion in one synced batch, so
// the reopened store is the log before the cut or the cut, nothing else.
func TestKillDuringTruncate(t *testing.T) {
	enginetest.RunKillDuringTruncate(t, enginetest.KillHarness{
		Open:   func(t *testing.T, dir string) engine.Engine { return open(t, dir, small) },
		Atomic: true,
	})
}

// BenchmarkTruncate: go test -run - -bench Truncate ./engine/pebble
// (production options).
func BenchmarkTruncate(b *testing.B) {
	enginetest.RunTruncateBenchmarks(b, func(b *testing.B, dir string) engine.Engine { return open(b, dir, pebble.Options{}) })
}
