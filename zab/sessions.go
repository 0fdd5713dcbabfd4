package zab

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"sort"
	"sync"
	"time"
)

// SessionPasswordLen is the length of a session password, as ZooKeeper's.
const SessionPasswordLen = 16

// SessionTracker knows which sessions are live and when each expires. It
// is pure bookkeeping: the caller passes the time in and submits the
// closeSession txns for what Expired returns. Safe for concurrent use (one
// mutex guards everything).
//
// Invariant: every tracked session has a createSession txn applied to the
// tree and no closeSession txn yet; sessions closing are no longer tracked.
type SessionTracker struct {
	mu       sync.Mutex
	secret   []byte // nil until SetSecret (or given to NewSessionTracker)
	serverID int64
	next     int64
	sessions map[int64]*trackedSession
}

type trackedSession struct {
	timeout  time.Duration
	expireAt time.Time
	// owner is the member whose clients the session's writes come
	// through (an ensemble's leader only; 0: not known yet).
	owner uint64
}

// NewSessionTracker makes a tracker. secret keys the session passwords
// (they are derived, not stored, as in ZooKeeper, but from a secret rather
// than a constant; the secret is the ensemble's, replicated as a
// tree.OpSessionSecret txn, so every member derives the same password); it
// may be nil until SetSecret. now seeds the session id counter the way
// ZooKeeper does: (now ms << 24) >>> 8 | serverID << 56.
func NewSessionTracker(secret []byte, serverID int64, now time.Time) *SessionTracker {
	next := int64(uint64(now.UnixMilli())<<24>>8) | serverID<<56
	return &SessionTracker{
		secret:   append([]byte(nil), secret...),
		serverID: serverID,
		next:     next,
		sessions: make(map[int64]*trackedSession),
	}
}

// NextID reserves a new session id.
func (s *SessionTracker) NextID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		s.next++
		if _, taken := s.sessions[s.next]; !taken && s.next != 0 {
			return s.next
		}
	}
}

// SetSecret sets the key of the session passwords (once the txn carrying
// it is applied).
func (s *SessionTracker) SetSecret(secret []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secret = append([]byte(nil), secret...)
}

// HasSecret reports whether passwords can be derived yet.
func (s *SessionTracker) HasSecret() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secret != nil
}

// Password is the password of session sid (nil without a secret).
func (s *SessionTracker) Password(sid int64) []byte {
	s.mu.Lock()
	secret := s.secret
	s.mu.Unlock()
	if secret == nil {
		return nil
	}
	m := hmac.New(sha256.New, secret)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(sid))
	m.Write(b[:])
	return m.Sum(nil)[:SessionPasswordLen]
}

// CheckPassword reports whether passwd is session sid's.
func (s *SessionTracker) CheckPassword(sid int64, passwd []byte) bool {
	pw := s.Password(sid)
	return pw != nil && hmac.Equal(pw, passwd)
}

// Track starts (or restarts, after recovery) tracking sid.
func (s *SessionTracker) Track(sid int64, timeout time.Duration, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sid] = &trackedSession{timeout: timeout, expireAt: now.Add(timeout)}
	if sid > s.next && sid>>56 == s.serverID {
		// never hand out an id a recovered session holds
		s.next = sid
	}
}

// Touch extends sid's life by its timeout. It reports false when sid is
// not live (unknown, expired or closing).
func (s *SessionTracker) Touch(sid int64, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.sessions[sid]
	if !ok {
		return false
	}
	ts.expireAt = now.Add(ts.timeout)
	return true
}

// SetTimeout changes a live session's timeout (a reconnect negotiates a new
// one) and touches it.
func (s *SessionTracker) SetTimeout(sid int64, timeout time.Duration, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.sessions[sid]
	if !ok {
		return false
	}
	ts.timeout = timeout
	ts.expireAt = now.Add(timeout)
	return true
}

// SetOwner makes member the owner of sid (it created the session, or the
// session re-attached there); false when sid is not live.
func (s *SessionTracker) SetOwner(sid int64, member uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.sessions[sid]
	if ok {
		ts.owner = member
	}
	return ok
}

// CheckOwner reports whether a write of sid may come through member, as
// ZooKeeper's leader checks a request's owner: a session whose owner is
// not known yet (a new leader's) takes member as its owner; a session
// not tracked passes (the request path answers it expired).
func (s *SessionTracker) CheckOwner(sid int64, member uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.sessions[sid]
	if !ok {
		return true
	}
	if ts.owner == 0 {
		ts.owner = member
	}
	return ts.owner == member
}

// Live reports whether sid is tracked.
func (s *SessionTracker) Live(sid int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[sid]
	return ok
}

// Remove stops tracking sid (it is closing). It reports whether sid was
// tracked, so exactly one caller goes on to close it.
func (s *SessionTracker) Remove(sid int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[sid]
	delete(s.sessions, sid)
	return ok
}

// Expired removes and returns the sessions whose time ran out by now, in
// id order.
func (s *SessionTracker) Expired(now time.Time) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for sid, ts := range s.sessions {
		if !now.Before(ts.expireAt) {
			out = append(out, sid)
			delete(s.sessions, sid)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Expiries maps each expiry time (Unix ms) to the live sessions that
// expire then unless touched, in id order.
func (s *SessionTracker) Expiries() map[int64][]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64][]int64)
	for sid, ts := range s.sessions {
		at := ts.expireAt.UnixMilli()
		out[at] = append(out[at], sid)
	}
	for _, sids := range out {
		sort.Slice(sids, func(i, j int) bool { return sids[i] < sids[j] })
	}
	return out
}

// Count is the number of live sessions.
func (s *SessionTracker) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}
