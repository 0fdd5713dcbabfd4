// Package pastserver serves a past state of a data dir (a tree rebuilt by
// `zabctl log replay`) to ZooKeeper clients, read-only, as Apache
// ZooKeeper's read-only server serves: zkCli.sh, kazoo, Curator or
// go-zookeeper browse it with their usual commands.
//
// Invariants:
//   - The tree never changes: every session is read-only (its
//     ConnectResponse says so), and net answers its writes and syncs
//     NotReadOnly with the state's zxid. Clients that do not say they
//     accept a read-only server are served too (this server is nothing
//     else), unlike a ZooKeeper member in read-only mode.
//   - Sessions are this process's alone: ids and passwords from a secret
//     drawn at start, never logged, gone when it stops; a session whose
//     client stops pinging for its timeout is expired and its connection
//     closed.
//   - Watches register and answer as on any server (setWatches after a
//     reconnect fires for what changed after the client's zxid); nothing
//     else ever fires one, since nothing changes.
package pastserver

import (
	"crypto/rand"
	"sync"
	"time"

	"zabd/net"
	"zabd/tree"
	"zabd/zab"
)

// Processor is a net.Processor over a tree that never changes.
type Processor struct {
	t   *tree.Tree
	now func() time.Time

	mu       sync.Mutex // guards watches and deliver
	watches  *tree.Watches
	deliver  func([]tree.Delivery)
	sessions *zab.SessionTracker
}

var _ net.Processor = (*Processor)(nil)

// New serves t, which the caller must not change afterwards.
func New(t *tree.Tree, now func() time.Time) *Processor {
	if now == nil {
		now = time.Now
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	return &Processor{t: t, now: now, watches: tree.NewWatches(), deliver: func([]tree.Delivery) {},
		sessions: zab.NewSessionTracker(secret, 0, now())}
}

// SetDeliverer sets where watch events go (the net.Server's Deliver).
func (p *Processor) SetDeliverer(d func([]tree.Delivery)) {
	p.mu.Lock()
	p.deliver = d
	p.mu.Unlock()
}

// Expire forgets the sessions whose clients stopped pinging and returns
// them, for the server to close their connections.
func (p *Processor) Expire() []int64 { return p.sessions.Expired(p.now()) }

func (p *Processor) CreateSession(timeout time.Duration, _ string, _ bool, done func(net.SessionID, []byte, bool, error)) {
	sid := p.sessions.NextID()
	p.sessions.Track(sid, timeout, p.now())
	done(net.SessionID(sid), p.sessions.Password(sid), true, nil)
}

func (p *Processor) ResumeSession(sid net.SessionID, passwd []byte, timeout time.Duration) (ok, readOnly bool, err error) {
	if !p.sessions.CheckPassword(int64(sid), passwd) {
		return false, true, nil
	}
	return p.sessions.SetTimeout(int64(sid), timeout, p.now()), true, nil
}

func (p *Processor) Touch(sid net.SessionID) bool { return p.sessions.Touch(int64(sid), p.now()) }

func (p *Processor) CloseSession(sid net.SessionID, done func(tree.Result, error)) {
	p.sessions.Remove(int64(sid))
	done(tree.Result{Zxid: p.t.LastZxid()}, nil)
}

// Submit is never reached from a read-only session (net answers its
// writes); it answers NotReadOnly all the same.
func (p *Processor) Submit(_ net.SessionID, _ tree.Request, done func(tree.Result, error)) {
	done(tree.Result{Err: tree.CodeNotReadOnly, Zxid: p.t.LastZxid()}, nil)
}

func (p *Processor) Read(sid net.SessionID, w tree.WatcherID, req tree.Request, answer func(tree.Result)) {
	// The tree never changes: no event can overtake the answer.
	res := p.t.Read(req, int64(sid))
	res.Zxid = p.t.LastZxid()
	if req.Watch {
		p.mu.Lock()
		p.watches.AddForRead(w, req, res)
		p.mu.Unlock()
	}
	answer(res)
}

func (p *Processor) Watches(fn func(*tree.Tree, *tree.Watches) []tree.Delivery) {
	p.mu.Lock()
	ds := fn(p.t, p.watches)
	deliver := p.deliver
	p.mu.Unlock()
	if len(ds) > 0 {
		deliver(ds)
	}
}

func (p *Processor) LastZxid() int64 { return p.t.LastZxid() }

func (p *Processor) Status() net.Status {
	return net.Status{Mode: "read-only", WritesRefused: "a past state served by zabctl log replay --serve: read-only",
		LastZxid: p.t.LastZxid(), NodeCount: p.t.NodeCount(), ApproxDataSize: p.t.ApproximateDataSize(),
		Ephemerals: p.t.EphemeralCount(), Sessions: p.sessions.Count()}
}
