package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/net/jute"
	"zabd/tree"
)

// rawClient speaks the wire protocol itself so that its ConnectRequest can
// say readOnly (go-zookeeper never does).
type rawClient struct {
	t    *testing.T
	nc   stdnet.Conn
	br   *bufio.Reader
	resp jute.ConnectResponse
	zxid int64 // the last zxid a reply carried (the client's lastZxidSeen)
}

// dialReadOnly connects to addr with a new session, readOnly as given; it
// returns the error of the handshake (io.EOF: closed unanswered).
func dialReadOnly(t *testing.T, addr string, readOnly bool) (*rawClient, error) {
	t.Helper()
	return dialRaw(t, addr, jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), ReadOnly: readOnly})
}

// dialRaw connects to addr and sends cr.
func dialRaw(t *testing.T, addr string, cr jute.ConnectRequest) (*rawClient, error) {
	t.Helper()
	nc, err := stdnet.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	if _, err := nc.Write(jute.AppendFrame(nil, jute.AppendConnectRequest(nil, cr))); err != nil {
		return nil, err
	}
	body, err := jute.ReadFrame(c.br, 1<<20, nil)
	if err != nil {
		return nil, err
	}
	c.resp, err = jute.DecodeConnectResponse(body)
	return c, err
}

func (c *rawClient) call(xid int32, op tree.Op, req tree.Request) (jute.ReplyHeader, tree.Result) {
	c.t.Helper()
	if _, err := c.nc.Write(jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Op: op}, req))); err != nil {
		c.t.Fatalf("%v: %v", op, err)
	}
	body, err := jute.ReadFrame(c.br, 1<<20, nil)
	if err != nil {
		c.t.Fatalf("%v: %v", op, err)
	}
	hdr, res, err := jute.DecodeReply(body, op)
	if err != nil {
		c.t.Fatalf("%v: decoding the reply: %v", op, err)
	}
	return hdr, res
}

// With readonlymode.enabled, a member cut off from its quorum serves
// read-only clients from the state it has, as an Apache ZooKeeper 3.8
// member does: srvr says "Mode: read-only", a client whose ConnectRequest
// says readOnly gets a local read-only session (ConnectResponse readOnly,
// an id of this member) whose reads see the ensemble's last state and
// whose writes are answered NotReadOnly; a client that does not accept a
// read-only server, and a session of the ensemble, are closed unanswered.
// When the quorum is back the read-only sessions end and writes resume.
func TestEnsembleReadOnlyMode(t *testing.T) {
	e := newEnsemble(t, 3, "readonlymode.enabled=true")
	leader := e.waitModes(30 * time.Second)
	c, err := e.connect(leader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/ro", []byte("before the partition"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	ensembleSID := c.SessionID()
	c.Close()
	// The survivor must hold /ro: sync through it first.
	survivor := leader%3 + 1
	sc, err := e.connect(survivor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Sync("/ro"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sc.Get("/ro"); err != nil {
		t.Fatalf("the survivor-to-be lacks /ro: %v", err)
	}
	sc.Close()
	for i := 1; i <= 3; i++ {
		if i != survivor {
			e.kill(i)
		}
	}
	e.logf("killed all but server %d", survivor)

	deadline := time.Now().Add(20 * time.Second)
	for e.mode(survivor) != "read-only" {
		if time.Now().After(deadline) {
			e.dumpModes()
			t.Fatalf("server %d never said Mode: read-only", survivor)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := fourLetter(t, e.client[survivor-1], "isro"); got != "ro" {
		t.Errorf("isro in read-only mode: %q", got)
	}

	ro, err := dialReadOnly(t, e.client[survivor-1], true)
	if err != nil {
		t.Fatalf("a read-only client was refused in read-only mode: %v", err)
	}
	if !ro.resp.ReadOnly || ro.resp.SessionID == 0 || uint64(ro.resp.SessionID)>>56 != uint64(survivor) {
		t.Fatalf("ConnectResponse %+v: want a read-only session of server %d", ro.resp, survivor)
	}
	hdr, res := ro.call(1, tree.OpGetData, tree.Request{Path: "/ro"})
	if hdr.Err != tree.CodeOK || string(res.Data) != "before the partition" {
		t.Errorf("getData /ro in read-only mode: %v %q", hdr.Err, res.Data)
	}
	hdr, _ = ro.call(2, tree.OpCreate, tree.Request{Path: "/during", ACL: tree.OpenACLUnsafe})
	if hdr.Err != tree.CodeNotReadOnly {
		t.Errorf("create in read-only mode answered %v, want NotReadOnly", hdr.Err)
	}
	hdr, _ = ro.call(-2, tree.OpPing, tree.Request{})
	if hdr.Err != tree.CodeOK {
		t.Errorf("ping of a read-only session answered %v", hdr.Err)
	}

	if _, err := dialReadOnly(t, e.client[survivor-1], false); !errors.Is(err, io.EOF) {
		t.Errorf("a client that does not accept a read-only server: %v, want the connection closed unanswered", err)
	}
	nc, err := stdnet.Dial("tcp", e.client[survivor-1])
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	cr := jute.ConnectRequest{TimeOut: 10000, SessionID: ensembleSID, Passwd: make([]byte, 16), ReadOnly: true}
	nc.Write(jute.AppendFrame(nil, jute.AppendConnectRequest(nil, cr)))
	if body, err := jute.ReadFrame(bufio.NewReader(nc), 1<<20, nil); !errors.Is(err, io.EOF) {
		t.Errorf("re-attach of a session of the ensemble in read-only mode: %x %v, want closed unanswered", body, err)
	}
	nc.Close()

	for i := 1; i <= 3; i++ {
		if i != survivor {
			e.start(i)
		}
	}
	e.waitModes(30 * time.Second)
	// The read-only session ended with read-only mode.
	ro.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := jute.ReadFrame(ro.br, 1<<20, nil); !errors.Is(err, io.EOF) {
		t.Errorf("the read-only session's connection after the quorum came back: %v, want closed", err)
	}
	if m := e.mode(survivor); m == "read-only" || !strings.Contains("leader follower", m) {
		t.Errorf("server %d's mode with its quorum back: %q", survivor, m)
	}
	w, err := e.connect(survivor)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("a write after read-only mode: %v", err)
	}
}

// mntrOf parses server i's mntr into a map.
func (e *ensemble) mntrOf(i int) map[string]string {
	kv := map[string]string{}
	for _, l := range strings.Split(fourLetter(e.t, e.client[i-1], "mntr"), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok {
			kv[k] = v
		}
	}
	return kv
}

// mntr on an ensemble's members has ZooKeeper 3.8's lines: the state, and
// on the leader its learners and the quorum_ack_latency summary
// (proposal to commit) with the proposal sizes.
func TestEnsembleMntr(t *testing.T) {
	e := newEnsemble(t, 3, "")
	leader := e.waitModes(30 * time.Second)
	c, err := e.connect(leader)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const writes = 40
	for i := range writes {
		if _, err := c.Create(fmt.Sprintf("/m%d", i), make([]byte, 100), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	lm := e.mntrOf(leader)
	for k, want := range map[string]string{"zk_server_state": "leader", "zk_learners": "2", "zk_synced_followers": "2",
		"zk_synced_observers": "0", "zk_pending_syncs": "0"} {
		if lm[k] != want {
			t.Errorf("leader's mntr %s = %q, want %q", k, lm[k], want)
		}
	}
	if n, err := strconv.Atoi(lm["zk_cnt_quorum_ack_latency"]); err != nil || n < writes {
		t.Errorf("leader's zk_cnt_quorum_ack_latency = %q, want at least %d", lm["zk_cnt_quorum_ack_latency"], writes)
	}
	avg, err := strconv.ParseFloat(lm["zk_avg_quorum_ack_latency"], 64)
	mx, err2 := strconv.Atoi(lm["zk_max_quorum_ack_latency"])
	if err != nil || err2 != nil || avg < 0 || float64(mx)+1 < avg {
		t.Errorf("leader's quorum ack latency: avg %q max %q", lm["zk_avg_quorum_ack_latency"], lm["zk_max_quorum_ack_latency"])
	}
	if n, err := strconv.Atoi(lm["zk_max_proposal_size"]); err != nil || n < 100 {
		t.Errorf("leader's zk_max_proposal_size = %q, want at least the 100 bytes written", lm["zk_max_proposal_size"])
	}
	follower := leader%3 + 1
	fm := e.mntrOf(follower)
	if fm["zk_server_state"] != "follower" {
		t.Errorf("follower's mntr zk_server_state = %q", fm["zk_server_state"])
	}
	if _, ok := fm["zk_cnt_quorum_ack_latency"]; ok {
		t.Errorf("a follower's mntr has the leader's lines: %v", fm)
	}
}
