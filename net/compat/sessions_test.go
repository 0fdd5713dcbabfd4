package compat

import (
	"errors"
	"testing"
	"time"

	"zabd/bench/launch"
)

// TestSessionExpiry: a session that stops talking expires after its
// timeout (not at disconnect), its ephemerals go, another session's watch
// sees NodeDeleted, and the expired session cannot be resumed.
func TestSessionExpiry(t *testing.T) {
	forEachServer(t, func(t *testing.T, p *launch.Process) {
		a, err := dialSession(p.Addr, 4000)
		if err != nil {
			t.Fatal(err)
		}
		if a.Timeout != 4000 {
			t.Fatalf("negotiated timeout %d, want 4000 (2*tickTime is the minimum)", a.Timeout)
		}
		if r, err := a.call(opCreate, encCreate("/exp", "", openACL, modeEphemeral)); err != nil || r.Err != 0 {
			t.Fatalf("create ephemeral: %v %s", err, codeName(r.Err))
		}
		b, err := dialSession(p.Addr, 30000)
		if err != nil {
			t.Fatal(err)
		}
		defer b.close()
		if r, err := b.call(opExists, encPathWatch("/exp", true)); err != nil || r.Err != 0 {
			t.Fatalf("exists watch: %v %s", err, codeName(r.Err))
		}
		sid, pw := a.SessionID, a.Passwd
		start := time.Now()
		a.close() // drop the connection without closeSession; no more pings
		got, ok := b.waitEvent(event{Type: 2, State: 3, Path: "/exp"}, 20*time.Second)
		if !ok {
			t.Fatalf("no NodeDeleted /exp within 20s of dropping a 4s session; events: %v", got)
		}
		if el := time.Since(start); el < 2*time.Second {
			t.Errorf("ephemeral deleted %v after disconnect; a session must outlive its connection for about its timeout", el)
		}
		if len(got) != 1 {
			t.Errorf("events = %v, want exactly [NodeDeleted /exp]", got)
		}
		if r, err := b.call(opExists, encPathWatch("/exp", false)); err != nil || codeName(r.Err) != "NoNode" {
			t.Errorf("exists /exp after expiry = %v %s, want NoNode", err, codeName(r.Err))
		}
		if s, err := resumeSession(p.Addr, 4000, sid, pw); !errors.Is(err, errRefused) {
			if s != nil {
				s.close()
			}
			t.Errorf("resuming the expired session: err = %v, want it refused (timeout 0)", err)
		}
	})
}

// TestSessionResume: a session survives its connection; resuming it on a
// new connection with its password keeps its ephemerals, a wrong password
// is refused.
func TestSessionResume(t *testing.T) {
	forEachServer(t, func(t *testing.T, p *launch.Process) {
		a, err := dialSession(p.Addr, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := a.call(opCreate, encCreate("/res", "", openACL, modeEphemeral)); err != nil || r.Err != 0 {
			t.Fatalf("create ephemeral: %v %s", err, codeName(r.Err))
		}
		sid, pw := a.SessionID, a.Passwd
		a.close()
		bad := append([]byte(nil), pw...)
		bad[0] ^= 0xff
		if s, err := resumeSession(p.Addr, 10000, sid, bad); !errors.Is(err, errRefused) {
			if s != nil {
				s.close()
			}
			t.Errorf("resume with a wrong password: err = %v, want refused", err)
		}
		a2, err := resumeSession(p.Addr, 10000, sid, pw)
		if err != nil {
			t.Fatalf("resume: %v", err)
		}
		defer a2.close()
		if a2.SessionID != sid {
			t.Fatalf("resumed session id %#x, want %#x", a2.SessionID, sid)
		}
		r, err := a2.call(opExists, encPathWatch("/res", false))
		if err != nil || r.Err != 0 {
			t.Fatalf("exists /res after resume: %v %s", err, codeName(r.Err))
		}
		res, _ := decodeReply(opExists, r)
		if got := res.(rStat).Stat.EphemeralOwner; got != sid {
			t.Errorf("ephemeral owner %#x, want the resumed session %#x", got, sid)
		}
		if r, err := a2.call(opCloseSession, nil); err != nil || r.Err != 0 {
			t.Errorf("closeSession: %v %s", err, codeName(r.Err))
		}
	})
}
