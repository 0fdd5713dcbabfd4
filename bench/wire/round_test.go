//go:build unix

package wire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// TestFlushAndWaitRoundTrips drives closed-loop rounds through
// FlushAndWait against a server that answers in the ways that take its
// different paths: at once, in two writes with the frame split (the
// second read after a wait), with a notification the client had not read
// before the round began, with a reply larger than the read buffer, and
// with two replies in one write.
func TestFlushAndWaitRoundTrips(t *testing.T) {
	big := bytes.Repeat([]byte("z"), 3*readBufSize+17)
	notified := make(chan struct{})
	addr := fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		if !accept(t, r, w, 0x55) {
			return
		}
		for i := int32(1); i <= 50; i++ { // one request a round, answered at once
			if xid, _, _ := request(t, r); xid != i {
				t.Errorf("server: xid %d, want %d", xid, i)
				return
			}
			reply(w, i, int64(i), tree.CodeOK, []byte("at once"))
		}
		// Round 51: the reply in two writes, split inside its header.
		request(t, r)
		var b bytes.Buffer
		reply(&b, 51, 51, tree.CodeOK, []byte("split"))
		w.Write(b.Bytes()[:9])
		time.Sleep(5 * time.Millisecond) // lets the client read the first part alone, most of the time
		w.Write(b.Bytes()[9:])
		// Round 52: a notification is sent before the request, and the
		// client starts the round without having read it.
		reply(w, -1, -1, tree.CodeOK, []byte("event"))
		close(notified)
		request(t, r)
		reply(w, 52, 52, tree.CodeOK, []byte("after the event"))
		// Round 53: a reply larger than the read buffer.
		request(t, r)
		reply(w, 53, 53, tree.CodeOK, big)
		// Round 54: two requests, both replies in one write.
		request(t, r)
		request(t, r)
		b.Reset()
		reply(&b, 54, 54, tree.CodeOK, []byte("first"))
		reply(&b, 55, 55, tree.CodeNoNode, nil)
		w.Write(b.Bytes())
		request(t, r) // closeSession
		reply(w, 56, 56, tree.CodeOK, nil)
	})
	c := dial(t, addr)
	round := func(want ...Reply) {
		t.Helper()
		for range want {
			c.QueueBody(tree.OpGetData, []byte("/n"))
		}
		if err := c.FlushAndWait(); err != nil {
			t.Fatalf("FlushAndWait: %v", err)
		}
		if !c.Buffered() {
			t.Fatal("FlushAndWait returned without a whole reply buffered")
		}
		for _, w := range want {
			r, err := c.ReadReply()
			if err != nil {
				t.Fatalf("ReadReply: %v", err)
			}
			if r.Xid != w.Xid || r.Zxid != w.Zxid || r.Err != w.Err || !bytes.Equal(r.Body, w.Body) {
				t.Fatalf("reply xid %d zxid %d err %v body %d bytes, want xid %d zxid %d err %v body %d bytes",
					r.Xid, r.Zxid, r.Err, len(r.Body), w.Xid, w.Zxid, w.Err, len(w.Body))
			}
		}
	}
	for i := int32(1); i <= 50; i++ {
		round(Reply{i, int64(i), tree.CodeOK, []byte("at once")})
	}
	round(Reply{51, 51, tree.CodeOK, []byte("split")})
	<-notified
	round(Reply{52, 52, tree.CodeOK, []byte("after the event")})
	round(Reply{53, 53, tree.CodeOK, big})
	round(Reply{54, 54, tree.CodeOK, []byte("first")}, Reply{55, 55, tree.CodeNoNode, nil})
	if err := c.Close(false); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestFlushAndWaitEndsWithTheConnection: a round waiting for a reply that
// never comes ends with an error when Close runs on another goroutine, and
// when the server hangs up.
func TestFlushAndWaitEndsWithTheConnection(t *testing.T) {
	got := make(chan struct{})
	release := make(chan struct{})
	addr := fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		if !accept(t, r, w, 0x56) {
			return
		}
		request(t, r)
		close(got)
		<-release
	})
	c := dial(t, addr)
	c.QueueBody(tree.OpGetData, nil)
	done := make(chan error, 1)
	go func() { done <- c.FlushAndWait() }()
	<-got // the request was written: the round is in (or near) its wait
	closed := make(chan error, 1)
	go func() { closed <- c.Close(true) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("FlushAndWait succeeded on a connection closed under it")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FlushAndWait still waiting 10 s after Close")
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
	close(release)

	addr = fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		accept(t, r, w, 0x57)
		request(t, r)
	}) // and hangs up
	c = dial(t, addr)
	defer c.Close(true)
	c.QueueBody(tree.OpGetData, nil)
	if err := c.FlushAndWait(); err == nil {
		t.Fatal("FlushAndWait succeeded on a connection the server closed")
	}
}

// TestRoundAllocatesNothing: a closed-loop round (queue, FlushAndWait,
// ReadReply) allocates nothing once its buffers have grown.
func TestRoundAllocatesNothing(t *testing.T) {
	addr := answeringServer(t, 0x58, []byte("value"))
	c := dial(t, addr)
	defer c.Close(true)
	body := []byte("/some/path\x00")
	roundTrip := func() {
		c.QueueBody(tree.OpGetData, body)
		if err := c.FlushAndWait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ReadReply(); err != nil {
			t.Fatal(err)
		}
	}
	roundTrip()
	if n := testing.AllocsPerRun(200, roundTrip); n != 0 {
		t.Errorf("a round allocates %.1f times", n)
	}
}

// TestFlushAndWaitFindsRepliesThatArrivedBefore: a reply that arrived
// while the caller was busy, before FlushAndWait began, is returned at
// once. The poller may already have reported it, and RawConn.Read forgets
// that, so a round that waited before reading would sit until the next
// reply: here the server holds that one back until FlushAndWait returns,
// so such a round would never end.
func TestFlushAndWaitFindsRepliesThatArrivedBefore(t *testing.T) {
	read1 := make(chan struct{})
	sent2 := make(chan struct{})
	returned := make(chan struct{})
	addr := fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		if !accept(t, r, w, 0x59) {
			return
		}
		request(t, r)
		request(t, r)
		reply(w, 1, 1, tree.CodeOK, []byte("one"))
		<-read1
		reply(w, 2, 2, tree.CodeOK, []byte("two"))
		close(sent2)
		request(t, r)
		<-returned
		reply(w, 3, 3, tree.CodeOK, []byte("three"))
		jute.ReadFrame(r, 1<<20, nil) // closeSession, or EOF
	})
	c := dial(t, addr)
	var once sync.Once
	release := func() { once.Do(func() { close(returned) }) }
	defer func() { release(); c.Close(true) }()
	c.QueueBody(tree.OpGetData, nil)
	c.QueueBody(tree.OpGetData, nil)
	if err := c.FlushAndWait(); err != nil {
		t.Fatal(err)
	}
	if r, err := c.ReadReply(); err != nil || r.Xid != 1 {
		t.Fatalf("ReadReply: xid %d, %v; want 1", r.Xid, err)
	}
	close(read1)
	<-sent2
	// Busy long enough that the poller has seen reply 2 arrive, most of
	// the time (the test passes either way when the code is right).
	time.Sleep(20 * time.Millisecond)
	c.QueueBody(tree.OpGetData, nil)
	done := make(chan error, 1)
	go func() { done <- c.FlushAndWait() }()
	select {
	case err := <-done:
		release()
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		release()
		t.Fatal("FlushAndWait waited for reply 3 while reply 2 sat unread in the socket")
	}
	for _, want := range []int32{2, 3} {
		if r, err := c.ReadReply(); err != nil || r.Xid != want {
			t.Fatalf("ReadReply: xid %d, %v; want %d", r.Xid, err, want)
		}
	}
}

// TestFlushAndWaitWithAWindow runs the generator's closed loop with 64
// requests outstanding and 4 KiB replies, pausing before each flush so
// replies pile up unread: every round must end (a round that waited
// before reading could wait forever once the unread replies filled the
// socket's window).
func TestFlushAndWaitWithAWindow(t *testing.T) {
	const total, window = 3000, 64
	body := bytes.Repeat([]byte("r"), 4096)
	addr := answeringServer(t, 0x5a, body)
	c := dial(t, addr)
	defer c.Close(true)
	done := make(chan error, 1)
	go func() {
		sent, got := 0, 0
		for got < total {
			for sent < total && sent-got < window {
				c.QueueBody(tree.OpGetData, nil)
				sent++
			}
			time.Sleep(200 * time.Microsecond) // busy elsewhere: replies arrive unread
			if err := c.FlushAndWait(); err != nil {
				done <- err
				return
			}
			for {
				r, err := c.ReadReply()
				if err != nil {
					done <- err
					return
				}
				if got++; r.Xid != int32(got) || len(r.Body) != len(body) {
					done <- fmt.Errorf("reply xid %d with %d bytes, want xid %d with %d", r.Xid, len(r.Body), got, len(body))
					return
				}
				if got == sent || !c.Buffered() {
					break
				}
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the closed loop stalled: a round is waiting with replies unread")
	}
}

// answeringServer grants session sid and answers every request with an
// OK reply carrying body, allocating nothing per request (AllocsPerRun
// counts every goroutine): one read buffer, one reply frame with each
// request's xid patched in.
func answeringServer(t *testing.T, sid int64, body []byte) string {
	return fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		if !accept(t, r, w, sid) {
			return
		}
		in := make([]byte, 0, 256)
		var out bytes.Buffer
		reply(&out, 0, 1, tree.CodeOK, body)
		for {
			frame, err := jute.ReadFrame(r, 1<<20, in[:0])
			if err != nil || len(frame) < 8 {
				return // the client closed
			}
			binary.BigEndian.PutUint32(out.Bytes()[4:], binary.BigEndian.Uint32(frame))
			if _, err := w.Write(out.Bytes()); err != nil {
				return
			}
		}
	})
}
