package net

import (
	"fmt"
	"io"
	"log/slog"
	stdnet "net"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/tree"
)

func TestWriteBudgetFits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxCount int
		maxBytes int64
		count    int
		bytes, n int64
		want     bool
	}{
		{"empty lets anything in", 1, 10, 0, 0, 100, true},
		{"under both bounds", 3, 100, 2, 50, 50, true},
		{"count bound", 2, 100, 2, 10, 1, false},
		{"byte bound", 3, 100, 1, 60, 41, false},
		{"exactly at the byte bound", 3, 100, 1, 60, 40, true},
		{"no bounds", 0, 0, 1000, 1 << 40, 1 << 30, true},
	} {
		b := newWriteBudget(tc.maxCount, tc.maxBytes)
		b.count, b.bytes = tc.count, tc.bytes
		if got := b.fits(tc.n); got != tc.want {
			t.Errorf("%s: fits(%d) = %v, want %v", tc.name, tc.n, got, tc.want)
		}
	}
}

// A waiter is let in when room is released, and gives up when its
// connection closes (abandon) and the budget is woken.
func TestWriteBudgetWaitsAndAbandons(t *testing.T) {
	b := newWriteBudget(1, 0)
	if !b.acquire(10, func() bool { return false }) {
		t.Fatal("first acquire refused")
	}
	let := make(chan bool)
	go func() { let <- b.acquire(10, func() bool { return false }) }()
	waitUntil(t, "a waiter", func() bool { _, _, w := b.snapshot(); return w == 1 })
	b.release(10)
	if !<-let {
		t.Fatal("waiter not let in after release")
	}
	var mu sync.Mutex
	closed := false
	go func() {
		let <- b.acquire(10, func() bool { mu.Lock(); defer mu.Unlock(); return closed })
	}()
	waitUntil(t, "a second waiter", func() bool { _, _, w := b.snapshot(); return w == 1 })
	mu.Lock()
	closed = true
	mu.Unlock()
	b.wake()
	if <-let {
		t.Fatal("abandoned waiter let in")
	}
	if c, by, _ := b.snapshot(); c != 1 || by != 10 {
		t.Fatalf("budget holds %d writes, %d bytes; want 1, 10", c, by)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// serveLoopback serves srv on a free loopback port until the test ends
// and returns its address.
func serveLoopback(t *testing.T, srv *Server) string {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// quietLogger drops a test server's log.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// heldProc is a Processor whose writes are held until the test answers
// them; it records the most bytes it ever held at once.
type heldProc struct {
	wmu     sync.Mutex // guards watches, as the Processor contract asks
	watches *tree.Watches

	mu       sync.Mutex
	held     []func(tree.Result, error)
	bytes    int64 // request data bytes held
	maxBytes int64
	maxHeld  int
	sizes    []int64
	nextSID  SessionID
}

func (p *heldProc) CreateSession(_ time.Duration, _ string, _ bool, done func(SessionID, []byte, bool, error)) {
	p.mu.Lock()
	p.nextSID++
	sid := p.nextSID
	p.mu.Unlock()
	done(sid, make([]byte, 16), false, nil)
}
func (p *heldProc) ResumeSession(SessionID, []byte, time.Duration) (bool, bool, error) {
	return false, false, nil
}
func (p *heldProc) Touch(SessionID) bool { return true }
func (p *heldProc) CloseSession(_ SessionID, done func(tree.Result, error)) {
	done(tree.Result{}, nil)
}
func (p *heldProc) Submit(_ SessionID, req tree.Request, done func(tree.Result, error)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := int64(len(req.Data))
	p.held = append(p.held, done)
	p.sizes = append(p.sizes, n)
	p.bytes += n
	p.maxBytes = max(p.maxBytes, p.bytes)
	p.maxHeld = max(p.maxHeld, len(p.held))
}
func (p *heldProc) Read(_ SessionID, _ tree.WatcherID, _ tree.Request, answer func(tree.Result)) {
	answer(tree.Result{})
}
func (p *heldProc) Watches(fn func(*tree.Tree, *tree.Watches) []tree.Delivery) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	fn(tree.New(tree.Config{}), p.watches)
}
func (p *heldProc) LastZxid() int64 { return 0 }
func (p *heldProc) Status() Status  { return Status{Mode: "standalone"} }

// answerOne answers the oldest held write; false if none is held.
func (p *heldProc) answerOne() bool {
	p.mu.Lock()
	if len(p.held) == 0 {
		p.mu.Unlock()
		return false
	}
	done := p.held[0]
	p.held = p.held[1:]
	p.bytes -= p.sizes[0]
	p.sizes = p.sizes[1:]
	p.mu.Unlock()
	done(tree.Result{Stat: &tree.Stat{Version: 1}}, nil)
	return true
}

// Writes in flight are bounded by bytes, per connection and server-wide.
// Clients send 300 KiB setData requests, five at a time each; the
// processor holds every write until the test answers it. With a 700 KiB
// connection bound one client never has more than two submitted at once;
// with a 1 MiB server bound two clients never have more than three
// together. The readers wait (nothing is dropped) and every request is
// answered.
func TestWritesInFlightBoundedByBytes(t *testing.T) {
	const value = 300 << 10
	for _, tc := range []struct {
		name              string
		clients           int
		connMax, totalMax int64
		wantMax           int
	}{
		{"per connection", 1, 700 << 10, 64 << 20, 2},
		{"server-wide", 2, 64 << 20, 1 << 20, 3},
		{"server-wide and per connection", 3, 700 << 10, 1 << 20, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			held, bytes := throttledRun(t, tc.clients, 5, value, tc.connMax, tc.totalMax, tc.wantMax)
			if held > tc.wantMax || bytes > tc.totalMax {
				t.Fatalf("held up to %d writes, %d bytes at once; want at most %d writes, %d bytes", held, bytes, tc.wantMax, tc.totalMax)
			}
			if held < 2 {
				t.Fatalf("never more than %d write in flight: the test did not exercise the bound", held)
			}
		})
	}
}

// throttledRun runs clients x perConn setData requests of value bytes
// against a server with the given bounds and a processor that holds every
// write; it answers the oldest held write whenever wantMax are held (the
// most the bounds allow), when every request not yet answered is held, or
// when nothing new was submitted for two seconds (a reader may wait behind
// a ping for its own writes). It returns the most writes and bytes held at
// once.
func throttledRun(t *testing.T, clients, perConn, value int, connMax, totalMax int64, wantMax int) (maxHeld int, maxBytes int64) {
	proc := &heldProc{watches: tree.NewWatches()}
	srv := NewServer(Config{
		GlobalOutstandingBytes:  totalMax,
		MaxConnOutstandingBytes: connMax,
		Logger:                  quietLogger(),
	}, proc)
	addr := serveLoopback(t, srv)
	defer func() { // on failure, let the server's connections finish
		for proc.answerOne() {
		}
	}()

	total := clients * perConn
	errs := make(chan error, total)
	for c := range clients {
		conn, _, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(discardLogger{}))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		for i := range perConn {
			go func() {
				_, err := conn.Set(fmt.Sprintf("/c%d-%d", c, i), make([]byte, value), -1)
				errs <- err
			}()
		}
	}
	answered, issued, lastHeld, lastChange := 0, 0, -1, time.Now()
	deadline := time.Now().Add(60 * time.Second)
	for answered < total {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("setData: %v", err)
			}
			answered++
			continue
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes answered in 60 s", answered, total)
		}
		proc.mu.Lock()
		held := len(proc.held)
		proc.mu.Unlock()
		if held != lastHeld {
			lastHeld, lastChange = held, time.Now()
		}
		unsubmitted := total - issued - held
		if held > 0 && (held >= wantMax || unsubmitted == 0 || time.Since(lastChange) > 2*time.Second) {
			proc.answerOne()
			issued++
			lastHeld = -1
			continue
		}
		time.Sleep(time.Millisecond)
	}
	proc.mu.Lock()
	maxHeld, maxBytes = proc.maxHeld, proc.maxBytes
	proc.mu.Unlock()
	if c, b, _ := srv.budget.snapshot(); c != 0 || b != 0 {
		t.Fatalf("budget holds %d writes, %d bytes after every answer", c, b)
	}
	return maxHeld, maxBytes
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
