package member

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"zabd/tree"
)

// BenchmarkEnsembleCreate writes sequential creates through a 3-member
// ensemble on the in-memory hub, 8 sessions per member, each with one
// request outstanding (the closed loop of `zabctl bench -w create`, two
// thirds of it forwarded to the leader). allocs/op is the ensemble's
// allocations per create, client closures included, transport and wire
// decoding excluded (the hub carries peer.Message values):
//
//	go test ./zab/member -run '^$' -bench EnsembleCreate -benchtime 20000x
func BenchmarkEnsembleCreate(b *testing.B) {
	c := newCluster(b, 3)
	lead := c.leader()
	sid := session(b, lead)
	submit(b, lead, sid, create("/b", ""))
	type client struct {
		n   *testMember
		sid int64
	}
	var clients []client
	for _, id := range c.ids {
		n := c.nodes[id]
		for range 8 {
			clients = append(clients, client{n, session(b, n)})
		}
	}
	req := tree.Request{Op: tree.OpCreate, Path: "/b/n-", Data: make([]byte, 100), ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistentSequential}
	var left atomic.Int64
	left.Store(int64(b.N))
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan error, 1)
			answer := func(_ tree.Result, err error) { done <- err }
			for left.Add(-1) >= 0 {
				cl.n.Submit(cl.sid, req, answer)
				if err := <-done; err != nil {
					err = fmt.Errorf("member %d: %w", cl.n.id, err)
					failed.Store(&err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}
