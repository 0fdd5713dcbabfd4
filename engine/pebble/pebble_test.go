package pebble_test

import (
	"testing"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/engine/pebble"
)

// small keeps many test instances cheap; the tiny memtable makes the
// suites reach flushes to sstables.
var small = pebble.Options{MemTableBytes: 256 << 10, CacheBytes: 1 << 20}

func open(t testing.TB, dir string, o pebble.Options) *pebble.Engine {
	t.Helper()
	e, err := pebble.Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return e
}

func TestConformance(t *testing.T) {
	enginetest.RunTests(t, func(t *testing.T) engine.Engine { return open(t, t.TempDir(), small) })
}

func TestReopen(t *testing.T) {
	enginetest.RunReopenTests(t, func(t *testing.T, dir string) engine.Engine { return open(t, dir, small) })
}

// BenchmarkAppend: go test -run - -bench Append ./engine/pebble (default,
// production options).
func BenchmarkAppend(b *testing.B) {
	enginetest.RunBenchmarks(b, func(b *testing.B, dir string) enginetest.Appender { return open(b, dir, pebble.Options{}) })
}

func TestReader(t *testing.T) {
	enginetest.RunReaderTests(t,
		func(t *testing.T, dir string) engine.Engine { return open(t, dir, small) },
		func(dir string) (enginetest.Reader, error) { return pebble.OpenReader(dir, pebble.ReaderOptions{}) }, true)
}
