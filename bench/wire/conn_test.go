package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// fakeServer accepts one connection and hands it to serve, which talks
// jute frames to the client under test.
func fakeServer(t *testing.T, serve func(r *bufio.Reader, w net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(bufio.NewReader(c), c)
	}()
	return l.Addr().String()
}

// accept reads the connect request and grants session 0x1234.
func accept(t *testing.T, r *bufio.Reader, w net.Conn, sessionID int64) bool {
	frame, err := jute.ReadFrame(r, 1<<20, nil)
	if err != nil {
		t.Errorf("server: reading connect request: %v", err)
		return false
	}
	req, err := jute.DecodeConnectRequest(frame)
	if err != nil || req.TimeOut != 6000 || req.SessionID != 0 {
		t.Errorf("server: connect request %+v, %v; want a new session asking for 6000 ms", req, err)
		return false
	}
	resp := jute.AppendConnectResponse(nil, jute.ConnectResponse{TimeOut: 4000, SessionID: sessionID, Passwd: make([]byte, 16)})
	_, err = w.Write(jute.AppendFrame(nil, resp))
	return err == nil
}

// reply writes a reply header and body.
func reply(w io.Writer, xid int32, zxid int64, code tree.Code, body []byte) {
	b := jute.AppendReplyHeader(nil, jute.ReplyHeader{Xid: xid, Zxid: zxid, Err: code})
	_, _ = w.Write(jute.AppendFrame(nil, append(b, body...)))
}

// request reads one request frame: its xid, op and body.
func request(t *testing.T, r *bufio.Reader) (int32, tree.Op, []byte) {
	frame, err := jute.ReadFrame(r, 1<<20, nil)
	if err != nil || len(frame) < 8 {
		t.Errorf("server: reading request: %v (%d bytes)", err, len(frame))
		return 0, 0, nil
	}
	return int32(binary.BigEndian.Uint32(frame)), tree.Op(int32(binary.BigEndian.Uint32(frame[4:]))), frame[8:]
}

func dial(t *testing.T, addr string) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, 6*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPipelinedRequestsAreAnsweredInOrder: three requests go out in one
// flush with xids 1..3; a ping reply and a notification in between are
// consumed; replies come back in order with their codes and bodies; Close
// sends closeSession and waits for its answer.
func TestPipelinedRequestsAreAnsweredInOrder(t *testing.T) {
	closed := make(chan struct{})
	addr := fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		if !accept(t, r, w, 0x1234) {
			return
		}
		wantOps := []tree.Op{tree.OpGetData, tree.OpSetData, tree.OpExists}
		for i, want := range wantOps {
			xid, op, body := request(t, r)
			if xid != int32(i+1) || op != want || string(body) != "body" {
				t.Errorf("server: request %d: xid %d op %d body %q, want xid %d op %d body \"body\"", i, xid, op, body, i+1, want)
			}
		}
		xid, op, _ := request(t, r)
		if xid != -2 || op != tree.OpPing {
			t.Errorf("server: got xid %d op %d, want a ping", xid, op)
		}
		reply(w, -2, 0, tree.CodeOK, nil)
		reply(w, -1, -1, tree.CodeOK, []byte("notification body"))
		reply(w, 1, 10, tree.CodeOK, []byte("data"))
		reply(w, 2, 11, tree.CodeBadVersion, nil)
		reply(w, 3, 11, tree.CodeNoNode, nil)
		xid, op, _ = request(t, r)
		if xid != 4 || op != tree.OpCloseSession {
			t.Errorf("server: got xid %d op %d, want closeSession with xid 4", xid, op)
		}
		reply(w, 4, 12, tree.CodeOK, nil)
		close(closed)
	})
	c := dial(t, addr)
	if c.SessionID() != 0x1234 || c.Timeout() != 4*time.Second {
		t.Fatalf("session 0x%x timeout %v, want 0x1234 and 4s", c.SessionID(), c.Timeout())
	}
	for i, op := range []tree.Op{tree.OpGetData, tree.OpSetData, tree.OpExists} {
		if xid := c.QueueBody(op, []byte("body")); xid != int32(i+1) {
			t.Fatalf("request %d got xid %d", i, xid)
		}
	}
	c.Ping()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	want := []Reply{{1, 10, tree.CodeOK, []byte("data")}, {2, 11, tree.CodeBadVersion, nil}, {3, 11, tree.CodeNoNode, nil}}
	for _, w := range want {
		r, err := c.ReadReply()
		if err != nil {
			t.Fatal(err)
		}
		if r.Xid != w.Xid || r.Zxid != w.Zxid || r.Err != w.Err || string(r.Body) != string(w.Body) {
			t.Errorf("reply %+v, want %+v", r, w)
		}
	}
	if err := c.Close(false); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server never saw closeSession")
	}
	if err := c.Close(false); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := c.Flush(); err != nil {
		t.Errorf("Flush with nothing queued after Close: %v", err)
	}
	c.QueueBody(tree.OpGetData, nil)
	if err := c.Flush(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Flush after Close: %v, want net.ErrClosed", err)
	}
}

// TestReplyOutOfOrderFails: a reply that is not the next expected one is
// an error naming both xids, never silently matched to another request.
func TestReplyOutOfOrderFails(t *testing.T) {
	addr := fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		if !accept(t, r, w, 7) {
			return
		}
		request(t, r)
		request(t, r)
		reply(w, 2, 1, tree.CodeOK, nil)
		request(t, r) // closeSession
	})
	c := dial(t, addr)
	defer c.Close(true)
	c.QueueBody(tree.OpGetData, nil)
	c.QueueBody(tree.OpGetData, nil)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadReply(); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("ReadReply: %v, want ErrOutOfOrder", err)
	}
}

// TestRefusedSessionAndLostConnection: a connect response with session 0
// (expired) fails Dial; a server that hangs up fails ReadReply.
func TestRefusedSessionAndLostConnection(t *testing.T) {
	addr := fakeServer(t, func(r *bufio.Reader, w net.Conn) { accept(t, r, w, 0) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := Dial(ctx, addr, 6*time.Second); err == nil {
		c.Close(true)
		t.Fatal("Dial succeeded with session 0")
	}
	addr = fakeServer(t, func(r *bufio.Reader, w net.Conn) {
		accept(t, r, w, 9)
		request(t, r)
	})
	c := dial(t, addr)
	defer c.Close(true)
	c.QueueBody(tree.OpExists, nil)
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadReply(); err == nil {
		t.Fatal("ReadReply succeeded on a connection the server closed")
	}
}

// TestQueueAllocatesNothing: steady-state queueing and reading reuse
// their buffers.
func TestQueueAllocatesNothing(t *testing.T) {
	c := &Conn{nextXid: 1}
	body := make([]byte, 120)
	c.QueueBody(tree.OpCreate, body)
	c.wbuf = c.wbuf[:0]
	if n := testing.AllocsPerRun(100, func() {
		c.QueueBody(tree.OpCreate, body)
		c.wbuf = c.wbuf[:0]
	}); n != 0 {
		t.Errorf("QueueBody allocates %.1f times per request", n)
	}
}
