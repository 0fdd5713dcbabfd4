//go:build unix

package net

import (
	"encoding/binary"
	"fmt"
	"io"
	"syscall"

	"zabd/net/jute"
)

// inlineReads says whether plain TCP connections read their requests
// inside RawConn.Read's callback (readRaw).
const inlineReads = true

// shutdownBoth shuts a socket down both ways (abort).
func shutdownBoth(fd uintptr) error { return syscall.Shutdown(int(fd), syscall.SHUT_RDWR) }

// rawReadBuf is readRaw's buffer: requests are read into it and handled
// in place. A frame larger than it grows it for as long as it is needed.
const rawReadBuf = 64 << 10

// readRaw is readLoop's request loop on a plain TCP connection, starting
// with pending (bytes the handshake's reads buffered). It reads and
// handles the requests inside the socket's RawConn.Read callback, so that
// after a read that came back shorter than its room (the socket was empty
// then) it waits for the next request without first trying a read that
// finds nothing: Go's Read tries one, an EAGAIN and a system call per
// request for a client with one request outstanding. The wait is sound
// because the callback never leaves between the short read and the wait:
// the poller's readiness is reset only when RawConn.Read begins, and any
// byte that arrives after the short read raises a new edge.
//
// The callback holds the descriptor's read lock throughout: a Close
// would wait for it, which is why closeWith shuts the socket down
// (abort) and serve closes it after this returns.
func (c *conn) readRaw(pending []byte) error {
	maxBuf := c.srv.cfg.MaxBuffer
	buf := make([]byte, max(rawReadBuf, len(pending)))
	r, w := 0, copy(buf, pending)
	drained := false // the last read came back short: the socket was empty
	// ended: a request ended the connection (its error, if any, is
	// protocolError's: already reported); ioErr: the socket's.
	var ended bool
	var ioErr error
	err := c.rawRead.Read(func(fd uintptr) bool {
		for {
			// Handle every whole frame buffered.
			for w-r >= 4 {
				n := int32(binary.BigEndian.Uint32(buf[r:]))
				if err := jute.CheckFrameLength(n, maxBuf); err != nil {
					ended = true
					c.protocolError("reading request", err)
					return true
				}
				end := r + 4 + int(n)
				if end > w {
					if 4+int(n) > len(buf) {
						grown := make([]byte, 4+int(n))
						w = copy(grown, buf[r:w])
						buf, r = grown, 0
					}
					break
				}
				frame := buf[r+4 : end]
				r = end
				if c.isClosing() {
					// Shut down: what the kernel still holds is
					// not handled (SHUT_RD keeps it readable).
					ended = true
					return true
				}
				if stop, _ := c.request(frame); stop {
					ended = true
					return true
				}
			}
			// Keep the partial frame at the front; an empty buffer
			// larger than usual (a big frame's) is let go.
			if r == w {
				r, w = 0, 0
				if len(buf) > rawReadBuf {
					buf = make([]byte, rawReadBuf)
				}
			} else if r > 0 && len(buf)-w < len(buf)/4 {
				w = copy(buf, buf[r:w])
				r = 0
			}
			if drained {
				drained = false
				return false // wait until the socket is readable
			}
			room := len(buf) - w
			c.rawReads.Add(1)
			n, rerr := syscall.Read(int(fd), buf[w:])
			switch {
			case rerr == syscall.EINTR:
				continue
			case rerr == syscall.EAGAIN:
				return false
			case rerr != nil:
				ioErr = rerr
				return true
			case n == 0:
				ioErr = io.EOF
				if r < w {
					ioErr = fmt.Errorf("jute: reading a frame: %w", io.ErrUnexpectedEOF)
				}
				return true
			}
			w += n
			drained = n < room
		}
	})
	if err == nil {
		err = ioErr
	}
	if ended || err == nil || err == io.EOF || c.isClosing() {
		return nil
	}
	return c.protocolError("reading request", err)
}
