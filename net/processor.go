package net

import (
	"time"

	"zabd/tree"
)

// SessionID is a ZooKeeper session id (ConnectResponse.sessionId).
type SessionID int64

// Processor is what the client-facing server needs from the layer that owns
// the data tree, orders writes and tracks sessions (zab satisfies it; cmd
// wires the two together). Declared here, at its consumer. Callbacks run on
// the processor's goroutines and must not block.
type Processor interface {
	// CreateSession makes a session durable (a createSession txn) and
	// calls done with its id and password. readOnlyOK is the client's
	// ConnectRequest readOnly flag: while writes are refused the processor
	// may answer such a client with a read-only session (readOnly true),
	// whose writes the connection answers NotReadOnly, as Apache
	// ZooKeeper's read-only server does. A client that does not accept one
	// gets an error, and its connection is closed.
	// client is the client's address (host:port), logged with the
	// createSession for an audit.
	CreateSession(timeout time.Duration, client string, readOnlyOK bool, done func(sid SessionID, passwd []byte, readOnly bool, err error))
	// ResumeSession re-attaches a live session whose password matches,
	// with a newly negotiated timeout; ok is false when the session is
	// unknown, expired or the password is wrong. readOnly says it is a
	// read-only session. A non-nil err means the processor cannot judge
	// the session now (a quorum member between leaders): the connection
	// closes without an answer, so the client keeps its session and tries
	// again, where a refusal would tell it the session expired.
	ResumeSession(sid SessionID, passwd []byte, timeout time.Duration) (ok, readOnly bool, err error)
	// Touch extends a session's life; false when it is no longer live.
	Touch(sid SessionID) bool
	// CloseSession ends a session (a closeSession txn deleting its
	// ephemerals) and calls done when that is durable and applied.
	CloseSession(sid SessionID, done func(tree.Result, error))
	// Submit orders a write (or sync) after every request submitted before
	// it and calls done when it is durable and applied. ZooKeeper error
	// codes travel in Result.Err; err is for requests that could not be
	// ordered at all (shutdown, storage failure).
	Submit(sid SessionID, req tree.Request, done func(tree.Result, error))
	// Read answers a read from the local tree, registering the watch for w
	// when req.Watch is set, atomically with the read. It calls answer
	// with the result before any later write can trigger that watch (the
	// tree still held), so the reply is queued ahead of the event: clients
	// file a watch when its reply arrives and drop events for watches they
	// have not filed. answer does not block.
	Read(sid SessionID, w tree.WatcherID, req tree.Request, answer func(tree.Result))
	// Watches runs fn with the tree still and the watch registry locked;
	// deliveries fn returns are delivered before Watches returns.
	Watches(fn func(t *tree.Tree, w *tree.Watches) []tree.Delivery)
	// LastZxid is the zxid of the last txn applied to the tree.
	LastZxid() int64
	// Status reports figures for the four-letter words.
	Status() Status
}

// Status is the processor's side of srvr/stat/mntr.
type Status struct {
	Mode string // "standalone", "leader", "follower", "observer"
	// WritesRefused says why writes are refused now (a failed fsync, a
	// full disk), "" when they are taken: ruok then answers nothing, isro
	// "ro", and mntr's zk_writes_refused is 1.
	WritesRefused  string
	LastZxid       int64
	NodeCount      int
	ApproxDataSize int64
	Ephemerals     int
	Sessions       int
	// Extra is appended to mntr as zk_<key>\t<value>, in order.
	Extra [][2]string
}
