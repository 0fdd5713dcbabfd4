//go:build unix

package net

import (
	"encoding/binary"
	"errors"
	"io"
	stdnet "net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// theConn returns the server's one client connection.
func theConn(t *testing.T, srv *Server) *conn {
	t.Helper()
	var cs []*conn
	waitUntil(t, "the connection is registered", func() bool {
		cs = srv.connections()
		return len(cs) == 1
	})
	return cs[0]
}

// getDataFrame is a framed getData request for path with xid.
func getDataFrame(xid int32, path string) []byte {
	return jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Op: tree.OpGetData}, tree.Request{Path: path}))
}

// readReplies reads n replies and checks they answer xids first..first+n-1
// in order.
func readReplies(t *testing.T, c *rawClient, first int32, n int) {
	t.Helper()
	for i := range int32(n) {
		reply, err := jute.ReadFrame(c.br, 1<<20, nil)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if got := int32(binary.BigEndian.Uint32(reply)); got != first+i {
			t.Fatalf("reply to xid %d, want %d", got, first+i)
		}
	}
}

// A client with one request outstanding costs one read(2) per request:
// after a read that came back short the reader waits for the socket
// instead of trying a read that finds nothing (Go's Read would: two per
// request).
func TestRawReaderOneReadPerRequest(t *testing.T) {
	proc := &fixedReadProc{heldProc: heldProc{watches: tree.NewWatches()}, data: make([]byte, 100)}
	srv := NewServer(Config{Logger: quietLogger()}, proc)
	addr := serveLoopback(t, srv)
	c := newSession(t, addr)
	sc := theConn(t, srv)
	if sc.rawRead == nil {
		t.Fatal("a plain TCP connection is not read raw")
	}
	const n = 500
	before := sc.rawReads.Load()
	for xid := int32(1); xid <= n; xid++ {
		if _, err := c.nc.Write(getDataFrame(xid, "/a")); err != nil {
			t.Fatal(err)
		}
		readReplies(t, c, xid, 1)
	}
	reads := sc.rawReads.Load() - before
	t.Logf("%d read(2) calls for %d requests", reads, n)
	// A spurious wake-up (an edge the poller saw late) costs one read
	// that finds nothing; allow a few.
	if reads > n+n/10 {
		t.Errorf("%d read(2) calls for %d requests one at a time, want about one each", reads, n)
	}
}

// Requests split across many segments, many in one segment, and one
// larger than the reader's buffer are each answered once, in order.
func TestRawReaderFraming(t *testing.T) {
	proc := &fixedReadProc{heldProc: heldProc{watches: tree.NewWatches()}, data: []byte("v")}
	srv := NewServer(Config{Logger: quietLogger()}, proc)
	addr := serveLoopback(t, srv)
	c := newSession(t, addr)

	// One byte per write.
	for _, b := range getDataFrame(1, "/split") {
		if _, err := c.nc.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	readReplies(t, c, 1, 1)

	// Fifty in one write, the last one cut in two.
	var batch []byte
	for xid := int32(2); xid < 52; xid++ {
		batch = append(batch, getDataFrame(xid, "/batch")...)
	}
	if _, err := c.nc.Write(batch[:len(batch)-3]); err != nil {
		t.Fatal(err)
	}
	readReplies(t, c, 2, 49)
	if _, err := c.nc.Write(batch[len(batch)-3:]); err != nil {
		t.Fatal(err)
	}
	readReplies(t, c, 51, 1)

	// Larger than the buffer (a long path), then small ones behind it
	// in the same write.
	big := getDataFrame(52, "/"+strings.Repeat("p", 3*rawReadBuf))
	big = append(big, getDataFrame(53, "/after")...)
	big = append(big, getDataFrame(54, "/after")...)
	go c.nc.Write(big) // the server's reads drain the socket meanwhile
	readReplies(t, c, 52, 3)
}

// A connection whose reader waits inside RawConn.Read is closed from
// another goroutine (the server shutting down) and from the reader itself
// (a session the processor says expired): neither waits on the other.
func TestRawReaderCloses(t *testing.T) {
	t.Run("server shutdown while the reader waits", func(t *testing.T) {
		srv := NewServer(Config{Logger: quietLogger()}, &heldProc{watches: tree.NewWatches()})
		addr := serveLoopback(t, srv)
		c := newSession(t, addr)
		theConn(t, srv)
		closed := make(chan struct{})
		go func() {
			srv.Close()
			close(closed)
		}()
		if _, err := jute.ReadFrame(c.br, 1<<20, nil); !errors.Is(err, io.EOF) {
			t.Errorf("after the server closed: %v, want EOF", err)
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("Server.Close did not return")
		}
	})
	t.Run("the reader closes its own connection", func(t *testing.T) {
		proc := &expiringProc{heldProc: heldProc{watches: tree.NewWatches()}}
		srv := NewServer(Config{Logger: quietLogger()}, proc)
		addr := serveLoopback(t, srv)
		c := newSession(t, addr)
		theConn(t, srv)
		proc.expired.Store(true)
		if _, err := c.nc.Write(getDataFrame(1, "/a")); err != nil {
			t.Fatal(err)
		}
		for {
			_, err := jute.ReadFrame(c.br, 1<<20, nil)
			if err == nil {
				continue // an answer may go out before the close
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after the session expired: %v, want EOF", err)
			}
			break
		}
		waitUntil(t, "the connection is forgotten", func() bool { return len(srv.connections()) == 0 })
	})
}

// expiringProc says every session expired once expired is set.
type expiringProc struct {
	heldProc
	expired atomic.Bool
}

func (p *expiringProc) Touch(SessionID) bool { return !p.expired.Load() }

// abort on a socket the client reset, called from inside the read
// callback (the reader answering a request whose reply write failed):
// shutdown(2) fails there (ENOTCONN), and a Close in its place would wait
// for the read lock the caller holds, for ever.
func TestAbortInsideTheReadCallbackOfAResetSocket(t *testing.T) {
	server, client := tcpPair(t)
	c := newConn(quietServer(1<<20), server, 1, "127.0.0.1")
	if c.rawRead == nil {
		t.Fatal("a plain TCP connection is not read raw")
	}
	client.(*stdnet.TCPConn).SetLinger(0)
	client.Close() // a reset
	// Wait until the reset has reached the server's socket.
	var readErr error
	buf := make([]byte, 64)
	c.rawRead.Read(func(fd uintptr) bool {
		_, readErr = syscall.Read(int(fd), buf)
		return readErr != syscall.EAGAIN
	})
	var shutErr error
	c.rawRead.Control(func(fd uintptr) { shutErr = shutdownBoth(fd) })
	t.Logf("read after the reset: %v; shutdown: %v", readErr, shutErr)
	if shutErr == nil {
		t.Fatal("shutdown of a reset socket succeeded: this test no longer covers a failing one")
	}
	done := make(chan struct{})
	go func() {
		c.rawRead.Read(func(uintptr) bool {
			c.abort()
			return true
		})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("abort inside the read callback did not return")
	}
}
