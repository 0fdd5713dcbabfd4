// Package wire is the load generator's own ZooKeeper client connection: one
// TCP session on which the caller appends pre-encoded requests, flushes
// them in one write, and reads the replies in order, with no goroutine of
// its own, no channel and no allocation per request.
//
// It is for measuring servers, not for applications: it knows no watches,
// no reconnects and no session moves. Invariants:
//   - a ZooKeeper server answers one session's requests in the order they
//     were sent, so the caller matches replies to requests by order; Conn
//     checks that each reply carries the xid expected next and fails the
//     read otherwise;
//   - xids count up from 1; pings use xid -2 and their replies are consumed
//     by ReadReply, never returned; notifications (xid -1) are skipped too;
//   - one goroutine at a time appends and flushes (QueueBody, Ping, Flush), and
//     one at a time reads (ReadReply); the two may be different goroutines.
//     The write side is guarded by a mutex, so a writer and Close can meet.
//     FlushAndWait writes and reads, so its goroutine is the only reader and
//     the only flusher while it runs;
//   - FlushAndWait waits for the reply without the read that would find
//     nothing (see round.go): the socket is read only after the poller says
//     data arrived since the write, and waited on again only after a read
//     that came back short (the socket was empty then, so whatever arrives
//     later raises a new edge).
package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// maxReply bounds a reply frame; ZooKeeper's jute.maxbuffer default.
const maxReply = 0xfffff + 1024

// pingXid and notificationXid are ZooKeeper's reserved reply xids.
const (
	pingXid         = -2
	notificationXid = -1
)

// ErrOutOfOrder is returned by ReadReply when a reply's xid is not the one
// expected next (the server broke per-session ordering, or the caller
// mismatched its queue).
var ErrOutOfOrder = errors.New("wire: reply out of order")

// Conn is one session. Its methods are safe as the package doc says.
type Conn struct {
	nc        net.Conn
	addr      string
	rnd       *round // FlushAndWait's system calls; nil where the socket has no raw access
	sessionID int64
	timeout   time.Duration // negotiated session timeout

	wmu     sync.Mutex
	wbuf    []byte
	nextXid int32 // xid of the next request queued
	closed  bool
	// sentXid is nextXid and sentPings the pings queued, both as of the
	// last write: every request and ping before them went to the kernel.
	sentXid   int32
	pings     int64
	sentPings int64

	readXid   int32 // xid expected next by ReadReply (the reader's)
	pingsRead int64 // ping replies consumed (the reader's)
	// in[r:w] is read from the socket and not yet parsed (the reader's).
	// A frame ReadReply returns points into in: valid until the next
	// ReadReply or FlushAndWait.
	in   []byte
	r, w int
}

// readBufSize is the read buffer's size; a larger reply grows it.
const readBufSize = 64 << 10

// Reply is one answer. Body is valid until the next ReadReply or
// FlushAndWait.
type Reply struct {
	Xid  int32
	Zxid int64
	Err  tree.Code
	Body []byte
}

// Dial opens a TCP connection to addr and asks for a new session with the
// given timeout; it returns once the server has granted it, or fails by
// ctx's deadline.
func Dial(ctx context.Context, addr string, sessionTimeout time.Duration) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("wire: connect %s: %w", addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	c := &Conn{nc: nc, addr: addr, in: make([]byte, readBufSize), nextXid: 1, readXid: 1}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.rnd = newRound(c, raw)
		}
	}
	req := jute.AppendConnectRequest(nil, jute.ConnectRequest{
		TimeOut: int32(sessionTimeout / time.Millisecond), Passwd: make([]byte, 16),
	})
	if _, err := nc.Write(jute.AppendFrame(nil, req)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wire: sending connect request to %s: %w", addr, err)
	}
	frame, err := c.readFrame()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("wire: reading connect response from %s: %w", addr, err)
	}
	resp, err := jute.DecodeConnectResponse(frame)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("wire: connect response from %s: %w", addr, err)
	}
	if resp.SessionID == 0 {
		nc.Close()
		return nil, fmt.Errorf("wire: %s refused a new session (timeout %d ms)", addr, resp.TimeOut)
	}
	_ = nc.SetDeadline(time.Time{})
	c.sessionID = resp.SessionID
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	return c, nil
}

// SessionID is the session the server granted.
func (c *Conn) SessionID() int64 { return c.sessionID }

// Timeout is the negotiated session timeout.
func (c *Conn) Timeout() time.Duration { return c.timeout }

// QueueBody appends one request, its header and the record body (already
// encoded, copied), to the write buffer and returns its xid; nothing is
// sent before Flush.
func (c *Conn) QueueBody(op tree.Op, body []byte) int32 {
	c.wmu.Lock()
	xid := c.nextXid
	c.nextXid++
	c.wbuf = binary.BigEndian.AppendUint32(c.wbuf, uint32(8+len(body)))
	c.wbuf = jute.AppendInt(c.wbuf, xid)
	c.wbuf = jute.AppendInt(c.wbuf, int32(op))
	c.wbuf = append(c.wbuf, body...)
	c.wmu.Unlock()
	return xid
}

// Ping queues a ping; its reply is consumed by ReadReply.
func (c *Conn) Ping() {
	c.wmu.Lock()
	c.wbuf = jute.AppendInt(c.wbuf, 8)
	c.wbuf = jute.AppendInt(c.wbuf, pingXid)
	c.wbuf = jute.AppendInt(c.wbuf, int32(tree.OpPing))
	c.pings++
	c.wmu.Unlock()
}

// Flush writes everything queued in one write.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

// flushLocked is Flush with wmu held.
func (c *Conn) flushLocked() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	if c.closed {
		return fmt.Errorf("wire: session 0x%x with %s: %w", c.sessionID, c.addr, net.ErrClosed)
	}
	c.markSent()
	_, err := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if err != nil {
		return fmt.Errorf("wire: writing to %s (session 0x%x): %w", c.addr, c.sessionID, err)
	}
	return nil
}

// markSent records that everything queued goes to the kernel now. wmu is
// held.
func (c *Conn) markSent() {
	c.sentXid, c.sentPings = c.nextXid, c.pings
}

// ReadReply blocks for the next reply to a queued request. Ping replies
// and notifications are consumed on the way.
func (c *Conn) ReadReply() (Reply, error) {
	for {
		frame, err := c.readFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Reply{}, fmt.Errorf("wire: reading from %s (session 0x%x): %w", c.addr, c.sessionID, err)
		}
		r, skip, err := c.parse(frame)
		if skip {
			continue
		}
		return r, err
	}
}

// parse reads a reply frame's header; skip is set for pings and
// notifications, which are nobody's reply.
func (c *Conn) parse(frame []byte) (r Reply, skip bool, err error) {
	if len(frame) < 16 {
		return Reply{}, false, fmt.Errorf("wire: %d-byte reply from %s is shorter than a reply header", len(frame), c.addr)
	}
	r = Reply{
		Xid:  int32(binary.BigEndian.Uint32(frame)),
		Zxid: int64(binary.BigEndian.Uint64(frame[4:])),
		Err:  tree.Code(int32(binary.BigEndian.Uint32(frame[12:]))),
		Body: frame[16:],
	}
	if r.Xid == pingXid {
		c.pingsRead++
		return Reply{}, true, nil
	}
	if r.Xid == notificationXid {
		return Reply{}, true, nil
	}
	want := c.readXid
	if r.Xid != want {
		return r, false, fmt.Errorf("%w: %s sent xid %d, expected %d (session 0x%x)", ErrOutOfOrder, c.addr, r.Xid, want, c.sessionID)
	}
	c.readXid = want + 1
	return r, false, nil
}

// readFrame returns the next length-prefixed frame, reading from the
// socket only while no whole frame is buffered.
func (c *Conn) readFrame() ([]byte, error) {
	for {
		frame, ok, err := c.frame()
		if ok || err != nil {
			return frame, err
		}
		n, err := c.nc.Read(c.room())
		c.w += n
		if n == 0 && err != nil {
			return nil, err
		}
	}
}

// frame takes the next whole frame out of the buffer; false when there is
// none yet.
func (c *Conn) frame() ([]byte, bool, error) {
	n, whole, err := c.peekFrame()
	if !whole {
		return nil, false, err
	}
	b := c.in[c.r+4 : c.r+4+n : c.r+4+n]
	c.r += 4 + n
	return b, true, nil
}

// peekFrame says how long the next frame is and whether all of it is
// buffered; an error for a length no reply may have. n is -1 while fewer
// than 4 bytes are buffered.
func (c *Conn) peekFrame() (n int, whole bool, err error) {
	b := c.in[c.r:c.w]
	if len(b) < 4 {
		return -1, false, nil
	}
	l := int32(binary.BigEndian.Uint32(b))
	if l < 0 || l > maxReply {
		return -1, false, fmt.Errorf("%w: reply frame length %d out of [0, %d]", jute.ErrTooLarge, l, maxReply)
	}
	return int(l), len(b) >= 4+int(l), nil
}

// room returns the free space after the buffered bytes, never empty: the
// unparsed bytes are moved to the front when the frame they begin would
// not fit behind them, and the buffer grows for a frame larger than it.
func (c *Conn) room() []byte {
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	need := 4
	if n, _, err := c.peekFrame(); n >= 0 && err == nil {
		need = 4 + n
	}
	if c.r+need > len(c.in) || c.w == len(c.in) {
		if need > len(c.in) {
			grown := make([]byte, need)
			c.w = copy(grown, c.in[c.r:c.w])
			c.in, c.r = grown, 0
		} else {
			c.w = copy(c.in, c.in[c.r:c.w])
			c.r = 0
		}
	}
	return c.in[c.w:]
}

// Buffered reports whether a whole reply frame is already read from the
// socket, so ReadReply will not block.
func (c *Conn) Buffered() bool {
	_, whole, _ := c.peekFrame()
	return whole
}

// Close ends the session: it sends closeSession and, when no reader is
// active (reading says whether one might be), waits up to a second for the
// server's answer before closing the socket. Requests still outstanding
// fail at their reader. Close is idempotent.
func (c *Conn) Close(reading bool) error {
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return nil
	}
	xid := c.nextXid
	c.nextXid++
	c.wbuf = jute.AppendInt(c.wbuf, 8)
	c.wbuf = jute.AppendInt(c.wbuf, xid)
	c.wbuf = jute.AppendInt(c.wbuf, int32(tree.OpCloseSession))
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, werr := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	c.closed = true
	c.wmu.Unlock()
	if werr == nil && !reading {
		_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
		for {
			r, err := c.ReadReply()
			if err != nil || r.Xid == xid {
				break
			}
		}
	}
	return c.nc.Close()
}
