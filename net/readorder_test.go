package net

import (
	"testing"
	"time"

	"zabd/net/jute"
	"zabd/tree"
)

// eagerProc is a processor at its most hurried: the moment a watching
// read (or an addWatch) lets go of the tree, a write fires that very
// watch. A connection that queued the reply only after Read returned
// sent the event first, and a client that files a watch when its reply
// arrives (kazoo's Lock recipe, the Java client) dropped it and waited
// for ever: kazoo_lock.py timed out on a busy CI machine that way.
type eagerProc struct {
	heldProc
	srv *Server
}

func (p *eagerProc) Read(_ SessionID, w tree.WatcherID, req tree.Request, answer func(tree.Result)) {
	answer(tree.Result{Data: []byte("held"), Zxid: 5})
	p.srv.Deliver([]tree.Delivery{{Watcher: w, Event: tree.WatchEvent{Type: tree.EventNodeDeleted, Path: req.Path}}})
}

func (p *eagerProc) Watches(fn func(*tree.Tree, *tree.Watches) []tree.Delivery) {
	p.heldProc.Watches(fn)
	p.srv.Deliver([]tree.Delivery{{Watcher: 1, Event: tree.WatchEvent{Type: tree.EventNodeCreated, Path: "/p"}}})
}

// A read's reply goes out before any event a write after it fires, and
// so does addWatch's.
func TestReplyBeforeTheEventItsWatchFires(t *testing.T) {
	proc := &eagerProc{heldProc: heldProc{watches: tree.NewWatches()}}
	srv := NewServer(Config{Logger: quietLogger()}, proc)
	proc.srv = srv
	addr := serveLoopback(t, srv)

	c := newSession(t, addr)
	steps := []struct {
		xid int32
		op  tree.Op
		req tree.Request
	}{
		{1, tree.OpGetData, tree.Request{Path: "/lock/n1", Watch: true}},
		{2, tree.OpExists, tree.Request{Path: "/lock/n2", Watch: true}},
		{3, tree.OpAddWatch, tree.Request{Path: "/p", WatchMode: tree.WatchModePersistent}},
	}
	for _, s := range steps {
		first := c.call(s.xid, s.op, s.req)
		hdr, err := jute.DecodeReplyHeader(first)
		if err != nil || hdr.Xid != s.xid {
			t.Fatalf("%v: first frame after the request is %+v (%v), want the reply to xid %d ahead of the event", s.op, hdr, err, s.xid)
		}
		next, err := jute.ReadFrame(c.br, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		ev, _, err := jute.DecodeNotification(next)
		if err != nil {
			t.Fatalf("%v: the frame after the reply is not an event: %v", s.op, err)
		}
		t.Logf("%v: reply, then %+v", s.op, ev)
	}
	c.nc.SetDeadline(time.Time{})
}
