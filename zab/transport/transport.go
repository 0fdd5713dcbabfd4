package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	stdnet "net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"zabd/zab/peer"
)

// Addrs are a member's two listening addresses, "host:port".
type Addrs struct {
	Quorum, Election string
}

// Config configures a Transport.
type Config struct {
	// ID is this member.
	ID peer.ID
	// Peers are the addresses of every member, this one included: it
	// listens on its own (a port of 0 picks a free one; see Addrs).
	Peers map[peer.ID]Addrs
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// MaxMessageBytes bounds an encoded message, in both directions
	// (default 256 MiB: a whole snapshot travels in one Snap message).
	MaxMessageBytes int
	// QueueLen is the length of each outbound queue, one per member and
	// port, and of Recv (default 4096 messages). Send drops a message
	// whose queue is full.
	QueueLen int
	// WriteTimeout fails a connection on which a write of up to 1 MiB
	// makes no progress for this long (default 30s).
	WriteTimeout time.Duration
	// Dial opens outbound connections (default a net.Dialer); tests
	// inject faults with it.
	Dial func(ctx context.Context, network, addr string) (stdnet.Conn, error)
	// Filter, if set, is consulted for every message sent and received;
	// false drops it. Tests partition members with it. See SetFilter.
	Filter func(from, to peer.ID) bool
	// ServerTLS, if set, makes both ports TLS (sslQuorum): every inbound
	// connection handshakes with it (it should require and verify the
	// member's certificate) before its first message.
	ServerTLS *tls.Config
	// ClientTLS, if set, gives the configuration to dial addr with over
	// TLS (made at each dial, so rotated certificates are used from the
	// next connection on).
	ClientTLS func(addr string) *tls.Config
	// OnBroken, if set, is told when the quorum-port connection from a
	// member ends and no newer one replaced it (the member died, or the
	// link broke): a learner need not wait out syncLimit to notice its
	// leader is gone. Called on the connection's reader; must not block.
	OnBroken func(from peer.ID)
}

// Stats are a Transport's counters since New.
type Stats struct {
	Sent     uint64 // messages written to a connection
	Received uint64 // messages delivered on Recv
	// Dropped counts messages sent but never written (full queue, unknown
	// member, unreachable member, failed write, unencodable, Filter,
	// Close) and messages received but dropped by the Filter. Once Close
	// has returned, every Send is counted in Sent or Dropped.
	Dropped uint64
	// Connected are the members this one holds an outbound connection to
	// (either port), ascending.
	Connected []peer.ID
}

const (
	dialTimeout      = 5 * time.Second
	handshakeTimeout = 10 * time.Second
	backoffMin       = 50 * time.Millisecond
	backoffMax       = time.Second
	bufSize          = 64 << 10
)

// Transport sends and receives the messages of one member. Its methods
// are safe for concurrent use.
type Transport struct {
	cfg    Config
	log    *slog.Logger
	addrs  Addrs
	lns    [2]stdnet.Listener
	links  map[linkKey]*link
	recv   chan peer.Message
	filter atomic.Pointer[func(from, to peer.ID) bool]

	ctx    context.Context // cancelled by Close, for dials
	cancel context.CancelFunc
	done   chan struct{} // closed by Close

	sendMu  sync.RWMutex // Send holds it shared; Close exclusively to set closing
	closing bool

	mu      sync.Mutex
	conns   map[stdnet.Conn]struct{} // every open connection, for Close
	inbound map[linkKey]stdnet.Conn  // the newest inbound connection per member and port

	wg                      sync.WaitGroup
	sent, received, dropped atomic.Uint64
}

type linkKey struct {
	id   peer.ID
	kind kind
}

// link is the outbound side towards one member on one port, served by one
// sender goroutine.
type link struct {
	linkKey
	addr      string
	queue     chan peer.Message
	connected atomic.Bool
}

// New listens on this member's quorum and election addresses and starts
// a sender for every other member and port.
func New(cfg Config) (*Transport, error) {
	own, ok := cfg.Peers[cfg.ID]
	if !ok {
		return nil, fmt.Errorf("transport: member %d is not among Peers", cfg.ID)
	}
	for id, a := range cfg.Peers {
		if a.Quorum == "" || a.Election == "" {
			return nil, fmt.Errorf("transport: member %d lacks an address: %+v", id, a)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 256 << 20
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 4096
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.Dial == nil {
		cfg.Dial = (&stdnet.Dialer{}).DialContext
	}
	t := &Transport{
		cfg:     cfg,
		log:     cfg.Logger,
		links:   make(map[linkKey]*link),
		recv:    make(chan peer.Message, cfg.QueueLen),
		done:    make(chan struct{}),
		conns:   make(map[stdnet.Conn]struct{}),
		inbound: make(map[linkKey]stdnet.Conn),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.SetFilter(cfg.Filter)
	for k, addr := range [...]string{quorumPort: own.Quorum, electionPort: own.Election} {
		ln, err := stdnet.Listen("tcp", addr)
		if err != nil {
			if k > 0 {
				t.lns[0].Close()
			}
			t.cancel()
			return nil, fmt.Errorf("transport: %s port: %w", kind(k), err)
		}
		t.lns[k] = ln
	}
	t.addrs = Addrs{Quorum: t.lns[quorumPort].Addr().String(), Election: t.lns[electionPort].Addr().String()}
	for k, ln := range t.lns {
		t.wg.Add(1)
		go t.accept(ln, kind(k))
	}
	for id, a := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		for k, addr := range [...]string{quorumPort: a.Quorum, electionPort: a.Election} {
			l := &link{linkKey: linkKey{id, kind(k)}, addr: addr, queue: make(chan peer.Message, cfg.QueueLen)}
			t.links[l.linkKey] = l
			t.wg.Add(1)
			go t.runSender(l)
		}
	}
	return t, nil
}

// Addrs returns the addresses this member listens on, with the ports it
// bound.
func (t *Transport) Addrs() Addrs { return t.addrs }

// SetFilter replaces Config.Filter; nil lets every message through.
func (t *Transport) SetFilter(f func(from, to peer.ID) bool) {
	if f == nil {
		t.filter.Store(nil)
		return
	}
	t.filter.Store(&f)
}

func (t *Transport) allowed(from, to peer.ID) bool {
	f := t.filter.Load()
	return f == nil || (*f)(from, to)
}

// Send queues m for m.To and returns at once; it drops m when the queue
// is full, m.To is unknown or the Transport is closed. Vote messages go
// over the election port, the others over the quorum port. The transport
// reads m's byte slices until it has written m: the caller must not
// change them after Send.
func (t *Transport) Send(m peer.Message) {
	if _, ok := m.Snapshot.([]byte); m.Snapshot != nil && !ok {
		t.log.Error("transport: dropping a message whose snapshot is not []byte", "message", m, "type", fmt.Sprintf("%T", m.Snapshot))
		t.dropped.Add(1)
		return
	}
	if !t.allowed(t.cfg.ID, m.To) {
		t.dropped.Add(1)
		return
	}
	k := quorumPort
	if m.Type == peer.Vote {
		k = electionPort
	}
	l := t.links[linkKey{m.To, k}]
	if l == nil {
		t.log.Debug("transport: dropping a message to an unknown member", "message", m)
		t.dropped.Add(1)
		return
	}
	t.sendMu.RLock()
	defer t.sendMu.RUnlock()
	if t.closing {
		t.dropped.Add(1)
		return
	}
	select {
	case l.queue <- m:
	default:
		t.log.Debug("transport: queue full, dropping", "message", m)
		t.dropped.Add(1)
	}
}

// Recv returns the messages received from every member, in the order
// each connection delivered them. Close closes it.
func (t *Transport) Recv() <-chan peer.Message { return t.recv }

// Stats returns the counters.
func (t *Transport) Stats() Stats {
	s := Stats{Sent: t.sent.Load(), Received: t.received.Load(), Dropped: t.dropped.Load()}
	for _, l := range t.links {
		if l.connected.Load() && !slices.Contains(s.Connected, l.id) {
			s.Connected = append(s.Connected, l.id)
		}
	}
	slices.Sort(s.Connected)
	return s
}

// Close closes the listeners and every connection, drops what is queued,
// waits for its goroutines and closes Recv.
func (t *Transport) Close() error {
	t.sendMu.Lock()
	if t.closing {
		t.sendMu.Unlock()
		return nil
	}
	t.closing = true
	t.sendMu.Unlock()
	t.mu.Lock()
	close(t.done)
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.cancel()
	var err error
	for _, ln := range t.lns {
		err = errors.Join(err, ln.Close())
	}
	t.wg.Wait()
	close(t.recv)
	return err
}

// track registers c for Close; false (and c closed) once closing.
func (t *Transport) track(c stdnet.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	select {
	case <-t.done:
		c.Close()
		return false
	default:
		t.conns[c] = struct{}{}
		return true
	}
}

func (t *Transport) closeConn(c stdnet.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

// runSender serves one link: it dials on the first message, writes every
// message queued in one batch, and after a failure drops the message in
// hand, closes the connection and redials with backoff on the next one.
func (t *Transport) runSender(l *link) {
	defer t.wg.Done()
	log := t.log.With("peer", l.id, "port", l.kind)
	var (
		conn    stdnet.Conn
		w       *bufio.Writer
		backoff time.Duration
		scratch []byte
	)
	fail := func(n int, what string, err error) {
		t.dropped.Add(uint64(n))
		level := slog.LevelDebug
		select {
		case <-t.done:
		default:
			if backoff == 0 { // the first failure after a success
				level = slog.LevelInfo
			}
		}
		log.Log(context.Background(), level, "transport: "+what+" failed; dropping", "dropped", n, "err", err)
		if conn != nil {
			t.closeConn(conn)
			conn = nil
			l.connected.Store(false)
		}
		backoff = min(max(2*backoff, backoffMin), backoffMax)
	}
	for {
		var m peer.Message
		select {
		case m = <-l.queue:
		case <-t.done:
			if conn != nil {
				t.closeConn(conn)
				l.connected.Store(false)
			}
			t.dropped.Add(uint64(len(l.queue))) // Send no longer enqueues
			return
		}
		if conn == nil {
			if backoff > 0 {
				timer := time.NewTimer(backoff)
				select {
				case <-timer.C:
				case <-t.done:
					timer.Stop()
				}
			}
			c, err := t.dial(l)
			if err != nil {
				n := 1
				for range len(l.queue) { // stale by the time a redial succeeds
					<-l.queue
					n++
				}
				fail(n, "dial", err)
				continue
			}
			conn, w = c, bufio.NewWriterSize(deadlineWriter{c, t.cfg.WriteTimeout}, bufSize)
			l.connected.Store(true)
			writeFrame(w, appendHandshake(nil, l.kind, t.cfg.ID, l.id), nil) // leaves with the first batch
		}
		n, err := 0, error(nil)
		// Let the goroutines already runnable go first (the member's
		// loop, its forwarder, a pipeline's applier): what they send this
		// member joins this write instead of needing one of its own. On
		// loopback a write also runs the receiver's TCP input and wakes
		// it, so under load this halves the writes per replicated create
		// for a few hundred nanoseconds of scheduling; with nothing else
		// runnable it returns at once.
		runtime.Gosched()
		for {
			var head, tail []byte
			head, tail, err = appendMessage(scratch[:0], &m)
			if err == nil && len(head)+len(tail) > t.cfg.MaxMessageBytes {
				err = fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(head)+len(tail), t.cfg.MaxMessageBytes)
			}
			if err != nil { // the message's fault, not the connection's
				log.Error("transport: cannot send", "message", m, "err", err)
				t.dropped.Add(1)
			} else {
				n++
				if err = writeFrame(w, head, tail); err != nil {
					break
				}
			}
			if scratch = head; cap(scratch) > 1<<20 {
				scratch = nil
			}
			select {
			case m = <-l.queue:
				continue
			default:
			}
			break
		}
		if err == nil {
			err = w.Flush()
		}
		if err != nil {
			fail(n, "write", err)
			continue
		}
		t.sent.Add(uint64(n))
		backoff = 0
	}
}

// dial connects l. A goroutine watches the connection for the peer closing
// it, since nothing is read from it otherwise.
func (t *Transport) dial(l *link) (stdnet.Conn, error) {
	ctx, cancel := context.WithTimeout(t.ctx, dialTimeout)
	defer cancel()
	c, err := t.cfg.Dial(ctx, "tcp", l.addr)
	if err != nil {
		return nil, err
	}
	if t.cfg.ClientTLS != nil {
		tc := tls.Client(c, t.cfg.ClientTLS(l.addr))
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("transport: TLS handshake with %s: %w", l.addr, err)
		}
		c = tc
	}
	if !t.track(c) {
		return nil, errors.New("transport: closed")
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		var b [1]byte
		c.Read(b[:]) // EOF, an error or a byte the peer should not send
		t.closeConn(c)
	}()
	return c, nil
}

// deadlineWriter writes to a connection in pieces of at most 1 MiB, each
// within timeout.
type deadlineWriter struct {
	c       stdnet.Conn
	timeout time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		d.c.SetWriteDeadline(time.Now().Add(d.timeout))
		k, err := d.c.Write(p[n:min(len(p), n+1<<20)])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// accept serves one listening port.
func (t *Transport) accept(ln stdnet.Listener, k kind) {
	defer t.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			select {
			case <-t.done:
				return
			default:
			}
			t.log.Warn("transport: accept failed", "port", k, "err", err)
			timer := time.NewTimer(backoffMin)
			select {
			case <-timer.C:
			case <-t.done:
				timer.Stop()
			}
			continue
		}
		if t.cfg.ServerTLS != nil {
			c = tls.Server(c, t.cfg.ServerTLS) // the handshake happens within the first read's deadline
		}
		if !t.track(c) {
			return
		}
		t.wg.Add(1)
		go t.serveInbound(c, k)
	}
}

// serveInbound reads one inbound connection until it fails or is closed.
func (t *Transport) serveInbound(c stdnet.Conn, k kind) {
	defer t.wg.Done()
	defer t.closeConn(c)
	log := t.log.With("remote", c.RemoteAddr(), "port", k)
	r := bufio.NewReaderSize(c, bufSize)
	c.SetReadDeadline(time.Now().Add(handshakeTimeout))
	from, err := t.readHandshake(r, k)
	if err != nil {
		log.Warn("transport: rejecting a connection", "err", err)
		return
	}
	c.SetReadDeadline(time.Time{})
	key := linkKey{from, k}
	t.mu.Lock()
	if old := t.inbound[key]; old != nil {
		old.Close() // its reader finds out and leaves
	}
	t.inbound[key] = c
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		current := t.inbound[key] == c
		if current {
			delete(t.inbound, key)
		}
		t.mu.Unlock()
		select {
		case <-t.done:
			return
		default:
		}
		if current && k == quorumPort && t.cfg.OnBroken != nil {
			t.cfg.OnBroken(from)
		}
	}()
	log = log.With("peer", from)
	for {
		body, err := readFrame(r, t.cfg.MaxMessageBytes)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, stdnet.ErrClosed) {
				log.Debug("transport: connection closed", "err", err)
			} else {
				log.Warn("transport: closing connection", "err", err)
			}
			return
		}
		m, err := decodeMessage(body)
		if err == nil && (m.From != from || m.To != t.cfg.ID) {
			err = fmt.Errorf("transport: message %d->%d on the connection from %d to %d", m.From, m.To, from, t.cfg.ID)
		}
		if err != nil {
			log.Warn("transport: closing connection", "err", err)
			return
		}
		if !t.allowed(from, t.cfg.ID) {
			t.dropped.Add(1)
			continue
		}
		// Counted before the hand-off, so a Stats taken after Recv
		// returns the message includes it.
		t.received.Add(1)
		select {
		case t.recv <- m:
		case <-t.done:
			t.received.Add(^uint64(0))
			return
		}
	}
}

func (t *Transport) readHandshake(r *bufio.Reader, port kind) (peer.ID, error) {
	body, err := readFrame(r, handshakeMax)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	k, from, to, err := decodeHandshake(body)
	switch {
	case err != nil:
		return 0, err
	case k != port:
		return 0, fmt.Errorf("%w: %s handshake on the %s port", ErrHandshake, k, port)
	case to != t.cfg.ID:
		return 0, fmt.Errorf("%w: for member %d, this is %d", ErrHandshake, to, t.cfg.ID)
	case from == t.cfg.ID || t.cfg.Peers[from] == (Addrs{}):
		return 0, fmt.Errorf("%w: from unknown member %d", ErrHandshake, from)
	}
	return from, nil
}
