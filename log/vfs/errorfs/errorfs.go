// Package errorfs wraps a vfs.FS and injects failures chosen by rules: fail
// the n-th create, write, sync, rename... of a path, make a write short (a
// torn write that persists a prefix of the buffer), or fail with ENOSPC.
//
// It exists to prove the write path's failure handling: that a failed fsync
// is sticky, that a torn write is cut on reopen, that no caller retries a
// failed operation as if nothing happened.
//
// Concurrency: an *FS and its files are safe for concurrent use if the
// wrapped FS is; rule counters are guarded by one mutex.
package errorfs

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"

	"zabd/log/vfs"
)

// Op names an operation that a Rule can fail.
type Op uint8

const (
	OpCreate Op = iota + 1
	OpOpen      // Open and OpenAppend
	OpOpenDir
	OpRemove
	OpRename
	OpMkdirAll
	OpList
	OpStat
	OpRead  // Read and ReadAt
	OpWrite // Write and WriteAt
	OpSync  // file and directory Sync
	OpTruncate
	OpPreallocate
)

var opNames = [...]string{"invalid", "create", "open", "opendir", "remove", "rename",
	"mkdirall", "list", "stat", "read", "write", "sync", "truncate", "preallocate"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", o)
}

// ErrInjected is the default error a Rule returns.
var ErrInjected = errors.New("errorfs: injected error")

// ErrNoSpace is ENOSPC, for rules that simulate a full disk.
var ErrNoSpace error = syscall.ENOSPC

// Rule fails matching operations.
type Rule struct {
	Op Op
	// PathContains, if set, limits the rule to operations whose path (the
	// old name for Rename) contains it.
	PathContains string
	// Nth fails the Nth matching operation (1-based) and only it. Zero
	// fails every matching operation.
	Nth int
	// Err is the error returned; ErrInjected if nil.
	Err error
	// Torn applies to OpWrite: the first TornAt bytes of the buffer (at
	// most all of it) reach the wrapped file before the write fails, as a
	// short write does. Without Torn a failing write writes nothing. For
	// OpPreallocate the file is first extended to TornAt bytes.
	Torn   bool
	TornAt int
}

type rule struct {
	Rule
	seen int
}

// FS is the error-injecting wrapper.
type FS struct {
	inner    vfs.FS
	mu       sync.Mutex
	rules    []*rule
	injected int
}

var _ vfs.FS = (*FS)(nil)

// Wrap returns inner wrapped with rules.
func Wrap(inner vfs.FS, rules ...Rule) *FS {
	f := &FS{inner: inner}
	for _, r := range rules {
		f.Add(r)
	}
	return f
}

// Add adds a rule; its Nth counts operations from now on.
func (f *FS) Add(r Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, &rule{Rule: r})
}

// ClearRules removes every rule (the disk has room again, the device
// works again); files opened before stay wrapped and obey later rules.
func (f *FS) ClearRules() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Injected reports how many failures have been injected so far.
func (f *FS) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

// check counts op on path against every rule and returns the rule that
// fires, if any.
func (f *FS) check(op Op, path string) *Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	var fired *Rule
	for _, r := range f.rules {
		if r.Op != op || (r.PathContains != "" && !strings.Contains(path, r.PathContains)) {
			continue
		}
		r.seen++
		if fired == nil && (r.Nth == 0 || r.seen == r.Nth) {
			rr := r.Rule
			fired = &rr
		}
	}
	if fired != nil {
		f.injected++
		if fired.Err == nil {
			fired.Err = ErrInjected
		}
	}
	return fired
}

func (f *FS) fail(op Op, path string) error {
	if r := f.check(op, path); r != nil {
		return &os.PathError{Op: op.String(), Path: path, Err: r.Err}
	}
	return nil
}

func (f *FS) Create(name string) (vfs.File, error) {
	if err := f.fail(OpCreate, name); err != nil {
		return nil, err
	}
	file, err := f.inner.Create(name)
	if err != nil {
		return nil, err
	}
	return &errFile{File: file, fs: f, name: name}, nil
}

func (f *FS) Open(name string) (vfs.File, error) {
	if err := f.fail(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.inner.Open(name)
	if err != nil {
		return nil, err
	}
	return &errFile{File: file, fs: f, name: name}, nil
}

func (f *FS) OpenAppend(name string) (vfs.File, error) {
	if err := f.fail(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.inner.OpenAppend(name)
	if err != nil {
		return nil, err
	}
	return &errFile{File: file, fs: f, name: name}, nil
}

func (f *FS) OpenReadWrite(name string) (vfs.File, error) {
	if err := f.fail(OpOpen, name); err != nil {
		return nil, err
	}
	file, err := f.inner.OpenReadWrite(name)
	if err != nil {
		return nil, err
	}
	return &errFile{File: file, fs: f, name: name}, nil
}

func (f *FS) OpenDir(name string) (vfs.File, error) {
	if err := f.fail(OpOpenDir, name); err != nil {
		return nil, err
	}
	file, err := f.inner.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &errFile{File: file, fs: f, name: name}, nil
}

func (f *FS) Remove(name string) error {
	if err := f.fail(OpRemove, name); err != nil {
		return err
	}
	return f.inner.Remove(name)
}

func (f *FS) Rename(oldname, newname string) error {
	if err := f.fail(OpRename, oldname); err != nil {
		return err
	}
	return f.inner.Rename(oldname, newname)
}

func (f *FS) MkdirAll(dir string, perm os.FileMode) error {
	if err := f.fail(OpMkdirAll, dir); err != nil {
		return err
	}
	return f.inner.MkdirAll(dir, perm)
}

func (f *FS) List(dir string) ([]string, error) {
	if err := f.fail(OpList, dir); err != nil {
		return nil, err
	}
	return f.inner.List(dir)
}

func (f *FS) Stat(name string) (os.FileInfo, error) {
	if err := f.fail(OpStat, name); err != nil {
		return nil, err
	}
	return f.inner.Stat(name)
}

type errFile struct {
	vfs.File
	fs   *FS
	name string
}

func (e *errFile) Read(p []byte) (int, error) {
	if err := e.fs.fail(OpRead, e.name); err != nil {
		return 0, err
	}
	return e.File.Read(p)
}

func (e *errFile) ReadAt(p []byte, off int64) (int, error) {
	if err := e.fs.fail(OpRead, e.name); err != nil {
		return 0, err
	}
	return e.File.ReadAt(p, off)
}

func (e *errFile) Write(p []byte) (int, error) {
	r := e.fs.check(OpWrite, e.name)
	if r == nil {
		return e.File.Write(p)
	}
	n := 0
	if r.Torn && r.TornAt > 0 {
		k, err := e.File.Write(p[:min(r.TornAt, len(p))])
		if err != nil {
			return k, err
		}
		n = k
	}
	return n, &os.PathError{Op: "write", Path: e.name, Err: r.Err}
}

func (e *errFile) WriteAt(p []byte, off int64) (int, error) {
	r := e.fs.check(OpWrite, e.name)
	if r == nil {
		return e.File.WriteAt(p, off)
	}
	n := 0
	if r.Torn && r.TornAt > 0 {
		k, err := e.File.WriteAt(p[:min(r.TornAt, len(p))], off)
		if err != nil {
			return k, err
		}
		n = k
	}
	return n, &os.PathError{Op: "write", Path: e.name, Err: r.Err}
}

// Preallocate fails as a rule says; a Torn rule first extends the file to
// TornAt bytes (if that is longer), as a fallocate that ran out of space
// part of the way may.
func (e *errFile) Preallocate(size int64) error {
	r := e.fs.check(OpPreallocate, e.name)
	if r == nil {
		return e.File.Preallocate(size)
	}
	if r.Torn && r.TornAt > 0 {
		if err := e.File.Preallocate(min(int64(r.TornAt), size)); err != nil {
			return err
		}
	}
	return &os.PathError{Op: "fallocate", Path: e.name, Err: r.Err}
}

func (e *errFile) Sync() error {
	if err := e.fs.fail(OpSync, e.name); err != nil {
		return err
	}
	return e.File.Sync()
}

func (e *errFile) Truncate(size int64) error {
	if err := e.fs.fail(OpTruncate, e.name); err != nil {
		return err
	}
	return e.File.Truncate(size)
}
