package zkcli

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"sync"
	"sync/atomic"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// errNoSession is returned by tap.call when the current connection has not
// finished its handshake (or there is none): the caller sees it as
// ConnectionLoss.
var errNoSession = errors.New("zkcli: no established connection")

// maxFrameBytes bounds every frame length read from the server before
// allocating: ZooKeeper's default jute.maxbuffer plus room for headers.
const maxFrameBytes = jute.DefaultMaxFrameBytes + 4096

// tapXidBase is where the tap's xids start. go-zookeeper counts its xids up
// from 1, so the two never meet within one process's lifetime.
const tapXidBase = 0x60000000

// tap lets zkcli send requests that go-zookeeper v1.0.4 has no method for
// (getEphemerals, getAllChildrenNumber, whoAmI, addWatch, removeWatches) on
// go-zookeeper's own session. It is go-zookeeper's Dialer: every connection
// go-zookeeper opens is wrapped in a tapConn that interleaves the tap's
// request frames with go-zookeeper's (under a write mutex, frame by frame)
// and pulls the replies to the tap's xids out of the byte stream before
// go-zookeeper reads it. Everything else (handshake, pings, watch events,
// go-zookeeper's own replies) passes through unchanged and in order, so a
// watch event that precedes a reply on the wire is handled first.
//
// Concurrency: safe for concurrent use; cur is guarded by mu.
type tap struct {
	dial func(network, addr string, timeout time.Duration) (stdnet.Conn, error)
	xid  atomic.Int32

	mu  sync.Mutex
	cur *tapConn

	// onDial is told about every dial attempt's outcome (for Dial's
	// fail-fast when no server accepts connections).
	onDial func(addr string, err error)
}

func newTap() *tap {
	t := &tap{dial: stdnet.DialTimeout}
	t.xid.Store(tapXidBase)
	return t
}

// Dial satisfies zk.Dialer.
func (t *tap) Dial(network, addr string, timeout time.Duration) (stdnet.Conn, error) {
	c, err := t.dial(network, addr, timeout)
	if t.onDial != nil {
		t.onDial(addr, err)
	}
	if err != nil {
		return nil, err
	}
	tc := &tapConn{Conn: c, pending: map[int32]chan tapReply{}, dead: make(chan struct{})}
	t.mu.Lock()
	t.cur = tc
	t.mu.Unlock()
	return tc, nil
}

// tapReply is one reply frame body (ReplyHeader + response) for the tap.
type tapReply []byte

// call sends req on the current connection (encoded by net/jute) and waits
// up to timeout for its reply. A non-OK reply is returned as the tree.Code
// error; connection trouble as tree.CodeConnectionLoss or
// tree.CodeOperationTimeout wrapped with the cause.
func (t *tap) call(req tree.Request, timeout time.Duration) (tree.Result, error) {
	op := req.Op
	t.mu.Lock()
	c := t.cur
	t.mu.Unlock()
	if c == nil || !c.established.Load() {
		return tree.Result{}, fmt.Errorf("%w: %w", tree.CodeConnectionLoss, errNoSession)
	}
	xid := t.xid.Add(1)
	frame, start := jute.StartFrame(nil)
	frame = jute.AppendRequest(frame, jute.RequestHeader{Xid: xid, Op: op}, req)
	frame = jute.FinishFrame(frame, start)

	ch := make(chan tapReply, 1)
	if err := c.register(xid, ch); err != nil {
		return tree.Result{}, fmt.Errorf("%w: %w", tree.CodeConnectionLoss, err)
	}
	if err := c.writeFrame(frame); err != nil {
		c.unregister(xid)
		return tree.Result{}, fmt.Errorf("%w: %w", tree.CodeConnectionLoss, err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		hdr, res, err := jute.DecodeReply(r, op)
		if err != nil {
			return tree.Result{}, fmt.Errorf("%w: %v reply: %w", tree.CodeMarshallingError, op, err)
		}
		if hdr.Err != tree.CodeOK {
			return tree.Result{}, hdr.Err
		}
		return res, nil
	case <-c.dead:
		return tree.Result{}, fmt.Errorf("%w: %w", tree.CodeConnectionLoss, c.deadErr())
	case <-timer.C:
		c.unregister(xid)
		return tree.Result{}, fmt.Errorf("%w: no reply to %v within %v", tree.CodeOperationTimeout, op, timeout)
	}
}

// tapConn is one wrapped connection. Read is called only by go-zookeeper
// (its handshake, then its receive loop: one goroutine at a time); Write by
// go-zookeeper and the tap, serialized by wmu so frames never interleave
// byte-wise.
type tapConn struct {
	stdnet.Conn

	wmu sync.Mutex

	// Read side, owned by the reading goroutine.
	handshook bool   // the ConnectResponse frame has been passed through
	pass      []byte // bytes of whole frames waiting for go-zookeeper

	// established is set once the ConnectResponse went through: from then
	// on frames carry ReplyHeaders and the tap may send requests.
	established atomic.Bool

	pmu     sync.Mutex
	pending map[int32]chan tapReply // guarded by pmu
	err     error                   // guarded by pmu; set once, with dead closed
	dead    chan struct{}
}

func (c *tapConn) register(xid int32, ch chan tapReply) error {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.pending[xid] = ch
	return nil
}

func (c *tapConn) unregister(xid int32) {
	c.pmu.Lock()
	delete(c.pending, xid)
	c.pmu.Unlock()
}

func (c *tapConn) take(xid int32) chan tapReply {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	ch, ok := c.pending[xid]
	if ok {
		delete(c.pending, xid)
	}
	return ch
}

func (c *tapConn) fail(err error) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.dead)
	}
}

func (c *tapConn) deadErr() error {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.err
}

func (c *tapConn) writeFrame(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.Conn.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return err
	}
	_, err := c.Conn.Write(b)
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return err
}

// Write passes go-zookeeper's frames through; go-zookeeper writes each
// frame with one call.
func (c *tapConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.Write(b)
}

func (c *tapConn) Close() error {
	c.fail(stdnet.ErrClosed)
	return c.Conn.Close()
}

// Read hands go-zookeeper the stream minus the tap's reply frames.
func (c *tapConn) Read(p []byte) (int, error) {
	for len(c.pass) == 0 {
		frame, err := c.readFrame()
		if err != nil {
			c.fail(err)
			return 0, err
		}
		if !c.handshook {
			c.handshook = true
			c.established.Store(true)
			c.pass = frame
			break
		}
		// ReplyHeader: xid int32, zxid int64, err int32.
		if len(frame) >= 4+16 {
			xid := int32(binary.BigEndian.Uint32(frame[4:]))
			if xid >= tapXidBase {
				if ch := c.take(xid); ch != nil {
					ch <- tapReply(frame[4:])
					continue
				}
			}
		}
		c.pass = frame
	}
	n := copy(p, c.pass)
	c.pass = c.pass[n:]
	return n, nil
}

// readFrame reads one length-prefixed frame and returns it with its prefix.
func (c *tapConn) readFrame() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrameBytes {
		return nil, fmt.Errorf("zkcli: frame of %d bytes from %s exceeds %d", n, c.Conn.RemoteAddr(), maxFrameBytes)
	}
	frame := make([]byte, 4+n)
	copy(frame, hdr[:])
	if _, err := io.ReadFull(c.Conn, frame[4:]); err != nil {
		return nil, err
	}
	return frame, nil
}
