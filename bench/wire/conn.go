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
package wire

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
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
	br        *bufio.Reader
	sessionID int64
	timeout   time.Duration // negotiated session timeout

	wmu     sync.Mutex
	wbuf    []byte
	nextXid int32 // xid of the next request queued
	closed  bool

	readXid int32  // xid expected next by ReadReply (the reader's)
	rbuf    []byte // the last reply's frame, reused
}

// Reply is one answer. Body is valid until the next ReadReply.
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
	c := &Conn{nc: nc, addr: addr, br: bufio.NewReaderSize(nc, 64<<10), nextXid: 1, readXid: 1}
	req := jute.AppendConnectRequest(nil, jute.ConnectRequest{
		TimeOut: int32(sessionTimeout / time.Millisecond), Passwd: make([]byte, 16),
	})
	if _, err := nc.Write(jute.AppendFrame(nil, req)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("wire: sending connect request to %s: %w", addr, err)
	}
	frame, err := jute.ReadFrame(c.br, maxReply, nil)
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
	c.wmu.Unlock()
}

// Flush writes everything queued in one write.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if len(c.wbuf) == 0 {
		return nil
	}
	if c.closed {
		return fmt.Errorf("wire: session 0x%x with %s: %w", c.sessionID, c.addr, net.ErrClosed)
	}
	_, err := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	if err != nil {
		return fmt.Errorf("wire: writing to %s (session 0x%x): %w", c.addr, c.sessionID, err)
	}
	return nil
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
	if r.Xid == pingXid || r.Xid == notificationXid {
		return Reply{}, true, nil
	}
	want := c.readXid
	if r.Xid != want {
		return r, false, fmt.Errorf("%w: %s sent xid %d, expected %d (session 0x%x)", ErrOutOfOrder, c.addr, r.Xid, want, c.sessionID)
	}
	c.readXid = want + 1
	return r, false, nil
}

// readFrame reads one length-prefixed frame into c.rbuf (no allocation
// once c.rbuf has grown to the largest reply).
func (c *Conn) readFrame() ([]byte, error) {
	hdr, err := c.br.Peek(4)
	if err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(hdr))
	if n < 0 || n > maxReply {
		return nil, fmt.Errorf("%w: reply frame length %d out of [0, %d]", jute.ErrTooLarge, n, maxReply)
	}
	_, _ = c.br.Discard(4)
	if cap(c.rbuf) < int(n) {
		c.rbuf = make([]byte, n)
	}
	frame := c.rbuf[:n]
	if _, err := io.ReadFull(c.br, frame); err != nil {
		return nil, err
	}
	return frame, nil
}

// Buffered reports whether a whole reply frame is already read from the
// socket, so ReadReply will not block.
func (c *Conn) Buffered() bool {
	n := c.br.Buffered()
	if n < 4 {
		return false
	}
	hdr, _ := c.br.Peek(4)
	return n >= 4+int(binary.BigEndian.Uint32(hdr))
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
