package net

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	stdnet "net"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"zabd/tree"
)

// DefaultMaxBuffer is jute.maxbuffer's default: the largest frame accepted.
const DefaultMaxBuffer = 0xfffff

// Defaults of the bounds on writes in flight (see Config).
const (
	DefaultGlobalOutstandingLimit  = 1000 // ZooKeeper's globalOutstandingLimit default
	DefaultGlobalOutstandingBytes  = 64 << 20
	DefaultMaxConnOutstandingBytes = 16 << 20
)

// DefaultFourLetterWords is the default 4lw.commands.whitelist: the
// harmless, read-only ones.
var DefaultFourLetterWords = []string{"ruok", "srvr", "stat", "mntr", "isro"}

// FourLetterWords are the four-letter words zabd answers.
var FourLetterWords = []string{"ruok", "srvr", "stat", "conf", "cons", "crst", "srst", "envi", "mntr", "wchs", "wchc", "wchp", "dirs", "isro"}

// ZooKeeperOnlyFourLetterWords are Apache ZooKeeper's words that zabd does
// not answer (a whitelist may name them; asked, they get "not supported").
var ZooKeeperOnlyFourLetterWords = []string{"dump", "gtmk", "stmk", "hash"}

// Config configures the client server. Zero values take the defaults noted.
type Config struct {
	TickTime          time.Duration // default 2s
	MinSessionTimeout time.Duration // default 2 x TickTime
	MaxSessionTimeout time.Duration // default 20 x TickTime
	MaxClientCnxns    int           // per client IP address; 0 = unlimited
	MaxBuffer         int           // jute.maxbuffer; default DefaultMaxBuffer
	// FourLetterWords is the whitelist; "*" allows all. nil = default.
	FourLetterWords []string
	SuperDigest     string // "super:<base64 sha1>", empty = none
	Version         string // reported by srvr, stat, mntr, envi
	// MaxOutboundBytes bounds a connection's unsent bytes; a client that
	// lets more pile up is disconnected. Default 64 MiB.
	MaxOutboundBytes int
	// GlobalOutstandingLimit bounds the writes (and syncs) in flight
	// across all connections, as ZooKeeper's globalOutstandingLimit
	// (default 1000); GlobalOutstandingBytes bounds their request bytes
	// (default 64 MiB), and MaxConnOutstandingBytes one connection's
	// (default 16 MiB). Past a bound the server stops reading from the
	// client that would cross it until answers make room; nothing read is
	// dropped, and a request alone in flight is always let in.
	GlobalOutstandingLimit  int
	GlobalOutstandingBytes  int64
	MaxConnOutstandingBytes int64
	// X509 grants a connection whose TLS handshake verified a client
	// certificate the x509 id of its subject (authProvider.N naming
	// ZooKeeper's X509AuthenticationProvider). Without it such a
	// connection is closed, as ZooKeeper closes it when no x509 provider
	// is registered.
	X509 bool
	// SASL, if set, authenticates clients by SASL DIGEST-MD5 against its
	// users (ZooKeeper's JAAS Server section); without it a SASL token is
	// answered OK and empty, as ZooKeeper answers it without one.
	SASL *SASLConfig
	// RequireSASL refuses every request but auth and sasl from a
	// connection SASL has not authenticated
	// (sessionRequireClientSASLAuth, enforce.auth.enabled with sasl).
	RequireSASL bool
	// ObserveRequest, if set, is told each answered request's op and
	// latency (from the request read to its answer queued), on the
	// connection's goroutines: it must be quick (a metrics observation).
	ObserveRequest func(op tree.Op, write bool, d time.Duration)
	// Conf lists the configuration for the conf word, in order.
	Conf [][2]string
	// Dirs returns the data and log dir sizes for the dirs word.
	Dirs   func() (data, log int64)
	Logger *slog.Logger
	Now    func() time.Time
}

func (c *Config) fill() {
	if c.TickTime <= 0 {
		c.TickTime = 2 * time.Second
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = DefaultMaxBuffer
	}
	if c.FourLetterWords == nil {
		c.FourLetterWords = DefaultFourLetterWords
	}
	if c.MaxOutboundBytes <= 0 {
		c.MaxOutboundBytes = 64 << 20
	}
	if c.GlobalOutstandingLimit <= 0 {
		c.GlobalOutstandingLimit = DefaultGlobalOutstandingLimit
	}
	if c.GlobalOutstandingBytes <= 0 {
		c.GlobalOutstandingBytes = DefaultGlobalOutstandingBytes
	}
	if c.MaxConnOutstandingBytes <= 0 {
		c.MaxConnOutstandingBytes = DefaultMaxConnOutstandingBytes
	}
	if c.Version == "" {
		c.Version = "3.8.4-zabd"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Server accepts client connections and serves them. Safe for concurrent
// use; mu guards the connection tables.
type Server struct {
	cfg  Config
	proc Processor
	four map[string]bool

	mu        sync.Mutex
	conns     map[tree.WatcherID]*conn
	bySession map[SessionID]*conn
	perIP     map[string]int
	// handshaking are the TLS connections accepted whose handshake is
	// not done yet (not in conns): Close closes them.
	handshaking map[stdnet.Conn]struct{}
	listeners   []stdnet.Listener
	closed      bool
	wg          sync.WaitGroup

	nextID atomic.Uint64
	stats  serverStats
	// refused limits the log lines of refused connections.
	refused refusalLog
	// authFailed counts addauth requests refused (mntr's
	// zk_auth_failed_count).
	authFailed atomic.Int64
	budget     *writeBudget // writes in flight across all connections
	start      time.Time
	// cork holds back write replies while the processor batches.
	cork corker
}

// SASLConfig is the SASL users and super users.
type SASLConfig struct {
	Users      map[string]string // name to password
	SuperUsers map[string]bool   // zookeeper.superUser (and .N): also granted super
}

// NewServer makes a server; call Serve to accept connections.
func NewServer(cfg Config, p Processor) *Server {
	cfg.fill()
	s := &Server{
		cfg:         cfg,
		proc:        p,
		four:        make(map[string]bool),
		conns:       make(map[tree.WatcherID]*conn),
		bySession:   make(map[SessionID]*conn),
		perIP:       make(map[string]int),
		handshaking: make(map[stdnet.Conn]struct{}),
		start:       cfg.Now(),
		budget:      newWriteBudget(cfg.GlobalOutstandingLimit, cfg.GlobalOutstandingBytes),
	}
	for _, w := range cfg.FourLetterWords {
		s.four[strings.TrimSpace(w)] = true
	}
	s.stats.reset()
	return s
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("net: server closed")

// Serve accepts connections on l until Close. It always returns an error.
func (s *Server) Serve(l stdnet.Listener) error { return s.serve(l, nil, false) }

// ServeTLS is Serve for a TLS port (secureClientPort): each connection's
// handshake (with a deadline, on the connection's own goroutine) comes
// before anything else; a failed one closes that connection alone. With
// unified (client.portUnification) a connection whose first byte is not a
// TLS handshake record is served in plain text, four-letter words too.
func (s *Server) ServeTLS(l stdnet.Listener, tc *tls.Config, unified bool) error {
	return s.serve(l, tc, unified)
}

func (s *Server) serve(l stdnet.Listener, tc *tls.Config, unified bool) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne stdnet.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("net: accept on %s: %w", l.Addr(), err)
		}
		delay = 0
		s.accept(nc, tc, unified)
	}
}

func (s *Server) accept(nc stdnet.Conn, tc *tls.Config, unified bool) {
	ip := remoteIP(nc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		s.mu.Unlock()
		s.cfg.Logger.Warn("too many connections from one address; closing",
			"remote", nc.RemoteAddr().String(), "max", s.cfg.MaxClientCnxns)
		nc.Close()
		return
	}
	s.perIP[ip]++
	s.wg.Add(1)
	if tc == nil {
		c := newConn(s, nc, tree.WatcherID(s.nextID.Add(1)), ip)
		s.conns[c.id] = c
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
		return
	}
	// A TLS connection is registered once its handshake is done, so
	// nothing else ever sees it half set up; until then Close reaches it
	// through handshaking.
	s.handshaking[nc] = struct{}{}
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		conn, plain, auth, err := s.handshakeTLS(nc, tc, unified)
		s.mu.Lock()
		delete(s.handshaking, nc)
		if err != nil || s.closed {
			if s.perIP[ip]--; s.perIP[ip] <= 0 {
				delete(s.perIP, ip)
			}
			s.mu.Unlock()
			// Logged before the close, so a client that sees the
			// connection end can find why in the log already.
			if err != nil {
				s.refused.log(s.cfg.Logger, s.cfg.Now(), "connection refused", "remote", nc.RemoteAddr().String(), "reason", err.Error())
			}
			nc.Close()
			return
		}
		c := newConn(s, conn, tree.WatcherID(s.nextID.Add(1)), ip)
		if !plain {
			c.tryWrite = nil // writes go through TLS: the writer's, never a raw write(2)
		}
		c.auth = append(c.auth, auth...)
		s.conns[c.id] = c
		s.mu.Unlock()
		c.serve()
	}()
}

// forget drops a closed connection from the tables.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c.id)
	if sid := c.session(); sid != 0 && s.bySession[sid] == c {
		delete(s.bySession, sid)
	}
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	s.mu.Unlock()
}

// attach records that c now carries sid, closing any other connection
// that carried it (a client that reconnected elsewhere on this server).
func (s *Server) attach(c *conn, sid SessionID) {
	s.mu.Lock()
	old := s.bySession[sid]
	s.bySession[sid] = c
	s.mu.Unlock()
	if old != nil && old != c {
		old.closeWith("session re-attached on another connection")
	}
}

// Deliver hands watch events to their connections; the processor calls it
// (on its apply goroutine) when a change fires watches.
func (s *Server) Deliver(ds []tree.Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		if c := s.conns[d.Watcher]; c != nil {
			c.sendEvent(d.Event)
		}
	}
}

// SessionExpired closes the connection carrying sid, if any; the processor
// calls it when it expires a session. The client then learns of the expiry
// when it tries to re-attach.
func (s *Server) SessionExpired(sid SessionID) {
	s.mu.Lock()
	c := s.bySession[sid]
	s.mu.Unlock()
	remote := "(not connected)"
	if c != nil {
		remote = c.nc.RemoteAddr().String()
	}
	s.cfg.Logger.Debug("session expired", "session", sidString(sid), "remote", remote)
	if c != nil {
		c.closeWith("session expired")
	}
}

// CloseClients closes every client connection (and keeps accepting): a
// quorum member calls it when it stops serving (it lost its leader or its
// quorum), as Apache ZooKeeper's member shuts its server down, so clients
// reconnect (to it or another member) and learn the outcome of what was in
// flight from the ensemble rather than from a member that no longer knows.
func (s *Server) CloseClients(reason string) {
	for _, c := range s.connections() {
		c.closeWith(reason)
	}
}

// Close stops accepting, closes every connection and waits for their
// goroutines. Sessions are not closed: clients may re-attach after a
// restart within their timeout, as with ZooKeeper.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, l := range s.listeners {
		l.Close()
	}
	for nc := range s.handshaking {
		nc.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith("server shutting down")
	}
	s.wg.Wait()
}

// connections returns the live connections in id order.
func (s *Server) connections() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func remoteIP(nc stdnet.Conn) string {
	if a, ok := nc.RemoteAddr().(*stdnet.TCPAddr); ok {
		return a.IP.String()
	}
	host, _, err := stdnet.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}

// serverStats are the packet and latency counters of srvr/stat/mntr.
type serverStats struct {
	mu         sync.Mutex
	received   uint64
	sent       uint64
	minLatency int64 // ms
	maxLatency int64
	totLatency int64
	count      int64
}

func (st *serverStats) reset() {
	st.mu.Lock()
	st.received, st.sent = 0, 0
	st.minLatency, st.maxLatency, st.totLatency, st.count = -1, 0, 0, 0
	st.mu.Unlock()
}

func (st *serverStats) recv() { st.mu.Lock(); st.received++; st.mu.Unlock() }
func (st *serverStats) send() { st.mu.Lock(); st.sent++; st.mu.Unlock() }

func (st *serverStats) latency(d time.Duration) {
	ms := d.Milliseconds()
	st.mu.Lock()
	if st.minLatency < 0 || ms < st.minLatency {
		st.minLatency = ms
	}
	if ms > st.maxLatency {
		st.maxLatency = ms
	}
	st.totLatency += ms
	st.count++
	st.mu.Unlock()
}

type statsSnapshot struct {
	received, sent uint64
	min, max       int64
	avg            float64
}

func (st *serverStats) snapshot() statsSnapshot {
	st.mu.Lock()
	defer st.mu.Unlock()
	sn := statsSnapshot{received: st.received, sent: st.sent, min: st.minLatency, max: st.maxLatency}
	if sn.min < 0 {
		sn.min = 0
	}
	if st.count > 0 {
		sn.avg = float64(st.totLatency) / float64(st.count)
	}
	return sn
}
