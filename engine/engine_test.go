package engine_test

import (
	"testing"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/log/vfs"
)

func TestMemoryConformance(t *testing.T) {
	enginetest.RunTests(t, func(t *testing.T) engine.Engine { return engine.NewMemory() })
}

func TestNativeConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    engine.NativeOptions
	}{
		{"default", engine.NativeOptions{}},
		// Tiny segments and batches reach rolls and batch splits.
		{"tiny", engine.NativeOptions{Log: log.Options{SegmentBytes: 128, BufferBytes: 64}, MaxBatchRecords: 3, MaxBatchBytes: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enginetest.RunTests(t, func(t *testing.T) engine.Engine {
				e, err := engine.OpenNative(vfs.NewMem(), "/data/log", tc.o)
				if err != nil {
					t.Fatalf("OpenNative: %v", err)
				}
				return e
			})
		})
	}
}
