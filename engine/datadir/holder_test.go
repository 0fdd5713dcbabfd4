//go:build linux

package datadir

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHolding: no lock file, a lock file nobody holds, one this process
// holds (found in /proc/locks with this pid and the owner written), and
// released again. Holding creates nothing.
func TestHolding(t *testing.T) {
	dir := t.TempDir()
	if _, held, known := Holding(dir); held || !known {
		t.Fatalf("no lock file: held=%v known=%v, want not held, known", held, known)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !os.IsNotExist(err) {
		t.Fatalf("Holding created the lock file: %v", err)
	}
	l, err := Acquire(dir, Options{Owner: "zabd, clients on 127.0.0.1:2181"})
	if err != nil {
		t.Fatal(err)
	}
	h, held, known := Holding(dir)
	if !held || !known || h.PID != os.Getpid() || h.Owner != "zabd, clients on 127.0.0.1:2181" {
		t.Errorf("held: got %+v held=%v known=%v, want pid %d and the owner", h, held, known, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, held, known := Holding(dir); held || !known {
		t.Errorf("released: held=%v known=%v, want not held, known", held, known)
	}
}

func TestFindFlock(t *testing.T) {
	locks := []byte("1: POSIX  ADVISORY  WRITE 77 08:01:42 0 EOF\n" +
		"2: FLOCK  ADVISORY  WRITE 4242 08:01:1835012 0 EOF\n" +
		"2: -> FLOCK  ADVISORY  WRITE 4343 08:01:1835012 0 EOF\n")
	for _, tc := range []struct {
		id         string
		pid        int
		held, know bool
	}{
		{"08:01:1835012", 4242, true, true},
		{"08:01:42", 0, false, true}, // a POSIX lock is not zabd's flock
		{"08:02:1835012", 0, false, true},
	} {
		pid, held, known := findFlock(locks, tc.id)
		if pid != tc.pid || held != tc.held || known != tc.know {
			t.Errorf("%s: got pid=%d held=%v known=%v, want %d %v %v", tc.id, pid, held, known, tc.pid, tc.held, tc.know)
		}
	}
	if got := devInode(0x801, 5); got != "08:01:5" {
		t.Errorf("devInode(0x801, 5) = %q, want 08:01:5", got)
	}
}
