package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAcquireRefusesASecondHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, Options{Owner: "zabd, clients on 127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, Options{What: "data log dir"})
	var he *HeldError
	if !errors.As(err, &he) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: got %v, want a *HeldError", err)
	}
	if he.PID != os.Getpid() || he.Owner != "zabd, clients on 127.0.0.1:1" || he.Exiting {
		t.Fatalf("got %+v, want pid %d, the owner, not exiting", he, os.Getpid())
	}
	for _, want := range []string{"data log dir " + dir + " is in use by pid", "clients on 127.0.0.1:1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	l2, err := Acquire(dir, Options{Owner: "second"})
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	defer l2.Release()
	b, err := os.ReadFile(filepath.Join(dir, LockFile))
	if err != nil {
		t.Fatal(err)
	}
	if h := parseHolder(b); h.pid != os.Getpid() || h.owner != "second" {
		t.Fatalf("lock file says %+v (%q)", h, b)
	}
}

func TestAcquireMissingDir(t *testing.T) {
	_, err := Acquire(filepath.Join(t.TempDir(), "nope"), Options{})
	if err == nil || errors.Is(err, ErrHeld) || !strings.Contains(err.Error(), "opening lock file") {
		t.Fatalf("got %v", err)
	}
}

// fakeClock is a clock whose sleep advances it and runs a hook.
type fakeClock struct {
	now     time.Time
	sleeps  int
	onSleep func(n int)
}

func (c *fakeClock) Now() time.Time { return c.now }
func (c *fakeClock) Sleep(d time.Duration) {
	c.now = c.now.Add(d)
	c.sleeps++
	if c.onSleep != nil {
		c.onSleep(c.sleeps)
	}
}

// holdAs locks dir with a lock file claiming pid, as another process would.
func holdAs(t *testing.T, dir string, pid int) *Lock {
	t.Helper()
	l, err := Acquire(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.Path(), []byte("pid="+strconv.Itoa(pid)+"\nowner=dying\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

func TestAcquireWaitsForAnExitingHolder(t *testing.T) {
	const fakePID = 999999999
	for _, tc := range []struct {
		name      string
		state     holderState
		releaseAt int // the holder lets go after this many polls; 0: never
		wantErr   bool
	}{
		{"exiting holder lets go", holderExiting, 3, false},
		{"gone holder lets go (stale pid in the file)", holderGone, 2, false},
		{"exiting holder never lets go", holderExiting, 0, true},
		{"live holder is refused at once", holderAlive, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			held := holdAs(t, dir, fakePID)
			defer held.Release()
			clk := &fakeClock{now: time.Unix(1000, 0)}
			clk.onSleep = func(n int) {
				if n == tc.releaseAt {
					held.Release()
				}
			}
			var probed []int
			o := Options{
				WaitForExiting: time.Second, PollInterval: 100 * time.Millisecond,
				now: clk.Now, sleep: clk.Sleep,
				probe: func(pid int) holderState { probed = append(probed, pid); return tc.state },
			}
			l, err := Acquire(dir, o)
			if tc.wantErr {
				var he *HeldError
				if !errors.As(err, &he) {
					t.Fatalf("got %v, want a *HeldError", err)
				}
				if he.PID != fakePID || he.Owner != "dying" || he.Exiting != (tc.state != holderAlive) {
					t.Fatalf("got %+v", he)
				}
				if tc.state == holderAlive && clk.sleeps != 0 {
					t.Fatalf("slept %d times before refusing a live holder", clk.sleeps)
				}
				if tc.state != holderAlive && clk.now.Sub(time.Unix(1000, 0)) < time.Second {
					t.Fatalf("gave up after %v, want the whole wait", clk.now.Sub(time.Unix(1000, 0)))
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			defer l.Release()
			if clk.sleeps < tc.releaseAt {
				t.Fatalf("slept %d times, want at least %d", clk.sleeps, tc.releaseAt)
			}
			for _, pid := range probed {
				if pid != fakePID {
					t.Fatalf("probed pid %d, want %d", pid, fakePID)
				}
			}
		})
	}
}

// After taking the lock from a holder that is still exiting, Acquire waits
// for it to finish (its other files closed), within the same bound.
func TestAcquireWaitsForThePreviousHolderToFinishExiting(t *testing.T) {
	const fakePID = 999999998
	dir := t.TempDir()
	held := holdAs(t, dir, fakePID)
	held.Release() // the lock is free, but the process is still exiting
	clk := &fakeClock{now: time.Unix(1000, 0)}
	polls := 0
	l, err := Acquire(dir, Options{
		WaitForExiting: time.Second, PollInterval: 100 * time.Millisecond,
		now: clk.Now, sleep: clk.Sleep,
		probe: func(pid int) holderState {
			polls++
			if polls < 4 {
				return holderExiting
			}
			return holderGone
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if clk.sleeps != 3 {
		t.Fatalf("slept %d times, want 3 (until the previous holder was gone)", clk.sleeps)
	}
}

func TestParseHolder(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want holder
	}{
		{"pid=12\nowner=zabd x\nsince=2026-01-01T00:00:00Z\n", holder{12, "zabd x"}},
		{"", holder{}},
		{"pid=-3\n", holder{}},
		{"pid=abc\nowner=o", holder{0, "o"}},
		{"\x00\x00garbage", holder{}},
	} {
		if got := parseHolder([]byte(tc.in)); got != tc.want {
			t.Errorf("parseHolder(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
