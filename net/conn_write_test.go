package net

import (
	"encoding/binary"
	"io"
	"log/slog"
	stdnet "net"
	"sync"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client stdnet.Conn) {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan stdnet.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	client, err = stdnet.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func quietServer(maxOutbound int) *Server {
	return NewServer(Config{
		MaxOutboundBytes: maxOutbound,
		Logger:           slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, nil)
}

// numbered is a frame of size bytes whose first 8 bytes are seq; the rest
// is a pattern derived from seq, so a torn or reordered frame shows.
func numbered(seq uint64, size int) []byte {
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b, seq)
	for i := 8; i < size; i++ {
		b[i] = byte(seq*31 + uint64(i))
	}
	return b
}

// TestEnqueueOrderAcrossPartialWrites fills the socket while the client is
// not reading, so inline writes come back short and the writer goroutine
// takes over mid-frame, with other goroutines enqueueing meanwhile (as the
// applier and the reader do). Every frame must arrive whole, and each
// producer's frames in the order it enqueued them.
func TestEnqueueOrderAcrossPartialWrites(t *testing.T) {
	sc, cc := tcpPair(t)
	c := newConn(quietServer(0), sc, 1, "127.0.0.1")
	if inlineWrites && c.tryWrite == nil {
		t.Fatal("a TCP conn should take the inline write path")
	}
	wdone := make(chan struct{})
	go c.writeLoop(wdone)

	// 4 x 150 x 16 KiB = 9.6 MB: far more than the socket buffers hold.
	const producers, perProducer, size = 4, 150, 16 << 10
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				c.enqueue(numbered(uint64(p)<<32|uint64(i), size))
			}
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the socket fill up first
	cc.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, size)
	next := make([]uint64, producers)
	for n := range producers * perProducer {
		if _, err := io.ReadFull(cc, buf); err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		seq := binary.BigEndian.Uint64(buf)
		p, i := seq>>32, seq&(1<<32-1)
		if p >= producers || string(buf) != string(numbered(seq, size)) {
			t.Fatalf("frame %d arrived torn (starts with producer %d seq %d)", n, p, i)
		}
		if i != next[p] {
			t.Fatalf("frame %d: producer %d's frame %d arrived, want its frame %d", n, p, i, next[p])
		}
		next[p]++
	}
	wg.Wait()
	// The writer counts a batch once its write returns, which may be just
	// after the client read the batch's last byte: wait for the count.
	sent := func() uint64 {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sent
	}
	for deadline := time.Now().Add(10 * time.Second); sent() != producers*perProducer && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := sent(); got != producers*perProducer {
		t.Errorf("sent counter %d, want %d", got, producers*perProducer)
	}
	c.closeWith("test over")
	<-wdone
}

// TestOutboundLimitClosesSlowReader: a client that reads nothing is cut
// off once its unsent bytes pass MaxOutboundBytes, and says why.
func TestOutboundLimitClosesSlowReader(t *testing.T) {
	sc, cc := tcpPair(t)
	c := newConn(quietServer(1<<20), sc, 1, "127.0.0.1")
	wdone := make(chan struct{})
	go c.writeLoop(wdone)
	for i := range 2000 { // 32 MB, never read
		c.enqueue(numbered(uint64(i), 16<<10))
		if c.isClosing() {
			break
		}
	}
	select {
	case <-wdone:
	case <-time.After(10 * time.Second):
		t.Fatal("writer still running 10s after the outbound limit was passed")
	}
	if r := c.reasonOr(""); r == "" || !c.isClosing() {
		t.Fatalf("connection not closed for its outbound queue (reason %q)", r)
	}
	cc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, cc); err != nil {
		t.Fatalf("client should see the connection end, got %v", err)
	}
}

// TestPartialInlineWriteGoesFirst: when an inline write is cut short while
// other messages were queued behind it, the unsent rest of that message
// goes out before them.
func TestPartialInlineWriteGoesFirst(t *testing.T) {
	sc, cc := tcpPair(t)
	c := newConn(quietServer(0), sc, 1, "127.0.0.1")
	inWrite, release := make(chan struct{}), make(chan struct{})
	c.tryWrite = func(b []byte) (int, error) {
		close(inWrite)
		<-release
		n, err := sc.Write(b[:3]) // the kernel took only 3 bytes
		return n, err
	}
	wdone := make(chan struct{})
	go c.writeLoop(wdone)
	first := make(chan struct{})
	go func() { c.enqueue([]byte("first-message;")); close(first) }()
	<-inWrite
	c.enqueue([]byte("second;")) // queued while the first is being written
	c.enqueue([]byte("third;"))
	close(release)
	<-first
	want := "first-message;second;third;"
	got := make([]byte, len(want))
	cc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(cc, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("client read %q, want %q", got, want)
	}
	c.closeWith("test over")
	<-wdone
}
