package net

import (
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/tree"
)

// TestRepliesHeldWhileBatching: writes answered between Batching(true) and
// Batching(false) wait in their connection's queue, in order, and all go
// out when the batch ends; with no batch, an answer goes out at once.
func TestRepliesHeldWhileBatching(t *testing.T) {
	proc := &heldProc{watches: tree.NewWatches()}
	srv := NewServer(Config{Logger: quietLogger()}, proc)
	c, _, err := zk.Connect([]string{serveLoopback(t, srv)}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	answered := make(chan string, 4)
	set := func(path string) {
		defer wg.Done()
		if _, err := c.Set(path, []byte("v"), -1); err != nil {
			t.Errorf("set %s: %v", path, err)
		}
		answered <- path
	}
	wg.Add(3)
	for _, p := range []string{"/a", "/b", "/c"} {
		go set(p)
	}
	waitUntil(t, "three writes held", func() bool { proc.mu.Lock(); defer proc.mu.Unlock(); return len(proc.held) == 3 })

	srv.Batching(true)
	for range 3 {
		proc.answerOne()
	}
	srv.mu.Lock()
	var conn *conn
	for _, cn := range srv.conns {
		conn = cn
	}
	srv.mu.Unlock()
	conn.mu.Lock()
	queued := len(conn.out)
	conn.mu.Unlock()
	if queued != 3 {
		t.Fatalf("%d replies queued while batching, want the 3 answered", queued)
	}
	if len(answered) != 0 {
		t.Fatalf("a reply reached the client before the batch ended")
	}
	srv.Batching(false)
	wg.Wait()
	if len(answered) != 3 {
		t.Fatalf("%d of 3 writes answered after the batch", len(answered))
	}

	// Outside a batch an answer is written at once.
	wg.Add(1)
	go set("/d")
	waitUntil(t, "the fourth write held", func() bool { proc.mu.Lock(); defer proc.mu.Unlock(); return len(proc.held) == 1 })
	proc.answerOne()
	wg.Wait()
	conn.mu.Lock()
	queued = len(conn.out)
	conn.mu.Unlock()
	if queued != 0 {
		t.Errorf("%d replies left queued outside a batch", queued)
	}
}

// TestJoinedRepliesReuseTheirBuffers: flushOut joins a batch's replies
// into a buffer it keeps for the next batch, and keeps the emptied queue
// array too, so a flush allocates nothing; a buffer the socket took only
// part of is given up, its rest written first and intact, never joined
// over, and counted as the frames it holds. Before, each flush of
// several replies allocated both, and the rest of a short write counted
// as one frame however many it held.
func TestJoinedRepliesReuseTheirBuffers(t *testing.T) {
	sc, _ := tcpPair(t)
	srv := quietServer(0)
	c := newConn(srv, sc, 1, "127.0.0.1")
	var got []byte
	take := -1 // bytes the next write takes; -1: all
	c.tryWrite = func(b []byte) (int, error) {
		n := len(b)
		if take >= 0 {
			n, take = take, -1
		}
		got = append(got, b[:n]...)
		return n, nil
	}
	batch := func(frames ...string) {
		srv.Batching(true)
		for _, f := range frames {
			c.enqueueReply(append(newFrameBuf(), f...))
		}
		srv.Batching(false)
	}
	batch("a1;", "a2;")
	kept, keptQueue := c.joined, c.spareOut
	if cap(kept) == 0 || cap(keptQueue) == 0 {
		t.Fatalf("after a flush: joined cap %d, spare queue cap %d; want both kept", cap(kept), cap(keptQueue))
	}
	batch("a3;", "a4;")
	if &c.joined[:1][0] != &kept[:1][0] || &c.spareOut[:1][0] != &keptQueue[:1][0] {
		t.Fatalf("the second flush did not join into the kept buffer and queue the kept array")
	}
	take = 2 // the socket takes "b1" only
	batch("b1;", "b2;")
	if c.joined != nil || len(c.out) != 2 || string(c.out[0]) != ";" || string(c.out[1]) != "b2;" {
		t.Fatalf("after a short write: joined %q kept, queue %q; want the buffer given up and its rest queued frame by frame", c.joined, c.out)
	}
	batch("c1;", "c2;") // joins the rest of b with c, in a new buffer
	if want := "a1;a2;a3;a4;b1;b2;c1;c2;"; string(got) != want {
		t.Fatalf("written %q, want %q", got, want)
	}
	if c.sent != 8 {
		t.Errorf("sent counter %d, want 8", c.sent)
	}
	// Steady state: nothing allocated but what the race detector's pool
	// drops (a quarter of the frame buffers put back); before, two per flush.
	got = got[:0:0]
	if allocs := testing.AllocsPerRun(200, func() { batch("d1;", "d2;"); got = got[:0] }); allocs > 1 {
		t.Errorf("a flush of two replies allocated %.2f times, want at most 1", allocs)
	}
}
