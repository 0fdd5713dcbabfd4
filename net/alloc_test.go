package net

import (
	"encoding/binary"
	"testing"

	"zabd/net/jute"
	"zabd/tree"
)

// fixedReadProc answers every read with the same value and stat, as a
// tree read does (the stat is the read's own, the value the tree's).
type fixedReadProc struct {
	heldProc
	data []byte
	stat tree.Stat
}

func (p *fixedReadProc) Read(_ SessionID, _ tree.WatcherID, _ tree.Request, answer func(tree.Result)) {
	answer(tree.Result{Data: p.data, Stat: &p.stat, Zxid: 7})
}

// A read answered in the steady state allocates nothing on the server but
// the request's path: the reply is encoded into a recycled frame buffer
// and written with a callback bound once per connection; the frame length
// is read into the connection's buffer; the decoder names its record
// without building a string. Before, a getData of 100 bytes cost 10
// allocations here (on both ends: the test's own reads allocate nothing
// now either).
func TestReadRoundTripAllocations(t *testing.T) {
	proc := &fixedReadProc{heldProc: heldProc{watches: tree.NewWatches()}, data: make([]byte, 100)}
	srv := NewServer(Config{Logger: quietLogger()}, proc)
	addr := serveLoopback(t, srv)
	c := newSession(t, addr)
	frame := jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: 1, Op: tree.OpGetData}, tree.Request{Path: "/bench/key-0000001"}))
	buf := make([]byte, 0, 4096)
	xid := int32(0)
	roundTrip := func() {
		xid++
		binary.BigEndian.PutUint32(frame[4:], uint32(xid))
		if _, err := c.nc.Write(frame); err != nil {
			t.Fatal(err)
		}
		reply, err := jute.ReadFrame(c.br, 1<<20, buf[:0])
		if err != nil {
			t.Fatal(err)
		}
		if got := int32(binary.BigEndian.Uint32(reply)); got != xid {
			t.Fatalf("reply to xid %d, want %d", got, xid)
		}
	}
	for range 200 { // warm up: pools, buffers, the runtime's caches
		roundTrip()
	}
	allocs := testing.AllocsPerRun(2000, roundTrip)
	t.Logf("%.2f allocations per getData round trip", allocs)
	// One for the path; the rest is slack for the race detector, whose
	// sync.Pool drops a quarter of what is put back.
	if allocs > 1.5 {
		t.Errorf("a getData round trip allocated %.2f times, want at most 1.5 (the request's path, and slack)", allocs)
	}
}
