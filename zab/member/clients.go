package member

import (
	"fmt"
	"time"

	"zabd/tree"
	"zabd/zab"
	"zabd/zab/peer"
)

// The client-facing side: what net needs of a member (cmd adapts it to
// net.Processor, as it adapts zab.Service). Writes go to the leader: its
// own clients' through its pipeline, a learner's forwarded and answered
// when their txn is applied here; reads are served from this member's
// tree.

// role returns the current pipeline, whether clients are served, and the
// role.
func (m *Member) role() (*zab.Pipeline, bool, peer.Role) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.pl, m.serving, m.status.Role
}

// CreateSession logs a createSession txn (through the leader) and calls
// done with the new id and its password once it is committed and applied
// here. A member that is not serving refuses (the client tries another).
func (m *Member) CreateSession(timeout time.Duration, client string, done func(sid int64, passwd []byte, err error)) {
	_, serving, _ := m.role()
	if !serving {
		done(0, nil, ErrNotServing)
		return
	}
	tr := m.currentTracker()
	if !tr.HasSecret() {
		var secret []byte
		m.withTree(func(t *tree.Tree) { secret = t.SessionSecret() })
		if secret == nil {
			// A new ensemble's first leader logs the secret just after
			// it starts serving: wait for it here rather than refuse a
			// client that came early.
			deadline := time.Now().Add(m.cfg.TickTime * time.Duration(m.cfg.SyncLimit))
			for secret == nil && time.Now().Before(deadline) {
				if err := m.syncWait(time.Until(deadline)); err != nil {
					done(0, nil, err)
					return
				}
				m.withTree(func(t *tree.Tree) { secret = t.SessionSecret() })
				if secret == nil {
					time.Sleep(m.cfg.TickTime / 20) // the leader has not submitted it yet
				}
			}
		}
		if secret == nil {
			done(0, nil, zab.ErrNoSessionSecret)
			return
		}
		tr.SetSecret(secret)
	}
	sid := tr.NextID()
	req := tree.Request{Op: tree.OpCreateSession, SessionTimeout: int32(timeout.Milliseconds()), Client: client}
	m.Submit(sid, req, func(res tree.Result, err error) {
		if err == nil && res.Err != tree.CodeOK {
			err = res.Err
		}
		if err != nil {
			done(0, nil, err)
			return
		}
		tr.Track(sid, timeout, m.cfg.Now())
		if _, _, role := m.role(); role == peer.Leading {
			tr.SetOwner(sid, m.cfg.ID)
		}
		done(sid, tr.Password(sid), nil)
	})
}

// ResumeSession re-attaches a live session whose password matches: one
// the replicated tree holds. While the member is not serving (between
// leaders, syncing) it cannot tell, and says so with ErrNotServing: the
// session may well be alive on the quorum.
func (m *Member) ResumeSession(sid int64, passwd []byte, timeout time.Duration) (bool, error) {
	_, serving, role := m.role()
	if !serving {
		return false, ErrNotServing
	}
	tr := m.currentTracker()
	if !tr.HasSecret() {
		var secret []byte
		m.withTree(func(t *tree.Tree) { secret = t.SessionSecret() })
		tr.SetSecret(secret)
	}
	if !tr.CheckPassword(sid, passwd) {
		return false, nil
	}
	live := false
	m.withTree(func(t *tree.Tree) { _, live = t.SessionTimeout(sid) })
	if !live && role != peer.Leading {
		// This member may not have applied the session's createSession
		// yet (the client created it through a faster member and has
		// seen no zxid since). ZooKeeper's follower asks the leader
		// (REVALIDATE); this one catches up with the leader (a sync),
		// then looks again.
		if err := m.syncWait(m.cfg.TickTime * time.Duration(m.cfg.SyncLimit)); err != nil {
			return false, err
		}
		m.withTree(func(t *tree.Tree) { _, live = t.SessionTimeout(sid) })
	}
	if !live {
		return false, nil
	}
	if role == peer.Leading {
		ok := tr.SetTimeout(sid, timeout, m.cfg.Now())
		if ok {
			tr.SetOwner(sid, m.cfg.ID)
		}
		return ok, nil
	}
	m.Touch(sid)
	// The leader makes this member the session's owner before any write
	// the client sends here (the claim leaves first on the same link), so
	// a write still coming through the member the client left is refused
	// SessionMoved, as ZooKeeper's leader refuses it after a REVALIDATE.
	m.enqueue(input{kind: inForward, data: encodeEnvelope(envelope{Kind: kindClaim, Session: sid})})
	return true, nil
}

// syncWait catches this learner up with everything its leader had
// proposed when the sync reached it, within timeout.
func (m *Member) syncWait(timeout time.Duration) error {
	done := make(chan error, 1)
	m.Submit(0, tree.Request{Op: tree.OpSync, Path: "/"}, func(_ tree.Result, err error) { done <- err })
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("member: no answer to a sync with the leader within %v", timeout)
	}
}

// Touch extends a session's life: the leader's tracker directly, a
// learner's with its next touches to the leader.
func (m *Member) Touch(sid int64) bool {
	_, serving, role := m.role()
	if !serving {
		return false
	}
	if role == peer.Leading {
		return m.currentTracker().Touch(sid, m.cfg.Now())
	}
	m.waitMu.Lock()
	m.touched[sid] = true
	m.waitMu.Unlock()
	return true
}

// CloseSession logs a closeSession txn (deleting the session's
// ephemerals) and calls done when it is applied here.
func (m *Member) CloseSession(sid int64, done zab.Done) {
	pl, serving, role := m.role()
	if !serving {
		done(tree.Result{}, ErrNotServing)
		return
	}
	if role == peer.Leading && !m.currentTracker().Remove(sid) {
		// Closing already (expired, say): nothing more to log.
		pl.Submit(sid, tree.Request{Op: tree.OpSync}, func(res tree.Result, err error) {
			done(tree.Result{Zxid: res.Zxid}, err)
		})
		return
	}
	m.Submit(sid, tree.Request{Op: tree.OpCloseSession, Cxid: closeCxid}, done)
}

// Submit orders a write (or sync) of session sid after every request
// submitted before it and calls done once it is committed and applied
// here (a sync: once this member has applied everything the leader had
// proposed when the sync reached it).
func (m *Member) Submit(sid int64, req tree.Request, done zab.Done) {
	pl, serving, role := m.role()
	switch {
	case !serving:
		done(tree.Result{}, ErrNotServing)
	case role == peer.Leading:
		if req.Op != tree.OpCreateSession && req.Op != tree.OpCloseSession && req.Op != tree.OpSync &&
			!m.currentTracker().CheckOwner(sid, m.cfg.ID) {
			pl.SubmitRefused(sid, req, tree.CodeSessionMoved, done)
			return
		}
		pl.Submit(sid, req, done)
	case req.Op == tree.OpSync:
		m.waitMu.Lock()
		m.syncSeq++
		id := m.syncSeq
		m.syncs[id] = pendingSync{path: req.Path, done: done}
		m.enqueue(input{kind: inSync, syncID: id, failed: func() {
			m.waitMu.Lock()
			_, ok := m.syncs[id]
			delete(m.syncs, id)
			m.waitMu.Unlock()
			if ok {
				done(tree.Result{}, ErrNotServing)
			}
		}})
		m.waitMu.Unlock()
	default:
		data := encodeEnvelope(envelope{Kind: kindWrite, Session: sid, Req: req})
		m.waitMu.Lock()
		m.waitSeq++
		seq := m.waitSeq
		m.waiters[sid] = append(m.waiters[sid], waiter{seq: seq, cxid: req.Cxid, op: req.Op, done: done})
		// Under waitMu: forwards leave in the order their waiters queue.
		m.enqueue(input{kind: inForward, data: data, session: sid, seq: seq})
		m.waitMu.Unlock()
	}
}

// dropWaiter fails the forwarded request seq of session sid, which could
// not be sent.
func (m *Member) dropWaiter(sid int64, seq uint64) {
	m.waitMu.Lock()
	q := m.waiters[sid]
	var done zab.Done
	for i := range q {
		if q[i].seq == seq {
			done = q[i].done
			copy(q[i:], q[i+1:])
			q[len(q)-1] = waiter{}
			m.waiters[sid] = q[:len(q)-1]
			break
		}
	}
	m.waitMu.Unlock()
	if done != nil {
		done(tree.Result{}, ErrNotServing)
	}
}

// Read answers a read from this member's tree.
func (m *Member) Read(sid int64, w tree.WatcherID, req tree.Request) tree.Result {
	return m.currentPipeline().Read(sid, w, req)
}

// ReadAnswer answers a read as Pipeline.ReadAnswer does: answer is called
// before any later txn can fire the watch the read registers.
func (m *Member) ReadAnswer(sid int64, w tree.WatcherID, req tree.Request, answer func(tree.Result)) {
	m.currentPipeline().ReadAnswer(sid, w, req, answer)
}

// WithWatches runs fn with the tree still and the watch registry locked.
func (m *Member) WithWatches(fn func(t *tree.Tree, w *tree.Watches) []tree.Delivery) {
	m.currentPipeline().WithWatches(fn)
}

// WithTree runs fn with the tree held still.
func (m *Member) WithTree(fn func(t *tree.Tree)) { m.withTree(fn) }

// Status is the member's role as the four-letter words report it.
type Status struct {
	peer.Status
	// Mode is ZooKeeper's word for it: leader, follower, observer, or
	// "" while looking.
	Mode     string
	Sessions int
	// Failed is the storage failure that stopped the member, if any.
	Failed string
	// A leader's learners, and the sizes of its proposals (bytes).
	Learners  peer.LeaderStats
	Proposals ProposalStats
}

// ProposalStats are a leader's figures about its proposals, for mntr
// (ZooKeeper 3.8's last/min/max_proposal_size and quorum_ack_latency).
type ProposalStats struct {
	LastSize, MinSize, MaxSize int // bytes of txn data
	// QuorumAck is the time from a proposal to its commit (a quorum of
	// voters, the leader included, had it durably).
	QuorumAck LatencyStats
}

func (p *ProposalStats) proposed(n int) {
	p.LastSize, p.MaxSize = n, max(p.MaxSize, n)
	if p.MinSize == 0 || n < p.MinSize {
		p.MinSize = n
	}
}

// LatencyStats is a count, sum, min and max of durations.
type LatencyStats struct {
	Count    int64
	Sum      time.Duration
	Min, Max time.Duration
}

func (l *LatencyStats) add(d time.Duration) {
	if l.Count == 0 || d < l.Min {
		l.Min = d
	}
	l.Max = max(l.Max, d)
	l.Sum += d
	l.Count++
}

// Avg is the mean, 0 before any sample.
func (l LatencyStats) Avg() time.Duration {
	if l.Count == 0 {
		return 0
	}
	return l.Sum / time.Duration(l.Count)
}

// Status reports the member's role and figures.
func (m *Member) Status() Status {
	m.mu.RLock()
	st := Status{Status: m.status, Sessions: m.tracker.Count(), Learners: m.leaderStats,
		Proposals: m.proposals}
	m.mu.RUnlock()
	if st.Serving {
		switch st.Role {
		case peer.Leading:
			st.Mode = "leader"
		case peer.Following:
			st.Mode = "follower"
		case peer.Observing:
			st.Mode = "observer"
		}
	}
	if p := m.failedAt.Load(); p != nil {
		st.Failed = (*p).Error()
	}
	return st
}
