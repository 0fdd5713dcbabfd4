package member

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"zabd/engine"
	"zabd/log"
	"zabd/tree"
	"zabd/zab/peer"
)

func TestWritesWithSynchronousAppends(t *testing.T) {
	writesReachEveryMember(t, newClusterOpts(t, 3, 0, newHub(), func(c *cluster) { c.syncAppends = true }))
}

// gatedEngine holds the outcome of appends, asynchronous or not, while
// hold is set (the write goes through; its caller hears of it on
// release), or fails asynchronous ones while fail is set.
type gatedEngine struct {
	engine.Full
	mu     sync.Mutex
	fail   error
	gate   chan struct{} // non-nil while holding; closed by release
	called chan struct{} // one per append held or failed
}

func newGated(e engine.Full) *gatedEngine {
	return &gatedEngine{Full: e, called: make(chan struct{}, 1024)}
}

func (g *gatedEngine) AppendAsync(recs []log.Record) <-chan error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail != nil {
		ch := make(chan error, 1)
		ch <- g.fail
		g.called <- struct{}{}
		return ch
	}
	inner := g.Full.AppendAsync(recs)
	if g.gate == nil {
		return inner
	}
	out, gate := make(chan error, 1), g.gate
	go func() {
		err := <-inner
		<-gate
		out <- err
	}()
	g.called <- struct{}{}
	return out
}

func (g *gatedEngine) Append(ctx context.Context, recs []log.Record) error {
	err := g.Full.Append(ctx, recs)
	g.mu.Lock()
	gate := g.gate
	if gate != nil {
		g.called <- struct{}{}
	}
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return err
}

func (g *gatedEngine) set(hold bool, fail error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.fail = fail
	if hold && g.gate == nil {
		g.gate = make(chan struct{})
	}
	for len(g.called) > 0 {
		<-g.called
	}
}

// release lets every held append's outcome through and holds no more.
func (g *gatedEngine) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func (g *gatedEngine) waitCalled(t *testing.T) {
	t.Helper()
	select {
	case <-g.called:
	case <-time.After(20 * time.Second):
		t.Fatal("the member did not append within 20s")
	}
}

func gatedCluster(t *testing.T, set func(*cluster)) (*cluster, map[peer.ID]*gatedEngine) {
	gated := map[peer.ID]*gatedEngine{}
	var mu sync.Mutex
	c := newClusterOpts(t, 3, 0, newHub(), func(c *cluster) {
		c.wrap = func(id peer.ID, e engine.Full) engine.Full {
			mu.Lock()
			defer mu.Unlock()
			g := newGated(e)
			gated[id] = g
			return g
		}
		set(c)
	})
	return c, gated
}

// A follower acknowledges a proposal only once its own append is
// durable: with both followers' appends held, a write through the leader
// is not answered; releasing one follower's lets it commit.
func TestFollowerAcksOnlyDurableAppends(t *testing.T) {
	c, gated := gatedCluster(t, func(*cluster) {})
	lead := c.leader()
	sid := session(t, lead)
	submit(t, lead, sid, create("/before", "x")) // the session is in place everywhere
	var fs []peer.ID
	for _, id := range c.ids {
		if id != lead.id {
			fs = append(fs, id)
			gated[id].set(true, nil)
		}
	}
	done := make(chan answer, 1)
	lead.Submit(sid, create("/held", "y"), func(res tree.Result, err error) { done <- answer{res, err} })
	for _, id := range fs {
		gated[id].waitCalled(t)
	}
	// Both followers have the proposal and neither has it durably: only
	// the leader does, which is no quorum. (Were an ACK sent early, the
	// answer could already be here.)
	select {
	case a := <-done:
		t.Fatalf("write answered (%v, %v) while no follower had it durably", a.res.Err, a.err)
	default:
	}
	gated[fs[0]].release()
	select {
	case a := <-done:
		if a.err != nil || a.res.Err != tree.CodeOK {
			t.Fatalf("write after one follower's append is durable: %v %v", a.res.Err, a.err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("write not answered within 20s of a follower's append becoming durable")
	}
	gated[fs[1]].release()
	if res := read(t, c.nodes[fs[1]], session(t, c.nodes[fs[1]]), "/held"); res.Err != tree.CodeOK || string(res.Data) != "y" {
		t.Fatalf("the second follower reads /held: %v %q", res.Err, res.Data)
	}
}

// A failed asynchronous append stops the member as a failed synchronous
// one does; the ensemble goes on with the other two.
func TestAsyncAppendFailureStopsTheMember(t *testing.T) {
	failed := make(chan error, 4)
	var victim peer.ID
	c, gated := gatedCluster(t, func(c *cluster) {
		c.fatal = func(id peer.ID, err error) {
			if id != victim {
				t.Errorf("member %d: storage failed: %v", id, err)
				return
			}
			failed <- err
		}
	})
	lead := c.leader()
	victim = c.follower().id
	sid := session(t, lead)
	diskErr := errors.New("injected: fdatasync failed")
	gated[victim].set(false, diskErr)
	if res := submit(t, lead, sid, create("/a", "1")); res.Err != tree.CodeOK {
		t.Fatalf("create with one follower failing: %v", res.Err)
	}
	select {
	case err := <-failed:
		if !errors.Is(err, diskErr) {
			t.Fatalf("member %d failed with %v, want the injected error", victim, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("member %d did not stop on its failed append within 20s", victim)
	}
}

// A proposal queued for the loop and not yet taken when the epoch ends is
// answered by endProposals (the leader's pipeline waits for every answer
// before it closes); one submitted after is answered at once; other
// inputs stay queued.
func TestProposalsQueuedWhenTheEpochEndsAreAnswered(t *testing.T) {
	m := &Member{kick: make(chan struct{}, 1)}
	gate := &proposalGate{}
	m.gate = gate
	r := replicator{m: m, gate: gate}
	queued := make(chan error, 1)
	r.AppendAsyncInto([]log.Record{{Zxid: log.MakeZxid(2, 1), Data: []byte("x")}}, queued)
	m.enqueue(input{kind: inLost, peer: 3})
	select {
	case err := <-queued:
		t.Fatalf("answered before the epoch ended: %v", err)
	default:
	}
	m.endProposals(errEpochEnded)
	if err := <-queued; !errors.Is(err, errEpochEnded) {
		t.Errorf("queued proposal: %v, want %v", err, errEpochEnded)
	}
	if len(m.inputs) != 1 || m.inputs[0].kind != inLost {
		t.Errorf("inputs left: %+v, want the inLost alone", m.inputs)
	}
	late := make(chan error, 1)
	r.AppendAsyncInto([]log.Record{{Zxid: log.MakeZxid(2, 2), Data: []byte("y")}}, late)
	if err := <-late; !errors.Is(err, errEpochEnded) {
		t.Errorf("proposal after the end: %v, want %v", err, errEpochEnded)
	}
	if len(m.inputs) != 1 {
		t.Errorf("a proposal after the end was queued: %+v", m.inputs)
	}
}
