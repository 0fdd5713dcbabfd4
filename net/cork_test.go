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
