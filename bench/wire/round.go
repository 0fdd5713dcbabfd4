//go:build unix

package wire

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// round is one FlushAndWait's system calls, made inside the socket's read
// wait (syscall.RawConn.Read): the write first, then the reads. Go's own
// Read would try read(2) straight after the write and, in a closed loop
// whose replies have all been read, find nothing (EAGAIN) before it
// waits: a third system call per round trip, about 1.5 µs here. round
// skips that read when it is sure to find nothing new.
//
// When skipping is safe: RawConn.Read forgets any readiness the poller saw
// before the call (it resets the descriptor's "ready" mark) and only then
// calls us, and the poller is edge-triggered. Bytes that arrived before the
// call therefore raise no wake-up; only bytes arriving after it do. So the
// first wait may come before any read only if nothing can be waiting
// unread in the socket: every request and ping written before this batch
// has been answered and read, and no part of a frame is buffered. Then the
// first bytes to arrive are the answers to this batch, written from inside
// the callback, after the reset. Otherwise round reads first, as Go does.
// A later wait, inside the same call, follows a read that came back
// shorter than its room: the socket was empty then, and whatever arrives
// after it raises an edge.
//
// Unsolicited bytes (a watch notification; the generator sets no watches)
// that arrived unread before a skipped read wait behind the batch's
// answers, which wake the wait and are read with them; a server that
// half-closes (shutdown) instead of answering is not a ZooKeeper server,
// and the run's drain timeout closes such a session.
type round struct {
	c    *Conn
	raw  syscall.RawConn
	call func(fd uintptr) bool // step, bound once: a round allocates nothing

	// Per round:
	skipRead bool  // nothing older can be unread: wait before the first read
	wrote    bool  // the write is done; wmu was released
	written  int   // bytes of c.wbuf written
	short    bool  // the socket took part of wbuf (EAGAIN): the rest goes by net.Conn
	err      error // the write's or a read's failure
}

func newRound(c *Conn, raw syscall.RawConn) *round {
	r := &round{c: c, raw: raw}
	r.call = r.step
	return r
}

// step is the RawConn.Read callback: true ends the round, false waits
// until the socket is readable and calls again.
func (r *round) step(fd uintptr) bool {
	c := r.c
	if !r.wrote {
		for r.written < len(c.wbuf) {
			n, err := syscall.Write(int(fd), c.wbuf[r.written:])
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				r.short = true
				return true
			case err != nil:
				r.err = os.NewSyscallError("write", err)
				return true
			}
			r.written += n
		}
		c.wbuf = c.wbuf[:0]
		r.wrote = true
		c.wmu.Unlock() // Close may now write closeSession and close the socket, which ends the wait
		if r.skipRead {
			return false
		}
	}
	for {
		room := c.room()
		n, err := syscall.Read(int(fd), room)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false // nothing there yet
		case err != nil:
			r.err = os.NewSyscallError("read", err)
			return true
		case n == 0:
			r.err = io.ErrUnexpectedEOF // requests are outstanding
			return true
		}
		c.w += n
		if _, whole, ferr := c.peekFrame(); whole || ferr != nil {
			return true
		}
		if n < len(room) {
			return false // read dry with a frame still partial: wait for the rest
		}
	}
}

// FlushAndWait writes everything queued, as Flush, and then blocks until a
// whole reply frame is buffered, so the ReadReply after it returns at once:
// in a closed loop whose earlier replies are all read, the round trip in
// two system calls, not three (see round). It needs at least one request
// queued or outstanding whose reply is still to come.
func (c *Conn) FlushAndWait() error {
	c.wmu.Lock()
	if _, whole, err := c.peekFrame(); c.rnd == nil || len(c.wbuf) == 0 || whole || err != nil {
		err := c.flushLocked()
		c.wmu.Unlock()
		return err
	}
	if c.closed {
		c.wmu.Unlock()
		return fmt.Errorf("wire: session 0x%x with %s: %w", c.sessionID, c.addr, net.ErrClosed)
	}
	r := c.rnd
	// This goroutine is the reader while it flushes: readXid, pingsRead
	// and the buffer are its own.
	r.skipRead = c.readXid == c.sentXid && c.pingsRead == c.sentPings && c.r == c.w
	r.wrote, r.written, r.short, r.err = false, 0, false, nil
	c.markSent()
	err := r.raw.Read(r.call)
	if !r.wrote { // wmu is still ours: the write failed, fell short, or never began
		if err == nil && r.err == nil && r.short {
			_, err = c.nc.Write(c.wbuf[r.written:])
		}
		c.wbuf = c.wbuf[:0]
		c.wmu.Unlock()
		if err == nil && r.err != nil {
			err = r.err
		}
		if err != nil {
			return fmt.Errorf("wire: writing to %s (session 0x%x): %w", c.addr, c.sessionID, err)
		}
		return nil // written; ReadReply waits for the reply the usual way
	}
	if err == nil {
		err = r.err
	}
	if err == nil {
		_, _, err = c.peekFrame() // a length no reply may have
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("wire: reading from %s (session 0x%x): %w", c.addr, c.sessionID, err)
	}
	return nil
}
