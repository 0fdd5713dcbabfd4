// Package errorfs wraps a vfs.FS and injects failures chosen by rules: fail
// the n-th create, write, sync, rename... of a path, make a write short (a
// torn write that persists a prefix of the buffer), or fail with ENOSPC;
// and it models a disk with a given number of bytes free (SetFree), so a
// test can fill the disk by writing rather than by counting operations.
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
	// free is the free space budget (SetFree), -1 when there is none.
	free int64
}

var (
	_ vfs.FS            = (*FS)(nil)
	_ vfs.SpaceReporter = (*FS)(nil)
)

// Wrap returns inner wrapped with rules.
func Wrap(inner vfs.FS, rules ...Rule) *FS {
	f := &FS{inner: inner, free: -1}
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

// SetFree models a disk with n bytes free from now on: every write past a
// file's end and every preallocation is charged to it, and one that does
// not fit fails with ENOSPC (a write writes the part that fits first, as
// a short write on a full disk does; a preallocation extends nothing).
// Truncating and removing files gives their bytes back. Space reports n
// as Free. Files written before the call are not counted. SetFree(-1)
// ends the model (no limit; Space defers to the wrapped FS).
func (f *FS) SetFree(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.free = n
}

// Free returns the free space budget (-1 when SetFree is not in force).
func (f *FS) Free() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.free
}

// Space implements vfs.SpaceReporter: the budget of SetFree, or what the
// wrapped FS says.
func (f *FS) Space(path string) (vfs.Space, error) {
	f.mu.Lock()
	free := f.free
	f.mu.Unlock()
	if free >= 0 {
		return vfs.Space{Free: uint64(free), Total: uint64(free)}, nil
	}
	if r, ok := f.inner.(vfs.SpaceReporter); ok {
		return r.Space(path)
	}
	return vfs.Space{}, errors.New("errorfs: the wrapped filesystem cannot tell its free space")
}

// charge takes up to growth bytes from the free space budget and returns
// how many it may use (all of them without a budget).
func (f *FS) charge(growth int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.free < 0 || growth <= 0 {
		return max(growth, 0)
	}
	n := min(growth, f.free)
	f.free -= n
	return n
}

// credit gives n bytes back to the budget, if there is one.
func (f *FS) credit(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.free >= 0 && n > 0 {
		f.free += n
	}
}

// budgeted reports whether SetFree is in force.
func (f *FS) budgeted() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.free >= 0
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
	var size int64
	if f.budgeted() {
		if fi, err := f.inner.Stat(name); err == nil && !fi.IsDir() {
			size = fi.Size()
		}
	}
	if err := f.inner.Remove(name); err != nil {
		return err
	}
	f.credit(size)
	return nil
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
		// NB: Write's position is not known here; the budget counts
		// the whole buffer as growth (files are written from the
		// start or appended to).
		return e.writeBudgeted(p, func(b []byte) (int, error) { return e.File.Write(b) }, int64(len(p)))
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
		growth := int64(len(p))
		if e.fs.budgeted() {
			growth = max(0, off+int64(len(p))-e.size())
		}
		return e.writeBudgeted(p, func(b []byte) (int, error) { return e.File.WriteAt(b, off) }, growth)
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

// size is the wrapped file's size, 0 if it cannot be read.
func (e *errFile) size() int64 {
	fi, err := e.File.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// writeBudgeted writes p with write, charging growth bytes of it to the
// free space budget: what does not fit is cut off the end of p and the
// write fails with ENOSPC after writing the rest.
func (e *errFile) writeBudgeted(p []byte, write func([]byte) (int, error), growth int64) (int, error) {
	if !e.fs.budgeted() {
		return write(p)
	}
	got := e.fs.charge(growth)
	if got == growth {
		return write(p)
	}
	short := p[:int64(len(p))-(growth-got)]
	n, err := write(short)
	if err != nil {
		return n, err
	}
	return n, &os.PathError{Op: "write", Path: e.name, Err: ErrNoSpace}
}

// Preallocate fails as a rule says; a Torn rule first extends the file to
// TornAt bytes (if that is longer), as a fallocate that ran out of space
// part of the way may.
func (e *errFile) Preallocate(size int64) error {
	r := e.fs.check(OpPreallocate, e.name)
	if r == nil {
		if e.fs.budgeted() {
			growth := size - e.size()
			if got := e.fs.charge(growth); got < growth {
				e.fs.credit(got)
				return &os.PathError{Op: "fallocate", Path: e.name, Err: ErrNoSpace}
			}
		}
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

// Truncate gives the bytes it cuts back to the free space budget; a
// truncation that extends the file is sparse and costs nothing.
func (e *errFile) Truncate(size int64) error {
	if err := e.fs.fail(OpTruncate, e.name); err != nil {
		return err
	}
	old := e.size()
	if err := e.File.Truncate(size); err != nil {
		return err
	}
	e.fs.credit(old - size)
	return nil
}
