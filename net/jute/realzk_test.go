package jute

import (
	"bytes"
	stdnet "net"
	"os"
	"testing"
	"time"

	"zabd/tree"
)

// TestAgainstRealZooKeeper checks this codec against a live Apache
// ZooKeeper (the 3.8 server is the arbiter of wire behaviour). It runs only
// when JUTE_ZK_ADDR names one (e.g. a standalone server started with
// -Dzookeeper.extendedTypesEnabled=true on 127.0.0.1), and checks both
// that DecodeReply understands the server's bytes and that AppendReply,
// given what was decoded, reproduces them exactly.
func TestAgainstRealZooKeeper(t *testing.T) {
	addr := os.Getenv("JUTE_ZK_ADDR")
	if addr == "" {
		t.Skip("JUTE_ZK_ADDR not set")
	}
	root := "/jute-test-" + time.Now().Format("150405.000000")

	t.Run("handshake echoes the readOnly byte only to clients that send it", func(t *testing.T) {
		for _, legacy := range []bool{false, true} {
			c := dialZK(t, addr, legacy)
			if c.resp.Legacy != legacy || c.resp.SessionID == 0 || len(c.resp.Passwd) != 16 {
				t.Errorf("legacy=%v: response %+v", legacy, c.resp)
			}
			c.close()
		}
	})

	c := dialZK(t, addr, false)
	defer c.close()
	acl := tree.OpenACLUnsafe

	check := func(name string, op tree.Op, req tree.Request, wantErr tree.Code) (ReplyHeader, tree.Result, []byte) {
		t.Helper()
		raw := c.call(t, op, req)
		h, res, err := DecodeReply(raw, op)
		if err != nil {
			t.Fatalf("%s: DecodeReply(%x): %v", name, raw, err)
		}
		if res.Err != wantErr {
			t.Errorf("%s: err %v, want %v", name, res.Err, wantErr)
		}
		if again := AppendReply(nil, h.Xid, h.Zxid, op, res); !bytes.Equal(again, raw) {
			t.Errorf("%s: AppendReply does not reproduce ZooKeeper's bytes:\n got %x\nwant %x", name, again, raw)
		}
		return h, res, raw
	}

	check("create", tree.OpCreate, tree.Request{Path: root, ACL: acl}, tree.CodeOK)
	_, res, _ := check("create2", tree.OpCreate2, tree.Request{Path: root + "/c2", Data: []byte("v"), ACL: acl}, tree.CodeOK)
	if res.Stat == nil || res.Stat.DataLength != 1 {
		t.Errorf("create2 stat: %+v", res.Stat)
	}
	check("create exists", tree.OpCreate, tree.Request{Path: root, ACL: acl}, tree.CodeNodeExists)
	_, res, _ = check("getData null data", tree.OpGetData, tree.Request{Path: root}, tree.CodeOK)
	if res.Data != nil {
		t.Errorf("null data read back as %#v", res.Data)
	}
	check("getData no node", tree.OpGetData, tree.Request{Path: root + "/none"}, tree.CodeNoNode)
	check("exists no node", tree.OpExists, tree.Request{Path: root + "/none"}, tree.CodeNoNode)
	_, res, _ = check("getChildren leaf", tree.OpGetChildren, tree.Request{Path: root + "/c2"}, tree.CodeOK)
	if res.Children == nil || len(res.Children) != 0 {
		t.Errorf("leaf children: %#v, want empty", res.Children)
	}
	check("getChildren2", tree.OpGetChildren2, tree.Request{Path: root}, tree.CodeOK)
	check("getACL", tree.OpGetACL, tree.Request{Path: root}, tree.CodeOK)
	check("setData", tree.OpSetData, tree.Request{Path: root, Data: []byte{}, Version: -1}, tree.CodeOK)
	check("setData bad version", tree.OpSetData, tree.Request{Path: root, Version: 7}, tree.CodeBadVersion)
	check("sync", tree.OpSync, tree.Request{Path: root}, tree.CodeOK)
	check("addWatch", tree.OpAddWatch, tree.Request{Path: root + "/c2", WatchMode: tree.WatchModePersistent}, tree.CodeOK)
	check("removeWatches", tree.OpRemoveWatches, tree.Request{Path: root + "/c2", WatcherType: tree.WatcherAny}, tree.CodeOK)
	check("checkWatches none", tree.OpCheckWatches, tree.Request{Path: root + "/c2", WatcherType: tree.WatcherAny}, tree.CodeNoWatcher)
	check("getAllChildrenNumber", tree.OpGetAllChildrenNumber, tree.Request{Path: root}, tree.CodeOK)
	check("getEphemerals", tree.OpGetEphemerals, tree.Request{Path: "/"}, tree.CodeOK)
	_, res, _ = check("whoAmI", tree.OpWhoAmI, tree.Request{}, tree.CodeOK)
	if len(res.Identity) != 1 || res.Identity[0].Scheme != "ip" {
		t.Errorf("whoAmI: %+v", res.Identity)
	}
	check("createTTL", tree.OpCreateTTL, tree.Request{Path: root + "/ttl", ACL: acl, Mode: tree.ModePersistentTTL, TTL: 60000}, tree.CodeOK)
	check("createContainer", tree.OpCreateContainer, tree.Request{Path: root + "/ctr", ACL: acl, Mode: tree.ModeContainer}, tree.CodeOK)

	// Multi: create2 inside a multi is answered as create (3.8); container
	// flags make createContainer, answered as create2 with a stat.
	_, res, _ = check("multi ok", tree.OpMulti, tree.Request{Ops: []tree.Request{
		{Op: tree.OpCreate2, Path: root + "/m1", ACL: acl},
		{Op: tree.OpCreate, Path: root + "/m2", ACL: acl, Mode: tree.ModeContainer},
		{Op: tree.OpSetData, Path: root + "/m1", Data: []byte("x"), Version: 0},
		{Op: tree.OpCheck, Path: root + "/m1", Version: 1},
		{Op: tree.OpDelete, Path: root + "/m1", Version: -1},
	}}, tree.CodeOK)
	t.Logf("multi ok results: %+v", res.Results)
	wantOps := []tree.Op{tree.OpCreate, tree.OpCreate2, tree.OpSetData, tree.OpCheck, tree.OpDelete}
	for i, r := range res.Results {
		if i < len(wantOps) && r.Op != wantOps[i] {
			t.Errorf("multi ok result %d: op %v, want %v", i, r.Op, wantOps[i])
		}
	}
	// A failing multi: header err 0, every op an error result.
	h, res, raw := check("multi failing", tree.OpMulti, tree.Request{Ops: []tree.Request{
		{Op: tree.OpCreate, Path: root + "/f1", ACL: acl},
		{Op: tree.OpDelete, Path: root + "/none", Version: -1},
		{Op: tree.OpCheck, Path: root, Version: -1},
	}}, tree.CodeNoNode)
	t.Logf("failing multi reply: %x", raw)
	if h.Err != tree.CodeOK {
		t.Errorf("failing multi header err %v, want ok", h.Err)
	}
	wantCodes := []tree.Code{tree.CodeOK, tree.CodeNoNode, tree.CodeRuntimeInconsistency}
	for i, r := range res.Results {
		if r.Op != tree.OpError || i >= len(wantCodes) || r.Err != wantCodes[i] {
			t.Errorf("failing multi result %d: %+v", i, r)
		}
	}
	// Encoding the tree's view of the failure gives ZooKeeper's bytes.
	treeView := tree.Result{Err: tree.CodeNoNode, Results: []tree.Result{
		{Op: tree.OpCreate, Path: root + "/f1"}, {Op: tree.OpDelete, Err: tree.CodeNoNode}, {Op: tree.OpCheck},
	}}
	if got := AppendReply(nil, h.Xid, h.Zxid, tree.OpMulti, treeView); !bytes.Equal(got, raw) {
		t.Errorf("failing multi from the tree's view:\n got %x\nwant %x", got, raw)
	}
	check("multiRead partial", tree.OpMultiRead, tree.Request{Ops: []tree.Request{
		{Op: tree.OpGetData, Path: root},
		{Op: tree.OpGetChildren, Path: root + "/none"},
		{Op: tree.OpGetChildren, Path: root},
	}}, tree.CodeOK)

	// A watch fires as a notification with zxid -1.
	check("getData watch", tree.OpGetData, tree.Request{Path: root + "/c2", Watch: true}, tree.CodeOK)
	c.send(t, RequestHeader{Xid: c.nextXid(), Op: tree.OpSetData}, tree.Request{Path: root + "/c2", Version: -1})
	var sawEvent bool
	for range 2 {
		frame := c.recv(t)
		rh, err := DecodeReplyHeader(frame)
		if err != nil {
			t.Fatal(err)
		}
		if rh.Xid != XidNotification {
			continue
		}
		sawEvent = true
		ev, state, err := DecodeNotification(frame)
		if err != nil || ev.Type != tree.EventNodeDataChanged || state != tree.StateSyncConnected || rh.Zxid != -1 {
			t.Errorf("notification %x: %+v %v %v", frame, ev, state, err)
		}
		if want := AppendNotification(nil, ev, state); !bytes.Equal(want, frame) {
			t.Errorf("AppendNotification:\n got %x\nwant %x", want, frame)
		}
	}
	if !sawEvent {
		t.Errorf("no notification")
	}

	// A body that does not parse: ZooKeeper answers MarshallingError and
	// keeps the connection.
	xid := c.nextXid()
	bad := AppendRequest(nil, RequestHeader{Xid: xid, Op: tree.OpGetData}, tree.Request{Path: root})
	c.sendRaw(t, bad[:len(bad)-3])
	raw = c.recv(t)
	if rh, _ := DecodeReplyHeader(raw); rh.Xid != xid || rh.Err != tree.CodeMarshallingError || len(raw) != 16 {
		t.Errorf("truncated getData: reply %x", raw)
	}
	check("still usable after marshalling error", tree.OpExists, tree.Request{Path: root}, tree.CodeOK)

	// Ping.
	c.send(t, RequestHeader{Xid: XidPing, Op: tree.OpPing}, tree.Request{})
	if rh, err := DecodeReplyHeader(c.recv(t)); err != nil || rh.Xid != XidPing || rh.Err != tree.CodeOK {
		t.Errorf("ping reply %+v %v", rh, err)
	}

	// An unknown op: Unimplemented, then the server closes.
	xid = c.nextXid()
	c.send(t, RequestHeader{Xid: xid, Op: 99}, tree.Request{})
	raw = c.recv(t)
	if rh, _ := DecodeReplyHeader(raw); rh.Xid != xid || rh.Err != tree.CodeUnimplemented || len(raw) != 16 {
		t.Errorf("unknown op: reply %x", raw)
	}

	// Auth with an unknown scheme: AuthFailed with zxid 0.
	c2 := dialZK(t, addr, false)
	defer c2.close()
	c2.send(t, RequestHeader{Xid: XidAuth, Op: tree.OpAuth}, tree.Request{Scheme: "nosuch", Cred: []byte("x")})
	raw = c2.recv(t)
	if want := AppendReply(nil, XidAuth, 12345, tree.OpAuth, tree.Result{Err: tree.CodeAuthFailed}); !bytes.Equal(raw, want) {
		t.Errorf("auth failure:\n got %x\nwant %x", raw, want)
	}
}

type zkConn struct {
	c    stdnet.Conn
	resp ConnectResponse
	xid  int32
	buf  []byte
}

func dialZK(t *testing.T, addr string, legacy bool) *zkConn {
	t.Helper()
	nc, err := stdnet.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := &zkConn{c: nc}
	c.sendRaw(t, AppendConnectRequest(nil, ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), Legacy: legacy}))
	if c.resp, err = DecodeConnectResponse(c.recv(t)); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *zkConn) close() { c.c.Close() }

func (c *zkConn) nextXid() int32 { c.xid++; return c.xid }

func (c *zkConn) sendRaw(t *testing.T, body []byte) {
	t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write(AppendFrame(nil, body)); err != nil {
		t.Fatal(err)
	}
}

func (c *zkConn) send(t *testing.T, h RequestHeader, req tree.Request) {
	t.Helper()
	c.sendRaw(t, AppendRequest(nil, h, req))
}

func (c *zkConn) recv(t *testing.T) []byte {
	t.Helper()
	c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	frame, err := ReadFrame(c.c, DefaultMaxFrameBytes, nil)
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// call sends one request and returns the reply frame with its xid,
// skipping notifications.
func (c *zkConn) call(t *testing.T, op tree.Op, req tree.Request) []byte {
	t.Helper()
	xid := c.nextXid()
	c.send(t, RequestHeader{Xid: xid, Op: op}, req)
	for range 10 {
		frame := c.recv(t)
		if h, err := DecodeReplyHeader(frame); err == nil && h.Xid == xid {
			return frame
		}
	}
	t.Fatalf("no reply to xid %d", xid)
	return nil
}
