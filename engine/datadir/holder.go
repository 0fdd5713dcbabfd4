package datadir

import (
	"os"
	"path/filepath"
)

// Holder is what Holding found of the process holding a dir's lock.
type Holder struct {
	// PID is the holder's pid as the operating system reports it (0 if
	// it does not say).
	PID int
	// Owner is what the holder wrote of itself in the lock file (zabd
	// writes its client address); may be empty.
	Owner string
}

// Holding tells whether some process holds the lock of dir now, without
// taking it, opening the lock file for writing, or creating anything: a
// read-only tool must neither wait for nor block a server. On Linux it
// looks the lock file up in /proc/locks; known is false where it cannot
// tell (another system, no /proc). No lock file means no holder (known,
// not held).
//
// The answer is a moment's: a server may start or stop right after.
func Holding(dir string) (h Holder, held, known bool) {
	path := filepath.Join(dir, LockFile)
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return Holder{}, false, true
	}
	if err != nil {
		return Holder{}, false, false
	}
	pid, held, known := flockHolder(fi)
	if !held {
		return Holder{}, held, known
	}
	h = Holder{PID: pid}
	if b, err := os.ReadFile(path); err == nil && len(b) <= maxLockFileBytes {
		ho := parseHolder(b)
		if h.PID == 0 || ho.pid == h.PID {
			h.Owner = ho.owner
		}
	}
	return h, true, true
}
