package zab

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"zabd/tree"
)

// ServiceConfig configures a standalone server's core.
type ServiceConfig struct {
	Pipeline PipelineConfig
	ServerID int64
	TickTime time.Duration // expiry check granularity; default 2s
	// ContainerCheckInterval is how often empty containers and expired
	// TTL nodes are looked for (znode.container.checkIntervalMs);
	// default 60s.
	ContainerCheckInterval time.Duration
	// OnExpire is told of every session the tracker expires (net closes
	// its connection). Must not block.
	OnExpire func(sid int64)
	Logger   *slog.Logger
}

// Service is the standalone server core: the pipeline, the session tracker
// and the two background loops that expire sessions and reap containers
// and TTL nodes. Safe for concurrent use.
type Service struct {
	*Pipeline
	cfg      ServiceConfig
	sessions *SessionTracker
	stop     chan struct{}
	wg       sync.WaitGroup

	roMu sync.Mutex
	// readOnly holds the read-only sessions (CreateSession): tracked for
	// expiry like any session but never logged. Guarded by roMu.
	readOnly map[int64]bool
}

// NewService starts the pipeline and the background loops. Sessions found
// in the recovered tree are tracked afresh (each gets its whole timeout
// from now, as ZooKeeper does on restart).
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.TickTime <= 0 {
		cfg.TickTime = 2 * time.Second
	}
	if cfg.ContainerCheckInterval <= 0 {
		cfg.ContainerCheckInterval = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Pipeline.Logger == nil {
		cfg.Pipeline.Logger = cfg.Logger
	}
	p, err := NewPipeline(cfg.Pipeline)
	if err != nil {
		return nil, err
	}
	now := p.cfg.Now()
	s := &Service{
		Pipeline: p,
		cfg:      cfg,
		sessions: NewSessionTracker(cfg.Pipeline.Tree.SessionSecret(), cfg.ServerID, now),
		stop:     make(chan struct{}),
		readOnly: make(map[int64]bool),
	}
	for sid, to := range cfg.Pipeline.Tree.Sessions() {
		s.sessions.Track(sid, time.Duration(to)*time.Millisecond, now)
	}
	s.wg.Add(2)
	go s.expiryLoop()
	go s.reapLoop()
	return s, nil
}

// ErrNoSessionSecret: sessions cannot be created before the session secret
// is known (EnsureSessionSecret).
var ErrNoSessionSecret = errors.New("zab: no session secret yet")

// EnsureSessionSecret makes sure the tree has a session secret, logging a
// tree.OpSessionSecret txn if it has none: with fallback when that is long
// enough (the secret of a data dir from before the secret was replicated,
// so its sessions' passwords stay valid), a random one otherwise. It waits
// until the txn is durable and applied.
func (s *Service) EnsureSessionSecret(fallback []byte) error {
	if s.sessions.HasSecret() {
		return nil
	}
	secret := fallback
	if len(secret) < tree.MinSessionSecretBytes {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return fmt.Errorf("zab: making a session secret: %w", err)
		}
	}
	answer := make(chan error, 1)
	s.Submit(0, tree.Request{Op: tree.OpSessionSecret, Data: secret}, func(res tree.Result, err error) {
		if err == nil && res.Err != tree.CodeOK {
			err = res.Err
		}
		answer <- err
	})
	if err := <-answer; err != nil {
		return fmt.Errorf("zab: logging the session secret: %w", err)
	}
	s.sessions.SetSecret(secret)
	return nil
}

// CreateSession logs a createSession txn and calls done with the new id
// and its password once it is durable.
//
// readOnlyOK says the client accepts a read-only server (its
// ConnectRequest's readOnly flag). While writes are refused such a client
// gets a read-only session instead of an error (done's readOnly is true),
// as Apache ZooKeeper's read-only server gives one a local session: an id
// and password like any session's, tracked for expiry (pings keep it
// alive) but never logged, so it has no ephemerals, its writes are
// answered NotReadOnly by net, and it is gone at a restart. A full disk
// is tried first (the createSession is the write that finds out whether
// there is room again); a sticky storage failure is not.
//
// client is the client's address, logged in the createSession txn.
func (s *Service) CreateSession(timeout time.Duration, client string, readOnlyOK bool, done func(sid int64, passwd []byte, readOnly bool, err error)) {
	if !s.sessions.HasSecret() {
		done(0, nil, false, ErrNoSessionSecret)
		return
	}
	if readOnlyOK && s.Failed() != nil {
		s.createReadOnly(timeout, done)
		return
	}
	sid := s.sessions.NextID()
	req := tree.Request{Op: tree.OpCreateSession, SessionTimeout: int32(timeout.Milliseconds()), Client: client}
	s.Submit(sid, req, func(res tree.Result, err error) {
		if err == nil && res.Err != tree.CodeOK {
			err = res.Err
		}
		if err != nil {
			if readOnlyOK && WritesRefusedError(err) {
				s.createReadOnly(timeout, done)
				return
			}
			done(0, nil, false, err)
			return
		}
		s.sessions.Track(sid, timeout, s.now())
		done(sid, s.sessions.Password(sid), false, nil)
	})
}

// WritesRefusedError reports whether err refused a write because writes
// are refused as a whole (a full disk, a failed storage), not because of
// the request.
func WritesRefusedError(err error) bool {
	return errors.Is(err, ErrDiskFull) || errors.Is(err, ErrStorageFailed)
}

// createReadOnly starts a read-only session (see CreateSession).
func (s *Service) createReadOnly(timeout time.Duration, done func(sid int64, passwd []byte, readOnly bool, err error)) {
	sid := s.sessions.NextID()
	s.roMu.Lock()
	s.readOnly[sid] = true
	s.roMu.Unlock()
	s.sessions.Track(sid, timeout, s.now())
	done(sid, s.sessions.Password(sid), true, nil)
}

// ReadOnlySession reports whether sid is a read-only session (live or
// not yet forgotten).
func (s *Service) ReadOnlySession(sid int64) bool {
	s.roMu.Lock()
	defer s.roMu.Unlock()
	return s.readOnly[sid]
}

// forgetReadOnly drops sid from the read-only sessions, reporting whether
// it was one.
func (s *Service) forgetReadOnly(sid int64) bool {
	s.roMu.Lock()
	defer s.roMu.Unlock()
	ro := s.readOnly[sid]
	delete(s.readOnly, sid)
	return ro
}

// ResumeSession re-attaches a live session whose password matches.
func (s *Service) ResumeSession(sid int64, passwd []byte, timeout time.Duration) bool {
	if !s.sessions.CheckPassword(sid, passwd) {
		return false
	}
	return s.sessions.SetTimeout(sid, timeout, s.now())
}

// Touch extends a live session's life.
func (s *Service) Touch(sid int64) bool {
	return s.sessions.Touch(sid, s.now())
}

// CloseSession logs a closeSession txn (deleting the session's
// ephemerals). Closing a session that is already closing or gone answers
// ok at once with nothing logged.
func (s *Service) CloseSession(sid int64, done Done) {
	if s.forgetReadOnly(sid) {
		// Never logged: nothing to log on close either.
		s.sessions.Remove(sid)
		var z int64
		s.WithTree(func(t *tree.Tree) { z = t.LastZxid() })
		done(tree.Result{Zxid: z}, nil)
		return
	}
	if !s.sessions.Remove(sid) {
		s.Submit(sid, tree.Request{Op: tree.OpSync}, func(res tree.Result, err error) {
			done(tree.Result{Zxid: res.Zxid}, err)
		})
		return
	}
	s.submitClose(sid, done)
}

// submitClose orders sid's closeSession. If it cannot be made durable
// (a full disk, say) the session is tracked again with a short life, so
// expiry tries once more rather than leaving its ephemerals forever.
func (s *Service) submitClose(sid int64, done Done) {
	s.Submit(sid, tree.Request{Op: tree.OpCloseSession}, func(res tree.Result, err error) {
		if err != nil {
			// While writes are refused the pipeline has said why, once;
			// a line per retry would only repeat it.
			level := slog.LevelWarn
			if s.WritesRefused() != "" {
				level = slog.LevelDebug
			}
			s.cfg.Logger.Log(context.Background(), level, "closing a session failed; will retry at expiry", "session", sidHex(sid), "err", err)
			s.sessions.Track(sid, s.cfg.TickTime, s.now())
		}
		done(res, err)
	})
}

// SessionCount is the number of live sessions.
func (s *Service) SessionCount() int { return s.sessions.Count() }

// SessionExpiries maps expiry times (Unix ms) to the sessions expiring
// then (the AdminServer's dump).
func (s *Service) SessionExpiries() map[int64][]int64 { return s.sessions.Expiries() }

func (s *Service) expiryLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.TickTime / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, sid := range s.sessions.Expired(s.now()) {
			ro := s.forgetReadOnly(sid)
			s.cfg.Logger.Info("session expired", "session", sidHex(sid), "read_only", ro)
			if s.cfg.OnExpire != nil {
				s.cfg.OnExpire(sid)
			}
			if !ro {
				s.submitClose(sid, func(tree.Result, error) {})
			}
		}
	}
}

// reapLoop deletes empty containers and expired TTL nodes, as ZooKeeper's
// ContainerManager: the tree names candidates, each goes through the
// pipeline as a deleteContainer request (which re-checks emptiness).
func (s *Service) reapLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.ContainerCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		var paths []string
		s.WithTree(func(t *tree.Tree) {
			paths = t.ExpiryCandidates(s.now().UnixMilli())
		})
		for _, p := range paths {
			s.Submit(0, tree.Request{Op: tree.OpDeleteContainer, Path: p}, func(tree.Result, error) {})
		}
	}
}

// Close stops the loops and the pipeline. Sessions are left as they are
// (durable), to be tracked again on the next start.
func (s *Service) Close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	s.wg.Wait()
	s.Pipeline.Close()
}

func sidHex(sid int64) string {
	const hex = "0123456789abcdef"
	u := uint64(sid)
	b := []byte("0x0000000000000000")
	for i := 17; i >= 2; i-- {
		b[i] = hex[u&0xf]
		u >>= 4
	}
	return string(b)
}

func (s *Service) now() time.Time { return s.Pipeline.cfg.Now() }
