package main

import (
	"crypto/rand"
	"sync"
	"time"

	"zabd/zab"
	"zabd/zab/peer"
)

// readOnlyMode is readonlymode.enabled on a quorum member, as Apache
// ZooKeeper 3.8 runs it (QuorumPeer, ReadOnlyZooKeeperServer): a member
// that has been looking for a leader for max(2 s, tickTime) serves
// clients that accept a read-only server (their ConnectRequest's readOnly
// flag) from the state it has, answering their writes NotReadOnly, until
// it finds a leader again; then every read-only session ends (its
// connection is closed) and clients reconnect to a serving member.
//
// Invariants:
//   - A read-only session is local: an id and password from this member
//     alone, never logged, no ephemerals; it lives while this member
//     stays in read-only mode and its client keeps it alive.
//   - While read-only, a client that does not accept a read-only server
//     is refused, and so is the re-attach of a session of the ensemble
//     (ZooKeeper: "Refusing global session reconnection in RO mode"):
//     its connection is closed unanswered, so the client keeps the session
//     and tries another member.
//   - Read-only mode begins only while the member is looking: a member
//     following or leading, serving or still syncing, is never read-only.
type readOnlyMode struct {
	enabled bool
	grace   time.Duration
	now     func() time.Time
	// end is told the ids of the read-only sessions when read-only mode
	// ends, to close their connections. Called without mu held.
	end func(sids []int64)

	mu           sync.Mutex
	lookingSince time.Time // zero while not looking
	sessions     *zab.SessionTracker
	live         map[int64]bool
}

func newReadOnlyMode(enabled bool, myID int64, tickTime time.Duration, now func() time.Time, end func([]int64)) *readOnlyMode {
	secret := make([]byte, 32)
	rand.Read(secret)
	return &readOnlyMode{enabled: enabled, grace: max(2*time.Second, tickTime), now: now, end: end,
		sessions: zab.NewSessionTracker(secret, myID, now()), live: make(map[int64]bool)}
}

// status follows the member's status (member.Config.OnStatus).
func (r *readOnlyMode) status(st peer.Status) {
	if !r.enabled {
		return
	}
	r.mu.Lock()
	var ended []int64
	switch {
	case st.Role == peer.Looking && r.lookingSince.IsZero():
		r.lookingSince = r.now()
	case st.Role != peer.Looking && !r.lookingSince.IsZero():
		r.lookingSince = time.Time{}
		for sid := range r.live {
			ended = append(ended, sid)
			r.sessions.Remove(sid)
		}
		clear(r.live)
	}
	r.mu.Unlock()
	if len(ended) > 0 {
		r.end(ended)
	}
}

// active reports whether the member serves read-only clients now.
func (r *readOnlyMode) active() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.activeLocked()
}

func (r *readOnlyMode) activeLocked() bool {
	return r.enabled && !r.lookingSince.IsZero() && r.now().Sub(r.lookingSince) >= r.grace
}

// create starts a read-only session; false when the member is not in
// read-only mode.
func (r *readOnlyMode) create(timeout time.Duration) (sid int64, passwd []byte, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.activeLocked() {
		return 0, nil, false
	}
	now := r.reapLocked()
	sid = r.sessions.NextID()
	r.sessions.Track(sid, timeout, now)
	r.live[sid] = true
	return sid, r.sessions.Password(sid), true
}

// owns reports whether sid is one of this member's read-only sessions.
func (r *readOnlyMode) owns(sid int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live[sid]
}

// resume re-attaches a read-only session of this member: ok when it is
// live and passwd is its password.
func (r *readOnlyMode) resume(sid int64, passwd []byte, timeout time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.activeLocked() || !r.sessions.CheckPassword(sid, passwd) {
		return false
	}
	now := r.reapLocked()
	return r.live[sid] && r.sessions.SetTimeout(sid, timeout, now)
}

// touch extends a read-only session's life; false once it is gone (read-
// only mode ended, or it expired).
func (r *readOnlyMode) touch(sid int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.activeLocked() {
		return false
	}
	now := r.reapLocked()
	return r.live[sid] && r.sessions.Touch(sid, now)
}

// reapLocked forgets the sessions whose clients stopped pinging for
// their timeout, and returns the time it judged by.
func (r *readOnlyMode) reapLocked() time.Time {
	now := r.now()
	for _, sid := range r.sessions.Expired(now) {
		delete(r.live, sid)
	}
	return now
}

// close ends a read-only session at its client's request.
func (r *readOnlyMode) close(sid int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sessions.Remove(sid)
	delete(r.live, sid)
}
