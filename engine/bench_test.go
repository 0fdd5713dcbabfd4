package engine_test

import (
	"fmt"
	"sync"
	"testing"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
)

// BenchmarkNativeAppend measures durable appends under group commit on the
// real filesystem: W writers each stamp a zxid and enqueue under one mutex
// (as the pipeline does) and wait for durability outside it. One op is one
// record; fsyncs/op and records/fsync show the batching.
func BenchmarkNativeAppend(b *testing.B) {
	for _, writers := range []int{1, 8, 32, 64} {
		for _, size := range []int{100, 4096} {
			b.Run(fmt.Sprintf("writers=%d/size=%d", writers, size), func(b *testing.B) {
				e, err := engine.OpenNative(vfs.Default, b.TempDir(), engine.NativeOptions{})
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				data := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				var (
					mu     sync.Mutex
					next   log.Zxid
					issued int
					wg     sync.WaitGroup
				)
				b.ResetTimer()
				for w := 0; w < writers; w++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							mu.Lock()
							if issued >= b.N {
								mu.Unlock()
								return
							}
							issued++
							next++
							done := e.AppendAsync([]log.Record{{Zxid: next, Data: data}})
							mu.Unlock()
							if err := <-done; err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				st := e.Stats()
				b.ReportMetric(float64(st.Fsyncs)/float64(b.N), "fsyncs/op")
				b.ReportMetric(st.RecordsPerFsync(), "records/fsync")
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(st.FsyncLatency.Mean.Microseconds()), "fsync-µs")
			})
		}
	}
}
