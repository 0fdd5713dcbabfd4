package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	stdnet "net"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/log"
	"zabd/zab/election"
	"zabd/zab/peer"
)

// waitLimit fails a test that waits for something that should have
// happened long before; it never proves that something did not.
const waitLimit = 20 * time.Second

var loopback = Addrs{Quorum: "127.0.0.1:0", Election: "127.0.0.1:0"}

// harness starts transports whose Peers name each other symbolically
// ("m2-quorum"); its Dial resolves the names to the ports bound at run
// time and records what was dialled.
type harness struct {
	t       *testing.T
	mu      sync.Mutex
	real    map[string]string
	dialled []string
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, real: make(map[string]string)}
}

func (h *harness) dial(ctx context.Context, network, addr string) (stdnet.Conn, error) {
	h.mu.Lock()
	real, ok := h.real[addr]
	h.dialled = append(h.dialled, addr)
	h.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%s: no such member", addr)
	}
	var d stdnet.Dialer
	return d.DialContext(ctx, network, real)
}

func (h *harness) dials() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.dialled)
}

// start starts member id of members, listening on own.
func (h *harness) start(id peer.ID, members []peer.ID, own Addrs, mod func(*Config)) *Transport {
	h.t.Helper()
	cfg := Config{
		ID:     id,
		Peers:  make(map[peer.ID]Addrs),
		Logger: slog.New(slog.NewTextHandler(h.t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})).With("member", id),
		Dial:   h.dial,
	}
	for _, m := range members {
		cfg.Peers[m] = Addrs{Quorum: fmt.Sprintf("m%d-quorum", m), Election: fmt.Sprintf("m%d-election", m)}
	}
	cfg.Peers[id] = own
	if mod != nil {
		mod(&cfg)
	}
	tr, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { tr.Close() })
	h.mu.Lock()
	h.real[fmt.Sprintf("m%d-quorum", id)] = tr.Addrs().Quorum
	h.real[fmt.Sprintf("m%d-election", id)] = tr.Addrs().Election
	h.mu.Unlock()
	return tr
}

func recv(t *testing.T, tr *Transport) peer.Message {
	t.Helper()
	select {
	case m, ok := <-tr.Recv():
		if !ok {
			t.Fatal("Recv closed")
		}
		return m
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for a message")
	}
	panic("unreachable")
}

func ack(from, to peer.ID, seq uint64) peer.Message {
	return peer.Message{Type: peer.Ack, From: from, To: to, SyncID: seq}
}

func TestRoundTripEveryType(t *testing.T) {
	h := newHarness(t)
	a := h.start(1, []peer.ID{1, 2}, loopback, nil)
	b := h.start(2, []peer.ID{1, 2}, loopback, nil)
	r := rand.New(rand.NewPCG(5, 6))
	var want []peer.Message
	for i, typ := range allTypes {
		m := randMessage(r, typ)
		m.From, m.To, m.SyncID = 1, 2, uint64(i)
		want = append(want, m)
	}
	snap := randMessage(r, peer.Snap)
	snap.From, snap.To, snap.SyncID = 1, 2, uint64(len(want))
	snap.Snapshot = randBytes(r, 6<<20)
	big := randMessage(r, peer.Diff)
	big.From, big.To, big.SyncID = 1, 2, uint64(len(want)+1)
	for i := range 20000 {
		big.Entries = append(big.Entries, peer.Entry{Zxid: log.Zxid(1<<32 + i), Data: randBytes(r, 100)})
	}
	want = append(want, snap, big)

	// The vote goes first and alone: only the election port is dialled.
	a.Send(want[0])
	if got := recv(t, b); !reflect.DeepEqual(normalize(want[0]), got) {
		t.Fatalf("vote (-want +got):\n%s", cmp.Diff(normalize(want[0]), got))
	}
	if d := cmp.Diff([]string{"m2-election"}, h.dials()); d != "" {
		t.Fatalf("dialled (-want +got):\n%s", d)
	}
	for _, m := range want[1:] {
		a.Send(m)
	}
	for range want[1:] {
		got := recv(t, b)
		if w := normalize(want[got.SyncID]); !reflect.DeepEqual(w, got) {
			t.Fatalf("%v (-want +got):\n%s", w.Type, cmp.Diff(w, got))
		}
	}
	if d := cmp.Diff([]string{"m2-election", "m2-quorum"}, h.dials()); d != "" {
		t.Fatalf("dialled (-want +got):\n%s", d)
	}
	if s := a.Stats(); !slices.Equal(s.Connected, []peer.ID{2}) || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
	if s := b.Stats(); s.Received != uint64(len(want)) || s.Connected != nil {
		t.Fatalf("stats %+v", s)
	}
}

func TestFIFO(t *testing.T) {
	const n = 10000
	h := newHarness(t)
	big := func(c *Config) { c.QueueLen = 2 * n }
	a := h.start(1, []peer.ID{1, 2}, loopback, big)
	b := h.start(2, []peer.ID{1, 2}, loopback, big)
	for i := range uint64(n) {
		m := ack(1, 2, i)
		m.Type = peer.Proposal
		m.Entries = []peer.Entry{{Zxid: log.Zxid(i), Data: make([]byte, i%300)}}
		a.Send(m)
	}
	for i := range uint64(n) {
		if m := recv(t, b); m.SyncID != i || m.Entries[0].Zxid != log.Zxid(i) {
			t.Fatalf("message %d arrived as %d: %v", m.SyncID, i, m)
		}
	}
	a.Close()
	if s := a.Stats(); s.Sent != n || s.Dropped != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestReconnect(t *testing.T) {
	h := newHarness(t)
	a := h.start(1, []peer.ID{1, 2}, loopback, nil)
	b := h.start(2, []peer.ID{1, 2}, loopback, nil)
	a.Send(ack(1, 2, 0))
	recv(t, b)
	own := b.Addrs()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = h.start(2, []peer.ID{1, 2}, own, nil)
	// The messages A sends while it finds out B restarted may be lost
	// (the core resends): send until one arrives.
	seq, deadline := uint64(1), time.Now().Add(waitLimit)
	var first peer.Message
	for first.Type == 0 {
		a.Send(ack(1, 2, seq))
		seq++
		select {
		case first = <-b.Recv():
		case <-time.After(20 * time.Millisecond):
			if time.Now().After(deadline) {
				t.Fatal("no message reached the new B")
			}
		}
	}
	// From now on they arrive in order, none lost.
	from := seq
	for range 100 {
		a.Send(ack(1, 2, seq))
		seq++
	}
	last := first.SyncID
	for last != seq-1 {
		m := recv(t, b)
		if m.SyncID <= last {
			t.Fatalf("message %d after %d", m.SyncID, last)
		}
		if m.SyncID > from && m.SyncID != last+1 {
			t.Fatalf("message %d after %d: lost some", m.SyncID, last)
		}
		last = m.SyncID
	}
	if got := h.dials(); len(got) < 2 {
		t.Fatalf("dialled %v: no redial", got)
	}
}

// reserveAddr returns a loopback address nothing listens on.
func reserveAddr(t *testing.T) string {
	ln, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestPeerDown(t *testing.T) {
	down := Addrs{Quorum: reserveAddr(t), Election: reserveAddr(t)}
	a, err := New(Config{ID: 1, Peers: map[peer.ID]Addrs{1: loopback, 2: down},
		QueueLen: 8, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	for i := range uint64(n) { // would hang here if Send blocked
		m := ack(1, 2, i)
		if i%3 == 0 {
			m.Type = peer.Vote
		}
		a.Send(m)
	}
	a.Send(peer.Message{Type: peer.Snap, From: 1, To: 2, Snapshot: "not bytes"})
	a.Send(ack(1, 9, 0)) // unknown member
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a.Send(ack(1, 2, 0)) // closed
	if s := a.Stats(); s.Sent != 0 || s.Dropped != n+3 || s.Connected != nil {
		t.Fatalf("stats %+v, want %d dropped", s, n+3)
	}
	if _, ok := <-a.Recv(); ok {
		t.Fatal("Recv not closed")
	}
}

func TestNewErrors(t *testing.T) {
	taken, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name  string
		peers map[peer.ID]Addrs
	}{
		{"not a member", map[peer.ID]Addrs{2: loopback}},
		{"no election address", map[peer.ID]Addrs{1: loopback, 2: {Quorum: "x:1"}}},
		{"quorum port taken", map[peer.ID]Addrs{1: {Quorum: taken.Addr().String(), Election: "127.0.0.1:0"}}},
		{"election port taken", map[peer.ID]Addrs{1: {Quorum: "127.0.0.1:0", Election: taken.Addr().String()}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tr, err := New(Config{ID: 1, Peers: tc.peers}); err == nil {
				tr.Close()
				t.Fatal("New succeeded")
			}
		})
	}
}

// rawConn dials addr and writes frames the way a member would, or not.
type rawConn struct {
	stdnet.Conn
	w *bufio.Writer
}

func dialRaw(t *testing.T, addr string) *rawConn {
	c, err := stdnet.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{c, bufio.NewWriter(c)}
}

func (c *rawConn) frame(head, tail []byte) *rawConn {
	writeFrame(c.w, head, tail)
	return c
}

func (c *rawConn) handshake(k kind, from, to peer.ID) *rawConn {
	return c.frame(appendHandshake(nil, k, from, to), nil)
}

func (c *rawConn) msg(t *testing.T, m peer.Message) *rawConn {
	return c.frame(encode(t, m), nil)
}

func (c *rawConn) raw(b []byte) *rawConn {
	c.w.Write(b)
	return c
}

func (c *rawConn) flush(t *testing.T) {
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// waitClosed waits for the other end to close c.
func (c *rawConn) waitClosed(t *testing.T) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	var b [1]byte
	n, err := c.Read(b[:])
	var ne stdnet.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection not closed: read %d bytes, %v", n, err)
	}
}

// TestBadInbound: a connection that opens badly or sends a corrupt frame
// is closed, and only it: A's connection to B carries on.
func TestBadInbound(t *testing.T) {
	h := newHarness(t)
	members := []peer.ID{1, 2, 3} // 3 is played by the test over raw connections
	a := h.start(1, members, loopback, nil)
	b := h.start(2, members, loopback, func(c *Config) { c.MaxMessageBytes = 1 << 20 })
	a.Send(ack(1, 2, 0))
	recv(t, b)
	q := b.Addrs().Quorum

	// The raw connection speaks well enough when it means to.
	good := dialRaw(t, q).handshake(quorumPort, 3, 2)
	good.msg(t, ack(3, 2, 42)).flush(t)
	if m := recv(t, b); m.From != 3 || m.SyncID != 42 {
		t.Fatalf("got %v", m)
	}
	vote := peer.Message{Type: peer.Vote, From: 3, To: 2, Vote: election.Notification{From: 3, To: 2, State: election.Looking, Round: 1}}
	dialRaw(t, b.Addrs().Election).handshake(electionPort, 3, 2).msg(t, vote).flush(t)
	if m := recv(t, b); m.Type != peer.Vote || m.Vote.Round != 1 {
		t.Fatalf("got %v", m)
	}

	flipped := frame(encode(t, ack(3, 2, 1)), nil)
	flipped[len(flipped)-1] ^= 1
	for _, tc := range []struct {
		name string
		send func(c *rawConn)
	}{
		{"garbage", func(c *rawConn) { c.raw([]byte("GET / HTTP/1.1\r\nHost: zabd\r\n\r\n")) }},
		{"wrong magic", func(c *rawConn) { c.frame([]byte("XABT\x01\x00\x03\x02"), nil) }},
		{"wrong version", func(c *rawConn) { c.frame([]byte("ZABT\x09\x00\x03\x02"), nil) }},
		{"oversized handshake", func(c *rawConn) { c.frame(make([]byte, 100), nil) }},
		{"unknown member", func(c *rawConn) { c.handshake(quorumPort, 9, 2) }},
		{"its own id", func(c *rawConn) { c.handshake(quorumPort, 2, 2) }},
		{"for another member", func(c *rawConn) { c.handshake(quorumPort, 3, 1) }},
		{"election handshake on the quorum port", func(c *rawConn) { c.handshake(electionPort, 3, 2) }},
		{"flipped checksum", func(c *rawConn) { c.handshake(quorumPort, 3, 2).raw(flipped) }},
		{"undecodable body", func(c *rawConn) { c.handshake(quorumPort, 3, 2).frame([]byte{0xee, 0xee}, nil) }},
		{"spoofed sender", func(c *rawConn) { c.handshake(quorumPort, 3, 2).msg(t, ack(1, 2, 1)) }},
		{"misaddressed", func(c *rawConn) { c.handshake(quorumPort, 3, 2).msg(t, ack(3, 1, 1)) }},
		{"frame over the bound", func(c *rawConn) { c.handshake(quorumPort, 3, 2).raw([]byte{0, 0x10, 0, 1}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, q)
			tc.send(c)
			c.flush(t)
			c.waitClosed(t)
		})
	}
	a.Send(ack(1, 2, 1))
	if m := recv(t, b); m.From != 1 || m.SyncID != 1 {
		t.Fatalf("got %v", m)
	}
	if got := h.dials(); !slices.Equal(got, []string{"m2-quorum"}) {
		t.Fatalf("A redialled: %v", got)
	}
	// Nothing a bad connection sent was delivered. (They claimed to be 3,
	// so each replaced the one before: the first good one is closed too.)
	good.waitClosed(t)
	dialRaw(t, q).handshake(quorumPort, 3, 2).msg(t, ack(3, 2, 43)).flush(t)
	if m := recv(t, b); m.SyncID != 43 {
		t.Fatalf("got %v", m)
	}
}

func TestNewerInboundReplacesOlder(t *testing.T) {
	h := newHarness(t)
	members := []peer.ID{1, 2}
	b := h.start(2, members, loopback, nil)
	old := dialRaw(t, b.Addrs().Quorum).handshake(quorumPort, 1, 2)
	old.msg(t, ack(1, 2, 1)).flush(t)
	recv(t, b)
	newer := dialRaw(t, b.Addrs().Quorum).handshake(quorumPort, 1, 2)
	newer.msg(t, ack(1, 2, 2)).flush(t)
	if m := recv(t, b); m.SyncID != 2 {
		t.Fatalf("got %v", m)
	}
	old.waitClosed(t)
	newer.msg(t, ack(1, 2, 3)).flush(t)
	if m := recv(t, b); m.SyncID != 3 {
		t.Fatalf("got %v", m)
	}
}

// TestFilter: one member's filter cuts its link to another both ways:
// what it sends, and what it receives.
func TestFilter(t *testing.T) {
	h := newHarness(t)
	members := []peer.ID{1, 2, 3}
	consulted := make(chan struct{}, 1)
	cut := func(from, to peer.ID) bool {
		if from == 2 && to == 1 {
			select {
			case consulted <- struct{}{}:
			default:
			}
		}
		return !(from == 1 && to == 2 || from == 2 && to == 1)
	}
	a := h.start(1, members, loopback, func(c *Config) { c.Filter = cut })
	b := h.start(2, members, loopback, nil)
	c := h.start(3, members, loopback, nil)

	a.Send(ack(1, 2, 1)) // dropped at once
	if s := a.Stats(); s.Dropped != 1 {
		t.Fatalf("stats %+v", s)
	}
	a.Send(ack(1, 3, 1)) // not cut
	if m := recv(t, c); m.SyncID != 1 {
		t.Fatalf("got %v", m)
	}
	b.Send(ack(2, 1, 1)) // sent, dropped on receipt
	<-consulted
	a.SetFilter(nil)
	b.Send(ack(2, 1, 2))
	if m := recv(t, a); m.SyncID != 2 { // FIFO: 1 would have come first
		t.Fatalf("got %v", m)
	}
	a.Send(ack(1, 2, 2))
	if m := recv(t, b); m.SyncID != 2 {
		t.Fatalf("got %v", m)
	}
	if s := a.Stats(); s.Dropped != 2 || s.Received != 1 {
		t.Fatalf("stats %+v", s)
	}
}
