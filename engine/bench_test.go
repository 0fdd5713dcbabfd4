package engine_test

import (
	"testing"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/log/vfs"
)

// BenchmarkNativeAppend measures durable appends under group commit on the
// real filesystem (enginetest.RunBenchmarks; the pebble and badger
// packages run the same body).
func BenchmarkNativeAppend(b *testing.B) {
	enginetest.RunBenchmarks(b, func(b *testing.B, dir string) enginetest.Appender {
		// Preallocated segments, as zabd runs the native engine.
		e, err := engine.OpenNative(vfs.Default, dir, engine.NativeOptions{Log: log.Options{Preallocate: true}})
		if err != nil {
			b.Fatal(err)
		}
		return e
	})
}
