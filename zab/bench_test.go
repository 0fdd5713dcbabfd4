package zab

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/tree"
)

// BenchmarkPipelineCreate: durable creates with 100-byte values through
// the whole write path (prep, native log group commit with fdatasync,
// apply, answer), from closed-loop submitters that each wait for their
// answer before the next create, as 32 clients with one request each in
// flight do. Reports creates/s and txns per fsync.
func BenchmarkPipelineCreate(b *testing.B) {
	for _, submitters := range []int{1, 32} {
		b.Run(fmt.Sprintf("submitters=%d", submitters), func(b *testing.B) {
			eng, err := engine.OpenNative(vfs.Default, b.TempDir(), engine.NativeOptions{Log: log.Options{Preallocate: true}})
			if err != nil {
				b.Fatal(err)
			}
			defer eng.Close()
			p, err := NewPipeline(PipelineConfig{Tree: tree.New(tree.Config{}), Storage: eng, Epoch: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			value := make([]byte, 100)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for w := 0; w < submitters; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answered := make(chan error, 1)
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						req := tree.Request{Op: tree.OpCreate, Path: fmt.Sprintf("/n%d", i), Data: value, ACL: tree.OpenACLUnsafe}
						p.Submit(0, req, func(res tree.Result, err error) {
							if err == nil && res.Err != tree.CodeOK {
								err = res.Err
							}
							answered <- err
						})
						if err := <-answered; err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
			if st := eng.Stats(); st.Fsyncs > 0 {
				b.ReportMetric(float64(st.Records)/float64(st.Fsyncs), "txns/fsync")
			}
		})
	}
}
