package datadir

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LockFile is the name of the lock file Acquire keeps in a locked dir.
const LockFile = "zabd.lock"

// DefaultWaitForExiting is how long Acquire waits, by default, for a holder
// that is dead or exiting to let go of the lock.
const DefaultWaitForExiting = 5 * time.Second

// ErrHeld matches the error of Acquire on a dir another process holds.
var ErrHeld = errors.New("datadir: in use by another process")

// HeldError is Acquire's refusal of a dir another process holds.
type HeldError struct {
	What  string // "data dir", "data log dir", ...
	Dir   string
	PID   int    // the holder's pid as it wrote it; 0 if it had not (yet)
	Owner string // what the holder said it is; may be empty
	// Exiting: the holder looked dead or exiting (or could not be seen
	// from here), and had still not let go when the wait ran out.
	Exiting bool
	Waited  time.Duration
}

func (e *HeldError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s is in use", e.What, e.Dir)
	if e.PID != 0 {
		fmt.Fprintf(&b, " by pid %d", e.PID)
	} else {
		b.WriteString(" by another process (it has not written its pid)")
	}
	if e.Owner != "" {
		fmt.Fprintf(&b, " (%s)", e.Owner)
	}
	if e.Exiting {
		fmt.Fprintf(&b, "; that process looked dead or exiting (or is not visible from here) but still held %s after %v",
			LockFile, e.Waited.Round(time.Millisecond))
	}
	b.WriteString(": stop that process, or give this one another directory")
	return b.String()
}

// Is makes errors.Is(err, ErrHeld) true for a *HeldError.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Options configure Acquire. The zero value is usable.
type Options struct {
	// What names the dir in errors: "data dir" by default.
	What string
	// Owner is a short description of the holder written into the lock
	// file for contenders to quote ("zabd, clients on 127.0.0.1:2181").
	Owner string
	// WaitForExiting bounds the wait for a holder that is dead or exiting
	// (default DefaultWaitForExiting; negative: do not wait).
	WaitForExiting time.Duration
	// PollInterval is how often a waiting Acquire tries again (default
	// 20 ms).
	PollInterval time.Duration

	// Test hooks; nil means the real clock and /proc.
	now   func() time.Time
	sleep func(time.Duration)
	probe func(pid int) holderState
}

func (o *Options) fill() {
	if o.What == "" {
		o.What = "data dir"
	}
	if o.WaitForExiting == 0 {
		o.WaitForExiting = DefaultWaitForExiting
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 20 * time.Millisecond
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.sleep == nil {
		o.sleep = time.Sleep
	}
	if o.probe == nil {
		o.probe = probeProcess
	}
}

// holderState is what the operating system says of a process.
type holderState int

const (
	holderUnknown holderState = iota // cannot tell (no /proc, or no pid)
	holderAlive                      // running and not exiting
	holderExiting                    // exiting or killed: its files are being closed
	holderGone                       // no such process, or a zombie (its files are closed)
)

func (s holderState) String() string {
	switch s {
	case holderAlive:
		return "alive"
	case holderExiting:
		return "exiting"
	case holderGone:
		return "gone"
	}
	return "unknown"
}

// Lock is an exclusive lock on a directory, held by this process until
// Release. Safe for concurrent use.
type Lock struct {
	path    string
	mu      sync.Mutex
	f       *os.File // nil once released
	unnamed error    // why the file does not name this process; immutable
}

// Acquire locks dir, which must exist, for this process (see the package
// doc). It refuses a dir held by a live process at once with a *HeldError;
// it waits up to o.WaitForExiting for a holder that is dead or exiting. On
// success the lock file names this process.
func Acquire(dir string, o Options) (*Lock, error) {
	o.fill()
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("datadir: opening lock file %s: %w", path, err)
	}
	began := o.now()
	deadline := began.Add(o.WaitForExiting)
	for {
		locked, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("datadir: locking %s: %w (does the filesystem support flock?)", path, err)
		}
		if locked {
			break
		}
		h := readHolder(f)
		st := o.probe(h.pid)
		if h.pid == os.Getpid() {
			st = holderAlive // another Lock of this very process
		}
		if st == holderAlive || !o.now().Before(deadline) {
			f.Close()
			return nil, &HeldError{What: o.What, Dir: dir, PID: h.pid, Owner: h.owner,
				Exiting: st != holderAlive, Waited: o.now().Sub(began)}
		}
		// Exiting, gone (the pid in the file is stale: a new holder has
		// not written its own yet), or unknown: try again shortly.
		o.sleep(o.PollInterval)
	}

	// Ours. If the previous holder is still exiting (it dropped this lock
	// but may still hold its other files, such as an engine's own lock or
	// a listening socket), wait for it to finish.
	if prev := readHolder(f); prev.pid != 0 && prev.pid != os.Getpid() {
		for o.probe(prev.pid) == holderExiting && o.now().Before(deadline) {
			o.sleep(o.PollInterval)
		}
	}
	if err := writeHolder(f, o.Owner, o.now()); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			// The flock is what excludes; the content only names the
			// holder. A full disk must not stop a start (see Unnamed).
			f.Truncate(0)
			return &Lock{path: path, f: f, unnamed: fmt.Errorf("datadir: writing %s: %w", path, err)}, nil
		}
		f.Close()
		return nil, fmt.Errorf("datadir: writing %s: %w", path, err)
	}
	return &Lock{path: path, f: f}, nil
}

// Unnamed says why the lock file does not name this process (it could not
// be written: a full disk), nil when it does. The lock is held either way;
// a second process is still refused, without the pid.
func (l *Lock) Unnamed() error { return l.unnamed }

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// Release drops the lock. The file stays (see the package doc). Releasing
// twice is a no-op.
func (l *Lock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("datadir: releasing %s: %w", l.path, err)
	}
	return nil
}

// holder is what a lock file says of its holder.
type holder struct {
	pid   int
	owner string
}

// maxLockFileBytes bounds what is read of a lock file.
const maxLockFileBytes = 4096

func readHolder(f *os.File) holder {
	buf := make([]byte, maxLockFileBytes)
	n, _ := f.ReadAt(buf, 0)
	return parseHolder(buf[:n])
}

// parseHolder reads "key=value" lines; unknown keys and junk are ignored.
func parseHolder(b []byte) holder {
	var h holder
	for _, line := range bytes.Split(b, []byte("\n")) {
		k, v, ok := strings.Cut(string(line), "=")
		if !ok {
			continue
		}
		switch k {
		case "pid":
			if pid, err := strconv.Atoi(v); err == nil && pid > 0 {
				h.pid = pid
			}
		case "owner":
			h.owner = v
		}
	}
	return h
}

func writeHolder(f *os.File, owner string, now time.Time) error {
	owner = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, owner)
	content := fmt.Sprintf("pid=%d\nowner=%s\nsince=%s\n", os.Getpid(), owner, now.UTC().Format(time.RFC3339))
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(content), 0)
	return err
}
