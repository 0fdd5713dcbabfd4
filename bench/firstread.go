package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// firstReadMaxFrame bounds a reply frame read by the probe.
const firstReadMaxFrame = 4 << 20

var (
	// errNotServing: the server answered the probe's connection with a
	// close or a refused session, as Apache ZooKeeper does while it loads
	// its data.
	errNotServing = errors.New("bench: server not serving yet")
	// ErrWrongRead (errors.Is): the server served the read but the answer
	// is wrong (an error code, or data of the wrong size); retrying cannot
	// help, the data was not recovered.
	ErrWrongRead = errors.New("bench: first read answered wrongly")
)

// FirstRead is one attempt at the first read a client can get served:
// a TCP connect to addr, the session handshake, then getData(path). It
// succeeds when the server answers with the data, and the data is
// wantBytes long (negative: any length). The whole attempt is bounded by
// timeout and ctx. It speaks the wire protocol directly (net/jute), not
// through a client library, so that no library back-off or reconnect
// timer sits between the server becoming ready and the measurement. The
// session is closed afterwards (best effort, bounded by the same
// deadline).
func FirstRead(ctx context.Context, addr, path string, wantBytes int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var dialer stdnet.Dialer
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("bench: first read: %w", err)
	}
	defer c.Close()
	// Cancelling ctx ends the attempt at once (a pending read fails).
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("bench: first read: %w", err)
	}
	buf := make([]byte, 0, 512)
	req := jute.AppendFrame(buf[:0], jute.AppendConnectRequest(nil, jute.ConnectRequest{
		TimeOut: 10000, Passwd: make([]byte, 16),
	}))
	if _, err := c.Write(req); err != nil {
		return fmt.Errorf("bench: first read: handshake: %w", err)
	}
	frame, err := jute.ReadFrame(c, firstReadMaxFrame, nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: connection closed at handshake", errNotServing)
		}
		return fmt.Errorf("bench: first read: handshake: %w", err)
	}
	cr, err := jute.DecodeConnectResponse(frame)
	if err != nil {
		return fmt.Errorf("bench: first read: handshake: %w", err)
	}
	if cr.SessionID == 0 {
		return fmt.Errorf("%w: session refused", errNotServing)
	}
	const xid = 1
	get := jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Op: tree.OpGetData},
		tree.Request{Op: tree.OpGetData, Path: path}))
	if _, err := c.Write(get); err != nil {
		return fmt.Errorf("bench: first read: getData: %w", err)
	}
	// Skip anything that is not our reply (notifications have xid -1);
	// bounded by the deadline and by a count.
	for range 64 {
		frame, err = jute.ReadFrame(c, firstReadMaxFrame, nil)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: connection closed before the getData reply", errNotServing)
			}
			return fmt.Errorf("bench: first read: getData: %w", err)
		}
		h, res, err := jute.DecodeReply(frame, tree.OpGetData)
		if err != nil {
			return fmt.Errorf("bench: first read: getData reply: %w", err)
		}
		if h.Xid != xid {
			continue
		}
		if h.Err != tree.CodeOK {
			return fmt.Errorf("%w: getData %s: %v", ErrWrongRead, path, h.Err)
		}
		if wantBytes >= 0 && len(res.Data) != wantBytes {
			return fmt.Errorf("%w: getData %s: %d bytes, want %d", ErrWrongRead, path, len(res.Data), wantBytes)
		}
		closeSession(c)
		return nil
	}
	return fmt.Errorf("bench: first read: no getData reply among 64 frames")
}

// closeSession asks the server to end the probe's session so it does not
// linger until it expires; errors are ignored (the reply is not waited
// for beyond the connection's deadline).
func closeSession(c stdnet.Conn) {
	b := jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: 2, Op: tree.OpCloseSession},
		tree.Request{Op: tree.OpCloseSession}))
	if _, err := c.Write(b); err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = jute.ReadFrame(c, firstReadMaxFrame, nil)
}
