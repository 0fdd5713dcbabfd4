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
	// ErrWrongWrite (errors.Is): the server answered the probe's create
	// with an error no leaderless moment explains (NoNode, NodeExists,
	// ...); retrying cannot help.
	ErrWrongWrite = errors.New("bench: write answered wrongly")
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
	return probeOnce(ctx, addr, timeout, "first read", tree.Request{Op: tree.OpGetData, Path: path},
		func(code tree.Code, res tree.Result) error {
			if code != tree.CodeOK {
				return fmt.Errorf("%w: getData %s: %v", ErrWrongRead, path, code)
			}
			if wantBytes >= 0 && len(res.Data) != wantBytes {
				return fmt.Errorf("%w: getData %s: %d bytes, want %d", ErrWrongRead, path, len(res.Data), wantBytes)
			}
			return nil
		})
}

// FirstWrite is one attempt at a write a client can get acknowledged: a
// TCP connect to addr, the session handshake (itself a txn through the
// leader, in both servers), then create(path, data) as a persistent
// znode open to all. It succeeds when the create is acknowledged; any
// error code fails it with ErrWrongWrite except the ones a server gives
// while it has no leader or is overloaded (ConnectionLoss, SessionMoved,
// SessionExpired, timeouts, NotReadOnly, throttling), which fail it as not
// serving. Like FirstRead it speaks the wire
// protocol directly and is bounded by timeout and ctx.
func FirstWrite(ctx context.Context, addr, path string, data []byte, timeout time.Duration) error {
	req := tree.Request{Op: tree.OpCreate, Path: path, Data: data, ACL: tree.OpenACLUnsafe, Mode: tree.ModePersistent}
	return probeOnce(ctx, addr, timeout, "first write", req, func(code tree.Code, _ tree.Result) error {
		switch code {
		case tree.CodeOK:
			return nil
		case tree.CodeConnectionLoss, tree.CodeSessionMoved, tree.CodeSessionExpired, tree.CodeOperationTimeout,
			tree.CodeRequestTimeout, tree.CodeNotReadOnly, tree.CodeThrottledOp:
			return fmt.Errorf("%w: create %s: %v", errNotServing, path, code)
		}
		return fmt.Errorf("%w: create %s: %v", ErrWrongWrite, path, code)
	})
}

// probeOnce connects to addr, opens a session, sends req and hands the
// reply's code and result to check, whose error it returns; the session
// is closed afterwards when check passes. what names the probe in errors.
// A connection the server closes, or a session it refuses, is
// errNotServing.
func probeOnce(ctx context.Context, addr string, timeout time.Duration, what string, req tree.Request, check func(tree.Code, tree.Result) error) error {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var dialer stdnet.Dialer
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("bench: %s: %w", what, err)
	}
	defer c.Close()
	// Cancelling ctx ends the attempt at once (a pending read fails).
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.SetDeadline(deadline); err != nil {
		return fmt.Errorf("bench: %s: %w", what, err)
	}
	buf := make([]byte, 0, 512)
	hs := jute.AppendFrame(buf[:0], jute.AppendConnectRequest(nil, jute.ConnectRequest{
		TimeOut: 10000, Passwd: make([]byte, 16),
	}))
	if _, err := c.Write(hs); err != nil {
		return fmt.Errorf("bench: %s: handshake: %w", what, err)
	}
	frame, err := jute.ReadFrame(c, firstReadMaxFrame, nil)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%w: connection closed at handshake", errNotServing)
		}
		return fmt.Errorf("bench: %s: handshake: %w", what, err)
	}
	cr, err := jute.DecodeConnectResponse(frame)
	if err != nil {
		return fmt.Errorf("bench: %s: handshake: %w", what, err)
	}
	if cr.SessionID == 0 {
		return fmt.Errorf("%w: session refused", errNotServing)
	}
	const xid = 1
	b := jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Op: req.Op}, req))
	if _, err := c.Write(b); err != nil {
		return fmt.Errorf("bench: %s: %v: %w", what, req.Op, err)
	}
	// Skip anything that is not our reply (notifications have xid -1);
	// bounded by the deadline and by a count.
	for range 64 {
		frame, err = jute.ReadFrame(c, firstReadMaxFrame, nil)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%w: connection closed before the %v reply", errNotServing, req.Op)
			}
			return fmt.Errorf("bench: %s: %v: %w", what, req.Op, err)
		}
		h, res, err := jute.DecodeReply(frame, req.Op)
		if err != nil {
			return fmt.Errorf("bench: %s: %v reply: %w", what, req.Op, err)
		}
		if h.Xid != xid {
			continue
		}
		if err := check(h.Err, res); err != nil {
			return err
		}
		closeSession(c)
		return nil
	}
	return fmt.Errorf("bench: %s: no %v reply among 64 frames", what, req.Op)
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
