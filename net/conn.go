package net

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	stdnet "net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"zabd/net/jute"
	"zabd/net/sasl"
	"zabd/net/secure"
	"zabd/tree"
)

// Replies carry the request's xid, whatever it is: the Java client uses
// -2 for pings, -4 for auth and -8 for setWatches, go-zookeeper ordinary
// xids for auth; ZooKeeper echoes both.

// maxInflight bounds one connection's writes in flight; the reader stops
// reading (TCP back-pressure) until some complete. Config's
// MaxConnOutstandingBytes bounds their bytes, and the server's writeBudget
// bounds all connections' together.
const maxInflight = 1000

// conn is one client connection. The reader goroutine (serve) owns the
// request side. Writes to the socket are serialized by the writing flag:
// whoever enqueues a message onto an empty queue while nobody is writing
// tries it at once without blocking (no goroutine hand-off on the common
// path); whatever that attempt cannot write goes to the front of the queue
// for the writer goroutine, which blocks as long as the client needs. mu
// guards everything below it.
type conn struct {
	srv *Server
	nc  stdnet.Conn
	// tryWrite makes one non-blocking write to the socket and says how
	// much it took; nil: every write goes through writeLoop.
	tryWrite func([]byte) (int, error)
	// rawRead, when set (a plain TCP connection), is the socket the
	// request loop reads inside RawConn.Read's callback (readRaw): then
	// abort shuts the socket down instead of closing it, and serve
	// closes it once the reader has left.
	rawRead syscall.RawConn
	// rawReads counts readRaw's read(2) calls (tests).
	rawReads atomic.Uint64
	id       tree.WatcherID
	ip       string

	// The read being answered (the read loop's own, one at a time), and
	// answerRead bound once to this conn: Processor.Read calls it with
	// the tree held, so a read costs no closure.
	readXid    int32
	readOp     tree.Op
	readZxid   int64
	answerRead func(tree.Result)

	// corked: on the server's corker's dirty list (guarded by its mu).
	corked bool

	mu       sync.Mutex
	wcond    *sync.Cond // the writer's: signalled when out grows or closing
	icond    *sync.Cond // signalled when inflight drops or closing
	out      [][]byte   // framed bytes to send, in order
	outBytes int
	writing  bool // someone (writeLoop or an inline attempt) is writing to the socket
	// spareOut and joined are flushOut's, kept between flushes so that
	// answering a batch allocates neither: spareOut is the emptied array
	// of a queue flushOut wrote (the next queue's, once out is empty);
	// joined is the buffer it joins several frames into, owned by
	// whoever is writing and given up when the socket takes only part.
	spareOut [][]byte
	joined   []byte
	inflight int // writes submitted and not yet answered
	// inflightBytes is the request frame bytes of those writes.
	inflightBytes int64
	closing       bool
	reason        string
	sid           SessionID
	readOnly      bool // a read-only session: its writes are answered NotReadOnly
	timeout       time.Duration
	auth          []tree.Id // immutable once published; replaced on change

	// sasl is the SASL exchange in progress (the read loop's own);
	// saslOK, guarded by mu, says it authenticated the connection.
	sasl   *sasl.Exchange
	saslOK bool

	// stats, guarded by mu
	received, sent uint64
	established    time.Time
	lastOp         string
	lastZxid       int64
	lastCxid       int32
	lat            connLatency
}

// connLatency is one connection's request latencies (ms), for the
// AdminServer's connections command; crst resets it.
type connLatency struct {
	last, min, max, total, count int64
	lastResponse                 time.Time
}

// lastAndAvg is what cons and the AdminServer's connections report beside
// min and max: the last response's time (Unix ms) and the mean latency
// (ms), both 0 before any request.
func (l *connLatency) lastAndAvg() (lastResponse, avg int64) {
	if l.count == 0 {
		return 0, 0
	}
	return l.lastResponse.UnixMilli(), l.total / l.count
}

func (l *connLatency) add(d time.Duration, at time.Time) {
	ms := d.Milliseconds()
	if l.count == 0 || ms < l.min {
		l.min = ms
	}
	l.max = max(l.max, ms)
	l.last, l.total, l.lastResponse = ms, l.total+ms, at
	l.count++
}

func newConn(s *Server, nc stdnet.Conn, id tree.WatcherID, ip string) *conn {
	c := &conn{srv: s, nc: nc, id: id, ip: ip, lastCxid: -1}
	c.answerRead = c.queueReadReply
	c.wcond = sync.NewCond(&c.mu)
	c.icond = sync.NewCond(&c.mu)
	c.auth = []tree.Id{{Scheme: "ip", ID: ip}}
	if sc, ok := nc.(syscall.Conn); ok && (inlineWrites || inlineReads) {
		if raw, err := sc.SyscallConn(); err == nil {
			if inlineWrites {
				c.tryWrite = newRawWriter(raw).Write
			}
			if inlineReads {
				c.rawRead = raw
			}
		}
	}
	return c
}

func (c *conn) session() SessionID {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sid
}

// closeWith starts closing the connection, once; the reason is logged.
func (c *conn) closeWith(reason string) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.reason = reason
	c.wcond.Broadcast()
	c.icond.Broadcast()
	c.mu.Unlock()
	c.srv.budget.wake() // a reader waiting for the server's budget gives up
	c.abort()
}

// abort ends the connection's reads and writes at once: both sides get
// EOF or an error. On a connection read inside RawConn.Read's callback
// the socket is shut down (shutdown(2)), never closed here: Close waits
// until that callback returns, and the caller may be the reader itself,
// or hold what the reader waits for (the tree's lock, while a watch event
// is delivered). A shutdown that fails (ENOTCONN: the client reset the
// connection) needs nothing more, as the reader and the writer then fail
// on their own; serve closes the socket once both have left.
func (c *conn) abort() {
	if c.rawRead != nil {
		c.rawRead.Control(func(fd uintptr) { shutdownBoth(fd) })
		return
	}
	c.nc.Close()
}

// closeAfterFlush closes once everything queued so far has been written.
func (c *conn) closeAfterFlush(reason string) {
	c.mu.Lock()
	c.out = append(c.out, nil) // nil marks "close here"
	if reason != "" {
		c.reason = reason
	}
	c.wcond.Broadcast()
	c.mu.Unlock()
}

// enqueue sends one framed message after everything enqueued before it.
// When the queue is empty and no write is under way, the caller writes it
// to the socket itself with one non-blocking write; the writer goroutine
// takes over only what the socket did not accept.
func (c *conn) enqueue(frame []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.tryWrite != nil && !c.writing && len(c.out) == 0 {
		c.writing = true
		c.mu.Unlock()
		n, err := c.tryWrite(frame)
		c.mu.Lock()
		c.writing = false
		if err != nil {
			c.mu.Unlock()
			c.closeWith("write failed: " + err.Error())
			c.mu.Lock()
			return
		}
		if n == len(frame) {
			recycleFrame(frame)
			c.sent++
			c.srv.stats.send()
			if len(c.out) > 0 {
				c.wcond.Signal() // queued while we wrote: the writer's now
			}
			return
		}
		// The rest goes first, before anything queued while we wrote.
		c.out = append(c.out, nil)
		copy(c.out[1:], c.out)
		c.out[0] = frame[n:]
		c.outBytes += len(frame) - n
		c.checkOutbound()
		c.wcond.Broadcast()
		return
	}
	c.out = append(c.out, frame)
	c.outBytes += len(frame)
	c.checkOutbound()
	if !c.writing {
		c.wcond.Signal() // else whoever is writing hands over when done
	}
}

// checkOutbound closes a connection whose client does not read: its
// unsent bytes passed MaxOutboundBytes. mu is held.
func (c *conn) checkOutbound() {
	if c.outBytes > c.srv.cfg.MaxOutboundBytes && !c.closing {
		c.closing = true
		c.reason = "client is not reading its replies and events (outbound queue full)"
		go c.abort()
	}
}

func (c *conn) sendEvent(ev tree.WatchEvent) {
	b, at := jute.StartFrame(newFrameBuf())
	c.enqueue(jute.FinishFrame(jute.AppendNotification(b, ev, tree.StateSyncConnected), at))
}

func (c *conn) sendReply(xid int32, zxid int64, op tree.Op, res tree.Result) {
	b, at := jute.StartFrame(newFrameBuf())
	c.enqueue(jute.FinishFrame(jute.AppendReply(b, xid, zxid, op, res), at))
}

// sendWriteReply is sendReply for a write's answer (see corker).
func (c *conn) sendWriteReply(xid int32, zxid int64, op tree.Op, res tree.Result) {
	b, at := jute.StartFrame(newFrameBuf())
	c.enqueueReply(jute.FinishFrame(jute.AppendReply(b, xid, zxid, op, res), at))
}

// writeLoop flushes the outbound queue until the connection closes.
func (c *conn) writeLoop(done chan<- struct{}) {
	defer close(done)
	for {
		c.mu.Lock()
		for (len(c.out) == 0 || c.writing) && !c.closing {
			c.wcond.Wait()
		}
		if c.closing {
			c.mu.Unlock()
			return
		}
		batch := c.out
		c.out = nil
		c.outBytes = 0
		c.writing = true
		c.mu.Unlock()
		bufs := make(stdnet.Buffers, 0, len(batch))
		closeHere := false
		for _, b := range batch {
			if b == nil {
				closeHere = true
				break
			}
			bufs = append(bufs, b)
		}
		n := len(bufs)
		if _, err := bufs.WriteTo(c.nc); err != nil {
			c.closeWith("write failed: " + err.Error())
			return
		}
		for _, b := range batch[:n] {
			recycleFrame(b)
		}
		c.mu.Lock()
		c.writing = false
		c.sent += uint64(n)
		c.mu.Unlock()
		for i := 0; i < n; i++ {
			c.srv.stats.send()
		}
		if closeHere {
			c.closeWith(c.reasonOr("closed after reply"))
			return
		}
	}
}

func (c *conn) reasonOr(def string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.reason != "" {
		return c.reason
	}
	return def
}

// serve runs the connection: handshake, then requests until EOF or error.
func (c *conn) serve() {
	log := c.srv.cfg.Logger
	wdone := make(chan struct{})
	go c.writeLoop(wdone)
	err := c.readLoop()
	c.mu.Lock()
	reason := c.reason
	c.mu.Unlock()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, stdnet.ErrClosed) && reason == "" {
		reason = err.Error()
	}
	// Every write submitted gets its answer (the pipeline guarantees it);
	// wait for them so their callbacks touch nothing freed, then let the
	// writer flush what is queued and close. A client that does not read
	// gets a bounded wait.
	c.mu.Lock()
	for c.inflight > 0 {
		c.icond.Wait()
	}
	c.mu.Unlock()
	c.closeAfterFlush(reason)
	select {
	case <-wdone:
	case <-time.After(2 * time.Second):
		c.closeWith(reason)
		<-wdone
	}
	c.closeWith(reason)
	c.nc.Close() // the reader and the writer have left (abort only shut it down)
	c.srv.proc.Watches(func(_ *tree.Tree, w *tree.Watches) []tree.Delivery {
		w.DropWatcher(c.id)
		return nil
	})
	c.srv.forget(c)
	if reason != "" {
		level := slog.LevelInfo
		if c.session() == 0 && c.srv.proc.Status().WritesRefused != "" {
			level = slog.LevelDebug // no session while writes are refused: said once already
		}
		log.Log(context.Background(), level, "connection closed", "remote", c.nc.RemoteAddr().String(),
			"session", sidString(c.session()), "reason", reason)
	}
}

// tlsHandshakeTimeout bounds a TLS handshake (ZooKeeper's
// ssl.handshakeDetectionTimeoutMillis default).
const tlsHandshakeTimeout = 5 * time.Second

// handshakeTLS makes nc a TLS connection (on a unified port, only if its
// first byte starts a TLS handshake record: plain is then true) and
// completes the handshake. A verified client certificate gives the
// connection the x509 id of its subject (auth), or refuses it without the
// x509 provider, as ZooKeeper does.
func (s *Server) handshakeTLS(nc stdnet.Conn, tc *tls.Config, unified bool) (conn stdnet.Conn, plain bool, auth []tree.Id, err error) {
	nc.SetDeadline(time.Now().Add(tlsHandshakeTimeout))
	defer nc.SetDeadline(time.Time{})
	raw := nc
	if unified {
		var b [1]byte
		if _, err := io.ReadFull(nc, b[:]); err != nil {
			return nil, false, nil, fmt.Errorf("reading the first byte: %w", err)
		}
		raw = &replayConn{Conn: nc, first: b[:]}
		if b[0] != 0x16 { // not a TLS handshake record: plain text
			return raw, true, nil, nil
		}
	}
	t := tls.Server(raw, tc)
	if err := t.Handshake(); err != nil {
		return nil, false, nil, fmt.Errorf("TLS handshake failed: %w", err)
	}
	if st := t.ConnectionState(); len(st.VerifiedChains) > 0 {
		if !s.cfg.X509 {
			return nil, false, nil, errors.New("the client presented a certificate but no x509 authentication provider is configured " +
				"(zoo.cfg: authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider, or ssl.clientAuth=none), as ZooKeeper refuses it")
		}
		auth = []tree.Id{{Scheme: tree.SchemeX509, ID: secure.ClientID(st.PeerCertificates[0])}}
	}
	return t, false, auth, nil
}

// replayConn gives back the bytes read to tell TLS from plain text before
// the connection's own.
type replayConn struct {
	stdnet.Conn
	first []byte
}

func (r *replayConn) Read(b []byte) (int, error) {
	if len(r.first) > 0 {
		n := copy(b, r.first)
		r.first = r.first[n:]
		return n, nil
	}
	return r.Conn.Read(b)
}

func (c *conn) readLoop() error {
	br := bufio.NewReaderSize(c.nc, 64<<10)
	first, err := br.Peek(4)
	if err != nil {
		return err
	}
	if word, ok := jute.IsFourLetterWord(first); ok {
		c.fourLetter(word)
		return nil
	}
	maxBuf := c.srv.cfg.MaxBuffer
	// Allow a little slack for the record around the data, as ZooKeeper's
	// check is on the whole packet.
	buf := make([]byte, 0, 4096)
	frame, err := jute.ReadFrame(br, maxBuf, buf)
	if err != nil {
		return c.protocolError("reading connect request", err)
	}
	if !c.handshake(frame) {
		return nil
	}
	if c.rawRead != nil {
		// What the handshake's reads buffered beyond its frame is the
		// start of the requests.
		pending, _ := br.Peek(br.Buffered())
		return c.readRaw(pending)
	}
	for {
		frame, err := jute.ReadFrame(br, maxBuf, buf[:0])
		if err != nil {
			if errors.Is(err, io.EOF) || c.isClosing() {
				return nil
			}
			return c.protocolError("reading request", err)
		}
		if stop, err := c.request(frame); stop || err != nil {
			return err
		}
		if len(frame) > 4096 {
			buf = make([]byte, 0, 4096) // do not pin a large frame's buffer
		}
	}
}

// request decodes and handles one request frame; stop: the connection
// reads no more (closing, or a reply that ends it is queued), err: the
// protocol error that ends it. frame is the reader's and is reused after.
func (c *conn) request(frame []byte) (stop bool, err error) {
	c.srv.stats.recv()
	hdr, req, err := jute.DecodeRequest(frame)
	switch {
	case err == nil:
	case errors.Is(err, jute.ErrUnknownOp):
		c.waitWrites()
		// ZooKeeper answers an unknown op with Unimplemented, then
		// drops the connection.
		c.srv.cfg.Logger.Warn("closing connection: unknown op code",
			"remote", c.nc.RemoteAddr().String(), "session", sidString(c.session()), "op", int32(hdr.Op))
		c.sendReply(hdr.Xid, c.lastZxidNow(), hdr.Op, tree.Result{Err: tree.CodeUnimplemented})
		c.closeAfterFlush("unknown op code " + hdr.Op.String())
		return true, nil
	case errors.Is(err, jute.ErrMalformed) && len(frame) >= 8:
		c.waitWrites() // answered in its place: after earlier writes
		// The header decoded but the record did not: ZooKeeper
		// answers MarshallingError to that xid and goes on.
		c.srv.cfg.Logger.Warn("malformed request", "remote", c.nc.RemoteAddr().String(),
			"session", sidString(c.session()), "op", hdr.Op.String(), "err", err)
		body := jute.AppendReply(nil, hdr.Xid, c.lastZxidNow(), hdr.Op, tree.Result{Err: tree.CodeMarshallingError})
		if hdr.Op == tree.OpMultiRead {
			// 3.8 follows the header with an empty MultiResponse
			// (just the done marker) for a multiRead.
			body = jute.AppendInt(body, -1)
			body = jute.AppendBool(body, true)
			body = jute.AppendInt(body, -1)
		}
		c.enqueue(jute.AppendFrame(nil, body))
		return false, nil
	default:
		return true, c.protocolError("decoding "+hdr.Op.String()+" request", err)
	}
	return !c.handle(hdr, req, int64(len(frame))), nil
}

func (c *conn) isReadOnly() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readOnly
}

func (c *conn) isClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closing
}

func (c *conn) protocolError(what string, err error) error {
	if c.isClosing() {
		return nil
	}
	c.srv.cfg.Logger.Warn("closing connection: bad client input",
		"remote", c.nc.RemoteAddr().String(), "session", sidString(c.session()),
		"while", what, "err", err)
	c.mu.Lock()
	if c.reason == "" {
		c.reason = what + ": " + err.Error()
	}
	c.mu.Unlock()
	return nil
}

func (c *conn) lastZxidNow() int64 { return c.srv.proc.LastZxid() }

// handshake answers the connect request: a new session, or re-attachment
// to a live one. An invalid re-attach gets ZooKeeper's "expired" answer
// (session id 0, timeout 0) and the connection closes.
func (c *conn) handshake(frame []byte) bool {
	cr, err := jute.DecodeConnectRequest(frame)
	if err != nil {
		c.protocolError("decoding connect request", err)
		return false
	}
	c.srv.stats.recv()
	if cr.LastZxidSeen > c.srv.proc.LastZxid() {
		c.mu.Lock()
		c.reason = "client has seen a newer zxid than this server; it must try another"
		c.mu.Unlock()
		return false
	}
	timeout := time.Duration(cr.TimeOut) * time.Millisecond
	timeout = max(timeout, c.srv.cfg.MinSessionTimeout)
	timeout = min(timeout, c.srv.cfg.MaxSessionTimeout)
	respond := func(sid SessionID, passwd []byte, to time.Duration, readOnly bool) {
		resp := jute.ConnectResponse{TimeOut: int32(to.Milliseconds()), SessionID: int64(sid), Passwd: passwd,
			ReadOnly: readOnly, Legacy: cr.Legacy}
		c.enqueue(jute.AppendFrame(nil, jute.AppendConnectResponse(nil, resp)))
	}
	if cr.SessionID != 0 {
		sid := SessionID(cr.SessionID)
		ok, readOnly, err := c.srv.proc.ResumeSession(sid, cr.Passwd, timeout)
		if err != nil {
			c.mu.Lock()
			c.reason = "re-attach deferred: " + err.Error()
			c.mu.Unlock()
			return false
		}
		if !ok {
			respond(0, make([]byte, 16), 0, false)
			c.closeAfterFlush("re-attach refused: session expired, unknown, or wrong password")
			return false
		}
		c.establish(sid, timeout, readOnly)
		respond(sid, cr.Passwd, timeout, readOnly)
		c.srv.cfg.Logger.Debug("session re-attached", "session", sidString(sid), "remote", c.nc.RemoteAddr().String(), "timeout", timeout,
			"read_only", readOnly)
		return true
	}
	type created struct {
		sid      SessionID
		passwd   []byte
		readOnly bool
		err      error
	}
	ch := make(chan created, 1)
	c.srv.proc.CreateSession(timeout, c.nc.RemoteAddr().String(), cr.ReadOnly, func(sid SessionID, passwd []byte, readOnly bool, err error) {
		ch <- created{sid, passwd, readOnly, err}
	})
	r := <-ch
	if r.err != nil {
		c.mu.Lock()
		c.reason = "creating session: " + r.err.Error()
		if !cr.ReadOnly {
			c.reason += " (the client does not accept a read-only session)"
		}
		c.mu.Unlock()
		return false
	}
	c.establish(r.sid, timeout, r.readOnly)
	respond(r.sid, r.passwd, timeout, r.readOnly)
	c.srv.cfg.Logger.Debug("session created", "session", sidString(r.sid), "remote", c.nc.RemoteAddr().String(), "timeout", timeout,
		"read_only", r.readOnly)
	return true
}

func (c *conn) establish(sid SessionID, timeout time.Duration, readOnly bool) {
	c.mu.Lock()
	c.sid = sid
	c.readOnly = readOnly
	c.timeout = timeout
	c.established = c.srv.cfg.Now()
	c.mu.Unlock()
	c.srv.attach(c, sid)
}

// handle dispatches one request; false ends the connection.
// handle answers one request; size is its frame's length. It returns false
// when the connection is done.
func (c *conn) handle(hdr jute.RequestHeader, req tree.Request, size int64) bool {
	p := c.srv.proc
	c.mu.Lock()
	sid := c.sid
	req.Auth = c.auth
	c.received++
	c.lastOp = opAbbrev(hdr.Op)
	if hdr.Xid >= 0 {
		c.lastCxid = hdr.Xid
	}
	c.mu.Unlock()
	if !p.Touch(sid) && hdr.Op != tree.OpCloseSession {
		c.closeWith("session expired")
		return false
	}
	start := c.srv.cfg.Now()
	if c.srv.cfg.RequireSASL && hdr.Op != tree.OpAuth && hdr.Op != tree.OpSASL && !c.saslDone() {
		// ZooKeeper's enforce.auth: every other request of a session not
		// yet authenticated by SASL, pings too, gets a bare header with
		// SessionClosedRequireSASLAuth, and the connection closes.
		c.enqueue(jute.AppendFrame(nil, jute.AppendReplyHeader(nil,
			jute.ReplyHeader{Xid: hdr.Xid, Zxid: c.lastZxidNow(), Err: tree.CodeSessionClosedRequireSASLAuth})))
		c.closeAfterFlush("SASL authentication required (sessionRequireClientSASLAuth, enforce.auth.enabled)")
		return false
	}
	switch hdr.Op {
	case tree.OpPing:
		c.sendReply(hdr.Xid, c.lastZxidNow(), tree.OpPing, tree.Result{})
		return true
	case tree.OpAuth:
		c.waitWrites()
		ids, err := tree.Authenticate(req.Scheme, req.Cred, c.srv.cfg.SuperDigest)
		if err != nil {
			// ZooKeeper answers AuthFailed and closes the connection.
			c.srv.authFailed.Add(1)
			c.sendReply(hdr.Xid, c.lastZxidNow(), tree.OpAuth, tree.Result{Err: tree.CodeAuthFailed})
			c.closeAfterFlush("authentication failed for scheme " + req.Scheme)
			return false
		}
		c.mu.Lock()
		before := len(c.auth)
		auth := dedupIDs(append(append([]tree.Id(nil), c.auth...), ids...))
		c.auth = auth
		c.mu.Unlock()
		if len(auth) > before && !c.isReadOnly() {
			c.logIdentities(sid, hdr.Xid, auth)
		}
		c.sendReply(hdr.Xid, c.lastZxidNow(), tree.OpAuth, tree.Result{})
		return true
	case tree.OpSetWatches, tree.OpSetWatches2:
		c.waitWrites()
		sw := req // the closure's own copy: req itself stays on the stack
		p.Watches(func(t *tree.Tree, w *tree.Watches) []tree.Delivery {
			return w.SetWatches(c.id, sw, t)
		})
		c.sendReply(hdr.Xid, c.lastZxidNow(), hdr.Op, tree.Result{})
		return true
	case tree.OpCloseSession:
		c.waitWrites()
		done := make(chan struct{})
		p.CloseSession(sid, func(res tree.Result, err error) {
			if err != nil {
				res = tree.Result{Err: tree.CodeOf(err)}
			}
			c.srv.cfg.Logger.Debug("session closed by its client", "session", sidString(sid), "remote", c.nc.RemoteAddr().String(), "err", err)
			c.sendReply(hdr.Xid, res.Zxid, hdr.Op, res)
			close(done)
		})
		<-done
		c.closeAfterFlush("")
		return false
	case tree.OpWhoAmI:
		c.waitWrites()
		c.mu.Lock()
		ids := c.auth
		c.mu.Unlock()
		c.sendReply(hdr.Xid, c.lastZxidNow(), hdr.Op, tree.Result{Identity: whoAmI(ids)})
		return true
	case tree.OpAddWatch, tree.OpCheckWatches, tree.OpRemoveWatches:
		c.waitWrites()
		path, mode, wtype := req.Path, req.WatchMode, req.WatcherType
		p.Watches(func(t *tree.Tree, w *tree.Watches) []tree.Delivery {
			var code tree.Code
			switch hdr.Op {
			case tree.OpAddWatch:
				code = w.AddPersistent(c.id, path, mode)
			case tree.OpCheckWatches:
				code = w.Check(c.id, path, wtype)
			default:
				code = w.Remove(c.id, path, wtype)
			}
			// Queued while no write can fire the watch: a client files
			// a persistent watch when this reply arrives.
			c.sendReply(hdr.Xid, t.LastZxid(), hdr.Op, tree.Result{Err: code})
			return nil
		})
		return true
	case tree.OpSASL:
		c.waitWrites()
		return c.stepSASL(sid, hdr.Xid, req.Cred)
	}
	if c.isReadOnly() && (hdr.Op.IsWrite() || hdr.Op == tree.OpSync) {
		// A read-only session, as Apache ZooKeeper's read-only server
		// (ReadOnlyRequestProcessor): every write and sync is answered
		// with a bare ReplyHeader carrying NotReadOnly and the last zxid.
		c.enqueue(jute.AppendFrame(nil, jute.AppendReplyHeader(nil,
			jute.ReplyHeader{Xid: hdr.Xid, Zxid: c.lastZxidNow(), Err: tree.CodeNotReadOnly})))
		return true
	}
	if hdr.Op.IsWrite() || hdr.Op == tree.OpSync {
		// Room on this connection, then in the server's budget; until
		// there is, nothing more is read from this client.
		maxBytes := c.srv.cfg.MaxConnOutstandingBytes
		c.mu.Lock()
		for (c.inflight >= maxInflight || (c.inflight > 0 && c.inflightBytes+size > maxBytes)) && !c.closing {
			c.icond.Wait()
		}
		if c.closing {
			// Closed while waiting for room (expired, say): submit
			// nothing more for this session.
			c.mu.Unlock()
			return false
		}
		c.inflight++
		c.inflightBytes += size
		c.mu.Unlock()
		if !c.srv.budget.acquire(size, c.isClosing) {
			c.mu.Lock()
			c.inflight--
			c.inflightBytes -= size
			c.icond.Broadcast()
			c.mu.Unlock()
			return false
		}
		op, xid := hdr.Op, hdr.Xid
		req.Cxid = xid // logged in the txn header, as ZooKeeper's cxid
		p.Submit(sid, req, func(res tree.Result, err error) {
			if err != nil {
				// Debug: the processor logs why it refuses writes once,
				// not once per request of every client.
				c.srv.cfg.Logger.Debug("write not accepted", "session", sidString(sid), "op", op.String(), "err", err)
				res = tree.Result{Err: tree.CodeOf(err)}
				if res.Err == tree.CodeSystemError {
					// ZooKeeper answers requests it cannot process
					// with ConnectionLoss-like closure; we say why.
					res.Err = tree.CodeSystemError
				}
			}
			zxid := res.Zxid
			if zxid == 0 {
				zxid = c.lastZxidNow()
			}
			if res.Err == tree.CodeSessionMoved {
				// As ZooKeeper: the session moved to another server,
				// so this connection is stale; it closes unanswered
				// and the client learns the truth from where it went.
				c.closeWith("session moved to another server")
			} else {
				c.sendWriteReply(xid, zxid, op, res)
			}
			now := c.srv.cfg.Now()
			c.srv.stats.latency(now.Sub(start))
			if obs := c.srv.cfg.ObserveRequest; obs != nil {
				obs(op, true, now.Sub(start))
			}
			c.srv.budget.release(size)
			c.mu.Lock()
			c.inflight--
			c.inflightBytes -= size
			c.lastZxid = zxid
			c.lat.add(now.Sub(start), now)
			c.icond.Broadcast()
			c.mu.Unlock()
		})
		return true
	}
	// a read: answered after this connection's earlier writes
	c.waitWrites()
	c.readXid, c.readOp = hdr.Xid, hdr.Op
	p.Read(sid, c.id, req, c.answerRead)
	now := c.srv.cfg.Now()
	c.srv.stats.latency(now.Sub(start))
	if obs := c.srv.cfg.ObserveRequest; obs != nil {
		obs(hdr.Op, false, now.Sub(start))
	}
	c.mu.Lock()
	c.lastZxid = c.readZxid
	c.lat.add(now.Sub(start), now)
	c.mu.Unlock()
	return true
}

// logIdentities logs an auth txn saying the session is authenticated as
// ids from now on (zabd's: ZooKeeper logs no addauth), ordered before the
// session's later writes, so an audit of the log knows who made each
// change. The identities hold for this connection whatever happens to the
// txn: with writes refused (a full disk) there is no later write to audit.
func (c *conn) logIdentities(sid SessionID, xid int32, ids []tree.Id) {
	done := make(chan error, 1)
	c.srv.proc.Submit(sid, tree.Request{Op: tree.OpAuth, Cxid: xid, Auth: ids}, func(res tree.Result, err error) {
		if err == nil && res.Err != tree.CodeOK {
			err = res.Err
		}
		done <- err
	})
	if err := <-done; err != nil {
		c.srv.cfg.Logger.Debug("addauth not logged", "session", sidString(sid), "err", err)
	}
}

// stepSASL takes one SASL token (DIGEST-MD5, ZooKeeper's JAAS users) and
// answers the next. Done, the connection carries sasl:<user> (and super
// for a super user), logged as addauth's ids are. A failure is answered
// AuthFailed with a null token and closes the connection, as ZooKeeper
// does; without SASL users configured a token is answered OK and null,
// as ZooKeeper answers it without a JAAS Server section.
func (c *conn) stepSASL(sid SessionID, xid int32, token []byte) bool {
	cfg := c.srv.cfg.SASL
	if cfg == nil {
		c.sendReply(xid, 0, tree.OpSASL, tree.Result{})
		return true
	}
	if c.sasl == nil {
		c.sasl = sasl.NewDigestMD5(cfg.Users, rand.Reader)
	}
	out, err := c.sasl.Step(token)
	if err != nil {
		c.srv.authFailed.Add(1)
		c.srv.refused.log(c.srv.cfg.Logger, c.srv.cfg.Now(), "SASL authentication failed", "remote", c.nc.RemoteAddr().String(), "session", sidString(sid), "err", err)
		c.sendReply(xid, 0, tree.OpSASL, tree.Result{Err: tree.CodeAuthFailed})
		c.closeAfterFlush("SASL authentication failed")
		return false
	}
	if c.sasl.Done() {
		user := c.sasl.AuthorizationID()
		ids := []tree.Id{{Scheme: tree.SchemeSASL, ID: user}}
		if cfg.SuperUsers[user] {
			ids = append(ids, tree.Id{Scheme: tree.SchemeSuper, ID: ""})
		}
		c.mu.Lock()
		before := len(c.auth)
		auth := dedupIDs(append(append([]tree.Id(nil), c.auth...), ids...))
		c.auth = auth
		c.saslOK = true
		c.mu.Unlock()
		if len(auth) > before && !c.isReadOnly() {
			c.logIdentities(sid, xid, auth)
		}
	}
	c.sendReply(xid, 0, tree.OpSASL, tree.Result{Data: out})
	return true
}

// saslDone reports whether SASL authenticated this connection.
func (c *conn) saslDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saslOK
}

// queueReadReply queues the reply to the read being answered.
func (c *conn) queueReadReply(res tree.Result) {
	c.readZxid = res.Zxid
	c.sendReply(c.readXid, res.Zxid, c.readOp, res)
}

// waitWrites blocks until every write this connection submitted has been
// answered.
func (c *conn) waitWrites() {
	c.mu.Lock()
	for c.inflight > 0 && !c.closing {
		c.icond.Wait()
	}
	c.mu.Unlock()
}

func dedupIDs(ids []tree.Id) []tree.Id {
	out := ids[:0:0]
	seen := make(map[tree.Id]bool, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// opAbbrev is ZooKeeper's short name of an op in cons output (Request.op2String).
func opAbbrev(op tree.Op) string {
	switch op {
	case tree.OpCreate, tree.OpCreate2, tree.OpCreateContainer, tree.OpCreateTTL:
		return "CREA"
	case tree.OpDelete, tree.OpDeleteContainer:
		return "DELE"
	case tree.OpExists:
		return "EXIS"
	case tree.OpGetData:
		return "GETD"
	case tree.OpSetData:
		return "SETD"
	case tree.OpGetACL:
		return "GETA"
	case tree.OpSetACL:
		return "SETA"
	case tree.OpGetChildren, tree.OpGetChildren2:
		return "GETC"
	case tree.OpSync:
		return "SYNC"
	case tree.OpPing:
		return "PING"
	case tree.OpMulti, tree.OpMultiRead:
		return "MULT"
	case tree.OpCloseSession:
		return "CLOS"
	case tree.OpSetWatches, tree.OpSetWatches2:
		return "SETW"
	case tree.OpAuth:
		return "AUTH"
	case tree.OpCheck:
		return "CHEC"
	}
	return op.String()
}
