package badger_test

import (
	"testing"

	"zabd/engine"
	"zabd/engine/badger"
	"zabd/engine/enginetest"
)

// small keeps many test instances cheap; the tiny memtable makes the
// suites reach flushes to sstables.
var small = badger.Options{MemTableBytes: 1 << 20}

func open(t testing.TB, dir string, o badger.Options) *badger.Engine {
	t.Helper()
	e, err := badger.Open(dir, o)
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

// BenchmarkAppend: go test -run - -bench Append ./engine/badger (default,
// production options).
func BenchmarkAppend(b *testing.B) {
	enginetest.RunBenchmarks(b, func(b *testing.B, dir string) enginetest.Appender { return open(b, dir, badger.Options{}) })
}

// BenchmarkAppendValueLog is BenchmarkAppend with values in the value log
// (ValueThreshold 64 bytes) rather than the LSM tree, to compare.
func BenchmarkAppendValueLog(b *testing.B) {
	enginetest.RunBenchmarks(b, func(b *testing.B, dir string) enginetest.Appender {
		return open(b, dir, badger.Options{ValueThreshold: 64})
	})
}

func TestReader(t *testing.T) {
	enginetest.RunReaderTests(t,
		func(t *testing.T, dir string) engine.Engine { return open(t, dir, small) },
		func(dir string) (enginetest.Reader, error) { return badger.OpenReader(dir, badger.ReaderOptions{}) }, false)
}
