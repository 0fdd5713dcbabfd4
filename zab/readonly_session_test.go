package zab

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
	"zabd/tree"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type created struct {
	sid      int64
	pw       []byte
	readOnly bool
	err      error
}

func createWait(t *testing.T, s *Service, readOnlyOK bool) created {
	t.Helper()
	ch := make(chan created, 1)
	s.CreateSession(10*time.Second, "127.0.0.1:40000", readOnlyOK, func(sid int64, pw []byte, ro bool, err error) { ch <- created{sid, pw, ro, err} })
	select {
	case c := <-ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("CreateSession not answered")
		return created{}
	}
}

// nativeService is a Service on the native engine over errorfs, with a
// session secret logged.
func nativeService(t *testing.T, clock *fakeClock, tick time.Duration, onExpire func(int64)) (*Service, *engine.Native, *errorfs.FS) {
	t.Helper()
	efs := errorfs.Wrap(vfs.NewMem())
	eng, err := engine.OpenNative(efs, "/data/log", engine.NativeOptions{Log: log.Options{SegmentBytes: 4 << 10, Preallocate: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	s, err := NewService(ServiceConfig{Pipeline: PipelineConfig{Tree: tree.New(tree.Config{}), Storage: eng, Epoch: 1, Now: clock.Now},
		TickTime: tick, OnExpire: onExpire})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if err := s.EnsureSessionSecret(nil); err != nil {
		t.Fatal(err)
	}
	return s, eng, efs
}

// While the disk is full, a client that accepts a read-only server gets a
// read-only session (as Apache ZooKeeper's read-only server gives a local
// session: a real id and password, never logged); one that does not gets
// the disk-full error. Closing a read-only session logs nothing. With
// room again the same request gets an ordinary, logged session. After a
// failed fsync (sticky) a read-only session needs no write attempt.
func TestReadOnlySessionWhileWritesRefused(t *testing.T) {
	s, eng, efs := nativeService(t, &fakeClock{now: time.Unix(1e9, 0)}, time.Hour, nil)
	if c := createWait(t, s, true); c.err != nil || c.readOnly {
		t.Fatalf("read-only-capable client with writes taken: %+v, want an ordinary session", c)
	}
	efs.Add(errorfs.Rule{Op: errorfs.OpWrite, Err: errorfs.ErrNoSpace})
	if c := createWait(t, s, false); !errors.Is(c.err, ErrDiskFull) || c.sid != 0 {
		t.Fatalf("client without readOnly on a full disk: %+v, want ErrDiskFull", c)
	}
	last := eng.LastZxid()
	ro := createWait(t, s, true)
	if ro.err != nil || !ro.readOnly || ro.sid == 0 || !bytes.Equal(ro.pw, s.sessions.Password(ro.sid)) || len(ro.pw) != SessionPasswordLen {
		t.Fatalf("read-only-capable client on a full disk: %+v, want a read-only session", ro)
	}
	if !s.ReadOnlySession(ro.sid) || !s.Touch(ro.sid) || !s.ResumeSession(ro.sid, ro.pw, time.Second) {
		t.Fatalf("read-only session 0x%x: not known as read-only, alive and re-attachable", ro.sid)
	}
	closed := make(chan tree.Result, 1)
	s.CloseSession(ro.sid, func(res tree.Result, err error) {
		if err != nil {
			t.Errorf("closing a read-only session: %v", err)
		}
		closed <- res
	})
	<-closed
	if s.Touch(ro.sid) || s.ReadOnlySession(ro.sid) {
		t.Errorf("read-only session alive after its close")
	}
	if got := eng.LastZxid(); got != last {
		t.Errorf("read-only session logged something: last zxid %v, was %v", got, last)
	}

	efs.ClearRules() // room again: the create is the write that finds it
	if c := createWait(t, s, true); c.err != nil || c.readOnly || s.ReadOnlySession(c.sid) {
		t.Fatalf("read-only-capable client with room again: %+v, want an ordinary session", c)
	}
	if s.WritesRefused() != "" {
		t.Fatalf("writes still refused after a durable createSession: %s", s.WritesRefused())
	}

	efs.Add(errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Err: errors.New("disk on fire")})
	if c := createWait(t, s, false); !errors.Is(c.err, ErrStorageFailed) {
		t.Fatalf("client without readOnly after a failed fsync: %+v, want ErrStorageFailed", c)
	}
	efs.ClearRules()
	injected := efs.Injected()
	if c := createWait(t, s, true); c.err != nil || !c.readOnly {
		t.Fatalf("read-only-capable client after a failed fsync: %+v, want a read-only session", c)
	}
	if efs.Injected() != injected {
		t.Errorf("a read-only session after a sticky failure touched the disk")
	}
}

// A read-only session expires like any other, but nothing is logged for
// it: its expiry submits no closeSession.
func TestReadOnlySessionExpiresUnlogged(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	expired := make(chan int64, 4)
	s, eng, efs := nativeService(t, clock, 10*time.Millisecond, func(sid int64) { expired <- sid })
	efs.Add(errorfs.Rule{Op: errorfs.OpWrite, Err: errorfs.ErrNoSpace})
	ro := createWait(t, s, true)
	if ro.err != nil || !ro.readOnly {
		t.Fatalf("%+v, want a read-only session", ro)
	}
	efs.ClearRules()
	last := eng.LastZxid()
	clock.Advance(11 * time.Second) // past its 10 s timeout
	if got := <-expired; got != ro.sid {
		t.Fatalf("expired 0x%x, want the read-only session 0x%x", got, ro.sid)
	}
	// Close waits for the expiry loop to stop and the pipeline to answer
	// everything submitted: a closeSession for it would be in the log.
	s.Close()
	if got := eng.LastZxid(); got != last {
		t.Errorf("the read-only session's expiry logged something: last zxid %v, was %v", got, last)
	}
	if s.ReadOnlySession(ro.sid) {
		t.Errorf("expired read-only session still known")
	}
}
