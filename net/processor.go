package net

import (
	"context"

	"zabd/tree"
)

// SessionID is a ZooKeeper session id (ConnectResponse.sessionId).
type SessionID int64

// Processor is what the client-facing server needs from the layer that owns
// the data tree and orders writes (zab's pipeline satisfies it; cmd wires the
// two together). Declared here, at its consumer.
type Processor interface {
	// Submit orders a write (or sync) after every request already submitted,
	// makes it durable on a quorum, applies it and returns its result. It
	// returns a non-nil error only when the request could not be ordered at
	// all (shutdown, storage failure); ZooKeeper error codes travel in
	// Result.Err.
	Submit(ctx context.Context, sid SessionID, req tree.Request) (tree.Result, error)
	// Read answers a read from the local tree, registering the watch for w
	// when req.Watch is set, atomically with the read.
	Read(sid SessionID, w tree.WatcherID, req tree.Request) tree.Result
}
