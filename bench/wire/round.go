//go:build unix

package wire

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// round is one FlushAndWait's system calls, made inside the socket's read
// wait (syscall.RawConn.Read): the write first, then reads only once the
// poller has said data arrived. Go's own Read would try read(2) straight
// after the write and find nothing (EAGAIN) before it waits: on a
// loopback closed loop that is a third system call per round trip, about
// 1.5 µs here.
//
// Why the first wait is safe without a read: RawConn.Read forgets any
// readiness seen before it (the poller's "ready" mark is reset) and only
// then calls us, and we write only then, so the reply to what we write
// arrives later and raises a new edge. Later waits follow a read that came
// back shorter than the room it had, so the socket was empty at that
// moment and anything after it raises an edge too.
type round struct {
	c    *Conn
	raw  syscall.RawConn
	call func(fd uintptr) bool // step, bound once: a round allocates nothing

	// Per round:
	wrote   bool  // the write is done; wmu was released
	written int   // bytes of c.wbuf written
	short   bool  // the socket took part of wbuf (EAGAIN): the rest goes by net.Conn
	err     error // the write's or a read's failure
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
		return false
	}
	for {
		room := c.room()
		n, err := syscall.Read(int(fd), room)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return false // a readiness that was not ours: nothing arrived yet
		case err != nil:
			r.err = os.NewSyscallError("read", err)
			return true
		case n == 0:
			r.err = io.EOF
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
// the closed loop's round trip in two system calls, not three (see round).
// It needs the caller to have at least one request queued whose reply is
// still to come, as the closed loop always has after queueing.
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
	r.wrote, r.written, r.short, r.err = false, 0, false, nil
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
	if err != nil && !c.Buffered() {
		return fmt.Errorf("wire: reading from %s (session 0x%x): %w", c.addr, c.sessionID, err)
	}
	return nil
}
