package zab

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/tree"
)

func newTestService(t *testing.T, tr *tree.Tree, eng *engine.Memory) *Service {
	t.Helper()
	s, err := NewService(ServiceConfig{Pipeline: PipelineConfig{Tree: tr, Storage: eng, Epoch: 1}, TickTime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func createSession(t *testing.T, s *Service) (int64, []byte) {
	t.Helper()
	type res struct {
		sid int64
		pw  []byte
		err error
	}
	ch := make(chan res, 1)
	s.CreateSession(30*time.Second, "127.0.0.1:40000", false, func(sid int64, pw []byte, _ bool, err error) { ch <- res{sid, pw, err} })
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.sid, r.pw
}

// The session secret is a logged txn: a member that has the same log (a
// follower, or the server after a restart) derives the same password for
// a session, so a client can move to it; a secret from an old data dir's
// file is carried over as it is.
func TestSessionSecretIsReplicated(t *testing.T) {
	eng := engine.NewMemory()
	a := newTestService(t, tree.New(tree.Config{}), eng)
	done := make(chan error, 1)
	a.CreateSession(time.Second, "127.0.0.1:40000", false, func(_ int64, _ []byte, _ bool, err error) { done <- err })
	if err := <-done; !errors.Is(err, ErrNoSessionSecret) {
		t.Fatalf("session before the secret: %v, want ErrNoSessionSecret", err)
	}
	if err := a.EnsureSessionSecret(nil); err != nil {
		t.Fatal(err)
	}
	sid, pw := createSession(t, a)
	if err := a.EnsureSessionSecret([]byte("another secret, ignored: one is set")); err != nil {
		t.Fatal(err)
	}
	if again := a.sessions.Password(sid); !bytes.Equal(again, pw) {
		t.Fatal("a second EnsureSessionSecret changed the password")
	}

	// Another member rebuilt from the same log.
	it, err := eng.Iter(0)
	if err != nil {
		t.Fatal(err)
	}
	tb := tree.New(tree.Config{})
	if _, err := datadir.Replay(tb, it); err != nil {
		t.Fatal(err)
	}
	it.Close()
	b := newTestService(t, tb, engine.NewMemory())
	if !b.ResumeSession(sid, pw, 30*time.Second) {
		t.Fatal("the other member refused the session's password")
	}
	if b.ResumeSession(sid, bytes.Repeat([]byte{1}, 16), 30*time.Second) {
		t.Fatal("the other member took a wrong password")
	}

	// An old data dir's secret is kept, so its sessions' passwords hold.
	legacy := []byte("0123456789abcdef0123456789abcdef")
	c := newTestService(t, tree.New(tree.Config{}), engine.NewMemory())
	if err := c.EnsureSessionSecret(legacy); err != nil {
		t.Fatal(err)
	}
	if got := NewSessionTracker(legacy, 0, time.Now()).Password(42); !bytes.Equal(c.sessions.Password(42), got) {
		t.Fatal("the legacy secret was not carried over")
	}
}
