package main

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// try sends one request and returns its reply's header, or the read error
// (io.EOF: the server closed the connection without answering).
func (c *rawClient) try(xid int32, op tree.Op, req tree.Request) (jute.ReplyHeader, error) {
	c.t.Helper()
	if _, err := c.nc.Write(jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Op: op}, req))); err != nil {
		return jute.ReplyHeader{}, err
	}
	body, err := jute.ReadFrame(c.br, 1<<20, nil)
	if err != nil {
		return jute.ReplyHeader{}, err
	}
	hdr, _, err := jute.DecodeReply(body, op)
	if err == nil && hdr.Zxid > c.zxid {
		c.zxid = hdr.Zxid
	}
	return hdr, err
}

// A session that re-attached to another member is owned there: a write
// still arriving through the connection the client left behind is refused
// as Apache ZooKeeper's leader refuses it (SessionMoved), and that
// connection closes unanswered, so nothing the client sent over it after
// moving is applied. Moves between followers, from a follower to the
// leader and from the leader to a follower.
func TestEnsembleSessionMoved(t *testing.T) {
	e := newEnsemble(t, 3, "")
	leader := e.waitModes(30 * time.Second)
	f1, f2 := leader%3+1, (leader+1)%3+1
	for _, mv := range []struct {
		name     string
		from, to int
	}{
		{"follower to follower", f1, f2},
		{"follower to leader", f1, leader},
		{"leader to follower", leader, f2},
	} {
		t.Run(mv.name, func(t *testing.T) {
			old, err := dialRaw(t, e.client[mv.from-1], jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)})
			if err != nil {
				t.Fatal(err)
			}
			sid, pw := old.resp.SessionID, old.resp.Passwd
			dir := fmt.Sprintf("/moved-%d-%d", mv.from, mv.to)
			if h, err := old.try(1, tree.OpCreate, tree.Request{Path: dir, ACL: tree.OpenACLUnsafe}); err != nil || h.Err != tree.CodeOK {
				t.Fatalf("create %s before the move: %v %v", dir, h.Err, err)
			}
			// As a client does: it says what it has seen, and a member
			// behind that closes the connection; then it tries again.
			var moved *rawClient
			for deadline := time.Now().Add(10 * time.Second); ; {
				moved, err = dialRaw(t, e.client[mv.to-1], jute.ConnectRequest{TimeOut: 10000, SessionID: sid, Passwd: pw, LastZxidSeen: old.zxid})
				if !errors.Is(err, io.EOF) || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil || moved.resp.SessionID != sid {
				t.Fatalf("re-attach to server %d: %+v %v", mv.to, moved.resp, err)
			}
			if h, err := moved.try(1, tree.OpCreate, tree.Request{Path: dir + "/after", ACL: tree.OpenACLUnsafe}); err != nil || h.Err != tree.CodeOK {
				t.Fatalf("create through the new member: %v %v", h.Err, err)
			}
			h, err := old.try(2, tree.OpCreate, tree.Request{Path: dir + "/stale", ACL: tree.OpenACLUnsafe})
			if !errors.Is(err, io.EOF) {
				t.Errorf("a write through the connection left behind: %v %v, want the connection closed unanswered", h.Err, err)
			}
			// Through the session where it is now: the stale write did not happen.
			if h, err := moved.try(2, tree.OpSync, tree.Request{Path: dir}); err != nil || h.Err != tree.CodeOK {
				t.Fatalf("sync: %v %v", h.Err, err)
			}
			if h, err := moved.try(3, tree.OpExists, tree.Request{Path: dir + "/stale"}); err != nil || h.Err != tree.CodeNoNode {
				t.Errorf("exists %s/stale after the refused write: %v %v, want NoNode", dir, h.Err, err)
			}
			if h, err := moved.try(4, tree.OpCreate, tree.Request{Path: dir + "/still", ACL: tree.OpenACLUnsafe}); err != nil || h.Err != tree.CodeOK {
				t.Errorf("the moved session writes on: %v %v", h.Err, err)
			}
		})
	}
}
