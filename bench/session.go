package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/wire"
)

// quietLogger drops go-zookeeper's connection chatter; failures reach the
// report through request errors instead.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

var worldACL = zk.WorldACL(zk.PermAll)

// env is what workloads see of a run. Fields set before the load phase are
// read-only during it; mu guards conns (churn sessions come and go) and
// notes.
type env struct {
	cfg   Config
	clock Clock
	dir   string    // the run's own znode, Root/<workload>-<seed>-<nonce>
	value []byte    // ValueBytes of seeded bytes, shared, never mutated
	parts leanParts // the lean client's pre-encoded records

	persistent []*zk.Conn // the run's long-lived sessions, fixed after connect

	mu   sync.Mutex
	live map[*zk.Conn]struct{} // every open session, closed by closeAll
	lean []*wire.Conn          // the lean client's sessions, closed by closeAll
	// leanReading: lean sessions may have a reader blocked on them (the
	// load phase), so closing them must not read their answer.
	leanReading bool
	closed      bool
	notes       []string
}

func newEnv(cfg Config, dir string) *env {
	e := &env{cfg: cfg, clock: cfg.Clock, dir: dir, live: map[*zk.Conn]struct{}{}}
	e.value = make([]byte, cfg.ValueBytes)
	x := uint64(cfg.Seed)
	for i := range e.value {
		x = splitmix64(x)
		e.value[i] = 'a' + byte(x%26)
	}
	return e
}

func (e *env) note(format string, a ...any) {
	e.mu.Lock()
	e.notes = append(e.notes, fmt.Sprintf(format, a...))
	e.mu.Unlock()
}

// dial opens a session with one server and waits (bounded by
// ConnectTimeout and ctx) until the server has granted it.
func (e *env) dial(ctx context.Context, server string) (*zk.Conn, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("bench: dial %s after the run was stopped: %w", server, zk.ErrClosing)
	}
	conn, events, err := zk.Connect([]string{server}, e.cfg.SessionTimeout,
		zk.WithLogger(quietLogger{}), zk.WithLogInfo(false))
	if err != nil {
		return nil, fmt.Errorf("bench: connect %s: %w", server, err)
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		conn.Close()
		return nil, fmt.Errorf("bench: dial %s after the run was stopped: %w", server, zk.ErrClosing)
	}
	e.live[conn] = struct{}{}
	e.mu.Unlock()
	timer := time.NewTimer(e.cfg.ConnectTimeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				e.hangUp(conn)
				return nil, fmt.Errorf("bench: session with %s: %w", server, zk.ErrClosing)
			}
			switch ev.State {
			case zk.StateHasSession:
				return conn, nil
			case zk.StateAuthFailed, zk.StateExpired:
				e.hangUp(conn)
				return nil, fmt.Errorf("bench: session with %s: %s", server, ev.State)
			}
		case <-timer.C:
			e.hangUp(conn)
			return nil, fmt.Errorf("bench: no session with %s within %v: %w", server, e.cfg.ConnectTimeout, ErrEventTimeout)
		case <-ctx.Done():
			e.hangUp(conn)
			return nil, ctx.Err()
		}
	}
}

// hangUp closes one session (waits at most about a second for the server
// to acknowledge, go-zookeeper's bound).
func (e *env) hangUp(conn *zk.Conn) {
	e.mu.Lock()
	delete(e.live, conn)
	e.mu.Unlock()
	conn.Close()
}

// closeAll closes every open session; requests outstanding on them fail
// with CLOSING. Later dials are refused.
func (e *env) closeAll() {
	e.mu.Lock()
	e.closed = true
	conns := make([]*zk.Conn, 0, len(e.live))
	for c := range e.live {
		conns = append(conns, c)
	}
	e.live = map[*zk.Conn]struct{}{}
	lean, reading := e.lean, e.leanReading
	e.lean = nil
	e.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	for _, c := range lean {
		wg.Add(1)
		go func() { defer wg.Done(); _ = c.Close(reading) }()
	}
	wg.Wait()
}

// connect opens n persistent sessions, session i with Servers[i%len].
func (e *env) connect(ctx context.Context, n int) error {
	e.persistent = make([]*zk.Conn, n)
	errs := make([]error, n)
	inParallel(n, func(i int) {
		e.persistent[i], errs[i] = e.dial(ctx, e.cfg.Servers[i%len(e.cfg.Servers)])
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// dialers bounds how many sessions are being established at once.
const dialers = 16

// inParallel runs fn(i) for i in [0, n), at most dialers at a time, and
// returns when all have.
func inParallel(n int, fn func(i int)) {
	sem := make(chan struct{}, dialers)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// splitmix64 is a tiny, good mixing function (Steele, Lea, Flood 2014);
// it turns (seed, slot) into the slot's choices.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// draw is the pseudo-random number of slot's n-th choice under seed.
func draw(seed int64, slot int64, n uint64) uint64 {
	return splitmix64(splitmix64(uint64(seed)^n*0x632be59bd9b4e019) ^ uint64(slot))
}

// pick is slot's n-th choice of a key index in [0, keys).
func (e *env) pick(slot int64, n uint64) int64 {
	return int64(draw(e.cfg.Seed, slot, n) % uint64(e.cfg.KeySpace))
}

// unit is slot's n-th choice of a number in [0, 1).
func (e *env) unit(slot int64, n uint64) float64 {
	return float64(draw(e.cfg.Seed, slot, n)>>11) / (1 << 53)
}

func (e *env) key(i int64) string { return e.dir + "/k" + strconv.FormatInt(i, 10) }
