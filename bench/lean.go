package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"zabd/bench/wire"
	"zabd/tree"
)

// Clients the generator can drive sessions with (Config.Client).
const (
	// ClientLean is the generator's own connection code (package wire):
	// pipelined, pre-encoded requests; one goroutine per session in
	// closed loop, with no hand-off between request and reply.
	ClientLean = "lean"
	// ClientGoZK is github.com/go-zookeeper/zk, one goroutine per
	// outstanding request: a cross-check of the lean client, and the client
	// of the workloads the lean one cannot drive (churn, watch, lock).
	ClientGoZK = "gozk"
)

// requestEncoder appends slot's request record (the body after the
// request header) to dst and returns it with the request's op.
type requestEncoder func(dst []byte, slot int64) ([]byte, tree.Op)

// leanWorkload is implemented by the workloads whose every request is one
// request/reply on a long-lived session, which the lean client can send.
type leanWorkload interface {
	Workload
	// encoder returns the request encoder of session s. The encoder is
	// used by one goroutine at a time.
	encoder(e *env, s int) requestEncoder
}

// usesLean reports whether a run of w with cfg drives its load with the
// lean client.
func usesLean(cfg Config, w Workload) bool {
	if cfg.Client == ClientGoZK {
		return false
	}
	_, ok := w.(leanWorkload)
	return ok
}

// adminSessions is how many go-zookeeper sessions a lean run keeps for its
// setup and cleanup (which are not measured).
const adminSessions = 4

// dialLean opens n lean sessions, session i with Servers[i%len], and
// registers them with e so closeAll ends them.
func (e *env) dialLean(ctx context.Context, n int) ([]*wire.Conn, error) {
	conns := make([]*wire.Conn, n)
	errs := make([]error, n)
	inParallel(n, func(i int) {
		dctx, cancel := context.WithTimeout(ctx, e.cfg.ConnectTimeout)
		defer cancel()
		c, err := wire.Dial(dctx, e.cfg.Servers[i%len(e.cfg.Servers)], e.cfg.SessionTimeout)
		if err != nil {
			errs[i] = fmt.Errorf("bench: %w", err)
			return
		}
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			_ = c.Close(false)
			errs[i] = fmt.Errorf("bench: dial %s after the run was stopped", e.cfg.Servers[i%len(e.cfg.Servers)])
			return
		}
		e.lean = append(e.lean, c)
		e.mu.Unlock()
		conns[i] = c
	})
	return conns, errors.Join(errs...)
}

// pending is one request sent and not yet answered.
type pending struct {
	measured bool
	intended time.Time
	began    time.Time
	op       tree.Op
}

// ring is a FIFO of pending requests: a session's replies come in the
// order its requests were sent.
type ring struct {
	buf        []pending
	head, size int
}

func newRing(n int) *ring { return &ring{buf: make([]pending, n)} }

func (r *ring) push(p pending) {
	r.buf[(r.head+r.size)%len(r.buf)] = p
	r.size++
}

func (r *ring) pop() pending {
	p := r.buf[r.head]
	r.head = (r.head + 1) % len(r.buf)
	r.size--
	return p
}

// replyErr is the outcome of a reply to op: its header's code or, for a
// multi, the code of its first failed operation.
func replyErr(op tree.Op, r wire.Reply) error {
	if r.Err != tree.CodeOK {
		return r.Err
	}
	if op == tree.OpMulti {
		if c := multiFailure(r.Body); c != tree.CodeOK {
			return c
		}
	}
	return nil
}

// multiFailure reads a multi reply's results: a failed multi answers an
// error result (type -1) for every operation, the failing one with its
// code, those before it with 0; a successful one starts with a result of
// the first operation's type.
func multiFailure(body []byte) tree.Code {
	for len(body) >= 13 {
		typ := int32(binary.BigEndian.Uint32(body))
		done := body[4] != 0
		if done || typ != int32(tree.OpError) {
			return tree.CodeOK
		}
		code := tree.Code(int32(binary.BigEndian.Uint32(body[9:])))
		if code != tree.CodeOK {
			return code
		}
		body = body[13:]
	}
	return tree.CodeOK
}

// lostErr is the code a request gets when its session ends under it.
func (e *env) lostErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return tree.Code(-116) // CLOSING: the generator closed it
	}
	return tree.CodeConnectionLoss
}

// leanSession drives one lean session with up to inFlight requests
// outstanding until the pacer ends the load phase, ctx is done or the
// connection fails.
type leanSession struct {
	e        *env
	conn     *wire.Conn
	p        *pacer
	rec      *recorder
	enc      requestEncoder
	inFlight int
	scratch  []byte
}

// runClosed is the closed loop on one goroutine: fill the window, send it
// in one write and wait for a reply (wire.Conn.FlushAndWait: two system
// calls a round trip), take every reply already read, refill, and so on.
func (s *leanSession) runClosed(ctx context.Context) {
	clock := s.e.clock
	q := newRing(s.inFlight)
	more := true
	for {
		for more && q.size < s.inFlight && ctx.Err() == nil {
			now := clock.Now()
			slot, intended, measured, ok := s.p.take(now)
			if !ok {
				more = false
				break
			}
			s.send(q, slot, pending{measured: measured, intended: intended, began: now})
		}
		if q.size == 0 {
			return
		}
		if err := s.conn.FlushAndWait(); err != nil {
			s.failAll(q, s.e.lostErr())
			return
		}
		for {
			r, err := s.conn.ReadReply()
			if err != nil {
				s.failAll(q, s.e.lostErr())
				return
			}
			p := q.pop()
			end := clock.Now()
			s.rec.done(p.measured, end.Sub(p.intended), p.began.Sub(p.intended), end, replyErr(p.op, r))
			if q.size == 0 || !s.conn.Buffered() {
				break
			}
		}
	}
}

// send encodes slot's request into the connection's write buffer and
// queues its pending entry.
func (s *leanSession) send(q *ring, slot int64, p pending) {
	var op tree.Op
	s.scratch, op = s.enc(s.scratch[:0], slot)
	p.op = op
	s.rec.issue(p.measured)
	s.conn.QueueBody(op, s.scratch)
	q.push(p)
}

func (s *leanSession) failAll(q *ring, err error) {
	end := s.e.clock.Now()
	for q.size > 0 {
		p := q.pop()
		s.rec.done(p.measured, end.Sub(p.intended), p.began.Sub(p.intended), end, err)
	}
}

// runOpen is the open loop: this goroutine sends each request at its
// intended start (pinging the server through long gaps), a reader
// goroutine records the replies. At most inFlight are outstanding; a
// request that must wait for room starts late, as the report counts.
func (s *leanSession) runOpen(ctx context.Context) {
	clock := s.e.clock
	var mu sync.Mutex // guards q
	q := newRing(s.inFlight)
	room := make(chan struct{}, s.inFlight)
	for range s.inFlight {
		room <- struct{}{}
	}
	readerDone := make(chan struct{})
	sent := make(chan struct{}, s.inFlight) // one token per request sent
	stop := make(chan struct{})
	dead := false // the connection failed; guarded by mu
	go func() {
		defer close(readerDone)
		for {
			// A request sent is read before stop is honoured.
			select {
			case <-sent:
			default:
				select {
				case <-sent:
				case <-stop:
					return
				}
			}
			r, err := s.conn.ReadReply()
			mu.Lock()
			if err != nil {
				dead = true
				s.failAll(q, s.e.lostErr())
				mu.Unlock()
				return
			}
			p := q.pop()
			mu.Unlock()
			end := clock.Now()
			s.rec.done(p.measured, end.Sub(p.intended), p.began.Sub(p.intended), end, replyErr(p.op, r))
			room <- struct{}{}
		}
	}()
	pingEvery := s.conn.Timeout() / 3
	defer func() {
		close(stop)
		<-readerDone
	}()
	for ctx.Err() == nil {
		select {
		case <-room:
		case <-ctx.Done():
			return
		case <-readerDone:
			return
		}
		slot, intended, measured, ok := s.p.take(clock.Now())
		if !ok {
			room <- struct{}{}
			s.waitIdle(room, readerDone)
			return
		}
		for {
			wait := intended.Sub(clock.Now())
			if wait <= pingEvery || pingEvery <= 0 {
				break
			}
			if err := clock.SleepUntil(ctx, clock.Now().Add(pingEvery)); err != nil {
				return
			}
			s.conn.Ping()
			_ = s.conn.Flush()
		}
		if err := clock.SleepUntil(ctx, intended); err != nil {
			return // never issued, so never counted
		}
		now := clock.Now()
		var op tree.Op
		s.scratch, op = s.enc(s.scratch[:0], slot)
		mu.Lock()
		if dead {
			mu.Unlock()
			return
		}
		s.rec.issue(measured)
		q.push(pending{measured: measured, intended: intended, began: now, op: op})
		mu.Unlock()
		s.conn.QueueBody(op, s.scratch)
		err := s.conn.Flush()
		sent <- struct{}{}
		if err != nil {
			s.waitIdle(room, readerDone)
			return
		}
	}
}

// waitIdle returns once every outstanding request has been answered (all
// inFlight tokens are back) or the reader has ended.
func (s *leanSession) waitIdle(room chan struct{}, readerDone chan struct{}) {
	for got := 0; got < s.inFlight; {
		select {
		case <-room:
			got++
		case <-readerDone:
			return
		}
	}
}
