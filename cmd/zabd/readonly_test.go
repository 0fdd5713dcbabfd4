package main

import (
	"slices"
	"testing"
	"time"

	"zabd/zab/peer"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock               { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

// A member serves read-only clients only after looking for a leader for
// max(2 s, tickTime), as ZooKeeper's QuorumPeer starts its read-only
// server, and only while it keeps looking.
func TestReadOnlyModeGrace(t *testing.T) {
	for _, tc := range []struct {
		tick, grace time.Duration
	}{{200 * time.Millisecond, 2 * time.Second}, {3 * time.Second, 3 * time.Second}} {
		clk := newFakeClock()
		r := newReadOnlyMode(true, 2, tc.tick, clk.now, func([]int64) {})
		if r.active() {
			t.Fatal("active before any status")
		}
		r.status(peer.Status{Role: peer.Looking})
		clk.advance(tc.grace - time.Millisecond)
		if r.active() {
			t.Fatalf("tick %v: active %v into looking", tc.tick, tc.grace-time.Millisecond)
		}
		if _, _, ok := r.create(time.Second); ok {
			t.Fatal("a read-only session before the grace ended")
		}
		clk.advance(time.Millisecond)
		if !r.active() {
			t.Fatalf("tick %v: not active %v into looking", tc.tick, tc.grace)
		}
		// Another looking status (a new round) does not restart the wait.
		r.status(peer.Status{Role: peer.Looking, Epoch: 3})
		if !r.active() {
			t.Fatal("a repeated looking status restarted the grace")
		}
		// Found a leader, still syncing: no longer read-only.
		r.status(peer.Status{Role: peer.Following, Leader: 1})
		if r.active() {
			t.Fatal("active while following")
		}
	}
	clk := newFakeClock()
	off := newReadOnlyMode(false, 2, time.Second, clk.now, func([]int64) {})
	off.status(peer.Status{Role: peer.Looking})
	clk.advance(time.Hour)
	if off.active() {
		t.Fatal("active with readonlymode.enabled=false")
	}
}

// Read-only sessions are local, live while their clients ping, and end
// (their connections closed) when the member finds a leader.
func TestReadOnlySessions(t *testing.T) {
	clk := newFakeClock()
	var ended []int64
	r := newReadOnlyMode(true, 3, 200*time.Millisecond, clk.now, func(sids []int64) { ended = append(ended, sids...) })
	r.status(peer.Status{Role: peer.Looking})
	clk.advance(2 * time.Second)

	a, pwA, ok := r.create(4 * time.Second)
	if !ok || a>>56 != 3 || len(pwA) != 16 {
		t.Fatalf("create: %#x %x %t, want an id of server 3 and a 16-byte password", a, pwA, ok)
	}
	b, pwB, _ := r.create(4 * time.Second)
	if b == a || string(pwB) == string(pwA) {
		t.Fatalf("two sessions share id %#x or password", a)
	}
	if !r.owns(a) || r.owns(a+100) {
		t.Fatal("owns is wrong")
	}
	if r.resume(a, pwB, time.Second) {
		t.Fatal("re-attached with another session's password")
	}
	if !r.resume(a, pwA, 4*time.Second) {
		t.Fatal("a live session did not re-attach with its password")
	}

	// b stops pinging; a keeps pinging.
	for range 5 {
		clk.advance(time.Second)
		if !r.touch(a) {
			t.Fatal("a pinging session was dropped")
		}
	}
	if r.touch(b) || r.owns(b) {
		t.Fatal("a session silent for longer than its timeout lives on")
	}
	r.close(a)
	if r.owns(a) || r.touch(a) {
		t.Fatal("a closed session lives on")
	}

	c, _, _ := r.create(4 * time.Second)
	d, pwD, _ := r.create(4 * time.Second)
	r.status(peer.Status{Role: peer.Following, Leader: 1, Epoch: 4})
	if got, want := slices.Sorted(slices.Values(ended)), []int64{c, d}; !slices.Equal(got, want) {
		t.Fatalf("read-only mode ended closing %x, want %x", got, want)
	}
	if r.owns(c) || r.resume(d, pwD, time.Second) || r.touch(d) || len(r.live) != 0 {
		t.Fatal("read-only sessions outlive read-only mode")
	}
	if _, _, ok := r.create(time.Second); ok {
		t.Fatal("a read-only session while following")
	}
}
