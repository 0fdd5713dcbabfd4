package net

import (
	"bufio"
	"errors"
	"io"
	stdnet "net"
	"testing"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// roProc refuses writes as a whole: a client that accepts a read-only
// server gets read-only session 7, one that does not an error.
type roProc struct {
	heldProc
}

var errRefused = errors.New("writes refused: disk full")

func (p *roProc) CreateSession(_ time.Duration, _ string, readOnlyOK bool, done func(SessionID, []byte, bool, error)) {
	if !readOnlyOK {
		done(0, nil, false, errRefused)
		return
	}
	done(7, []byte("0123456789abcdef"), true, nil)
}

func (p *roProc) Read(_ SessionID, _ tree.WatcherID, req tree.Request, answer func(tree.Result)) {
	answer(tree.Result{Data: []byte("v:" + req.Path)})
}

func (p *roProc) LastZxid() int64 { return 0x100000005 }
func (p *roProc) Status() Status {
	return Status{Mode: "standalone", WritesRefused: errRefused.Error()}
}

// rawClient speaks the wire protocol with the jute codec, so the test
// controls the ConnectRequest's readOnly byte (go-zookeeper never sends
// it).
type rawClient struct {
	t  *testing.T
	nc stdnet.Conn
	br *bufio.Reader
}

func dialRaw(t *testing.T, addr string, cr jute.ConnectRequest) (*rawClient, []byte, error) {
	t.Helper()
	nc, err := stdnet.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	if _, err := nc.Write(jute.AppendFrame(nil, jute.AppendConnectRequest(nil, cr))); err != nil {
		t.Fatal(err)
	}
	body, err := jute.ReadFrame(c.br, 1<<20, nil)
	return c, body, err
}

// newSession dials addr and opens a new session (10 s timeout).
func newSession(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, body, err := dialRaw(t, addr, jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jute.DecodeConnectResponse(body); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *rawClient) call(xid int32, op tree.Op, req tree.Request) []byte {
	c.t.Helper()
	if _, err := c.nc.Write(jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Op: op}, req))); err != nil {
		c.t.Fatal(err)
	}
	body, err := jute.ReadFrame(c.br, 1<<20, nil)
	if err != nil {
		c.t.Fatalf("%v: %v", op, err)
	}
	return body
}

// While writes are refused, a client whose ConnectRequest says readOnly
// gets a read-only session at once (ConnectResponse readOnly=true, its
// session id and password); its writes and syncs are answered with a bare
// ReplyHeader carrying NotReadOnly (-119) and the last zxid, as Apache
// ZooKeeper's ReadOnlyRequestProcessor answers them, and never reach the
// processor; its reads are served. A client that does not accept a
// read-only server has its connection closed without an answer.
func TestReadOnlySessionOnTheWire(t *testing.T) {
	proc := &roProc{heldProc{watches: tree.NewWatches()}}
	srv := NewServer(Config{Logger: quietLogger()}, proc)
	addr := serveLoopback(t, srv)

	c, body, err := dialRaw(t, addr, jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only connect: %v", err)
	}
	resp, err := jute.DecodeConnectResponse(body)
	if err != nil || !resp.ReadOnly || resp.SessionID != 7 || string(resp.Passwd) != "0123456789abcdef" || resp.TimeOut == 0 {
		t.Fatalf("ConnectResponse %+v (%v), want read-only session 7", resp, err)
	}
	writes := []struct {
		op  tree.Op
		req tree.Request
	}{
		{tree.OpCreate, tree.Request{Path: "/a", ACL: tree.OpenACLUnsafe}},
		{tree.OpSetData, tree.Request{Path: "/a", Version: -1}},
		{tree.OpDelete, tree.Request{Path: "/a", Version: -1}},
		{tree.OpSync, tree.Request{Path: "/"}},
		{tree.OpMulti, tree.Request{Ops: []tree.Request{{Op: tree.OpDelete, Path: "/a", Version: -1}}}},
	}
	for i, w := range writes {
		xid := int32(i + 1)
		got := c.call(xid, w.op, w.req)
		want := jute.AppendReplyHeader(nil, jute.ReplyHeader{Xid: xid, Zxid: 0x100000005, Err: tree.CodeNotReadOnly})
		if string(got) != string(want) {
			t.Errorf("%v on a read-only session: reply %x, want the bare header %x", w.op, got, want)
		}
	}
	got := c.call(20, tree.OpGetData, tree.Request{Path: "/x"})
	hdr, res, err := jute.DecodeReply(got, tree.OpGetData)
	if err != nil || hdr.Err != tree.CodeOK || string(res.Data) != "v:/x" {
		t.Errorf("getData on a read-only session: %+v %+v %v", hdr, res, err)
	}
	proc.mu.Lock()
	held := len(proc.held)
	proc.mu.Unlock()
	if held != 0 {
		t.Errorf("%d writes of a read-only session reached the processor", held)
	}

	for _, legacy := range []bool{false, true} {
		_, body, err := dialRaw(t, addr, jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), Legacy: legacy})
		if !errors.Is(err, io.EOF) {
			t.Errorf("client without readOnly (legacy %v): got %x, %v; want the connection closed unanswered", legacy, body, err)
		}
	}
}

// betweenLeadersProc cannot judge sessions (a quorum member electing).
type betweenLeadersProc struct {
	heldProc
}

func (p *betweenLeadersProc) ResumeSession(SessionID, []byte, time.Duration) (bool, bool, error) {
	return false, false, errors.New("not serving: electing a leader")
}

// A processor that cannot judge a re-attach gets the connection closed
// with no ConnectResponse: answering would have to say "expired" (session
// id 0), and the client would drop a session the quorum still holds.
func TestResumeDeferredClosesUnanswered(t *testing.T) {
	proc := &betweenLeadersProc{}
	proc.watches = tree.NewWatches()
	srv := NewServer(Config{Logger: quietLogger()}, proc)
	_, body, err := dialRaw(t, serveLoopback(t, srv), jute.ConnectRequest{TimeOut: 30000, SessionID: 0x1234,
		Passwd: make([]byte, 16)})
	if err == nil {
		t.Fatalf("re-attach answered (%d bytes) by a processor that cannot judge it", len(body))
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("connection not closed: %v", err)
	}
}
