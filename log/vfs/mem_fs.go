package vfs

import (
	"bytes"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MemFS is an in-memory FS that tracks durability so that a test can
// simulate a power cut with CrashClone.
//
// Model:
//   - A file's durable content is its content at its last successful
//     Sync. Writes and truncations after that are volatile.
//   - A directory's durable entries are its entries at its last Sync (via
//     OpenDir). Create, Remove and Rename change only the live entries until
//     then. A file reachable only through a volatile entry is lost by a
//     crash even if the file itself was Synced.
//   - Directories made by MkdirAll are durable at once (a simplification:
//     real filesystems need the parent directory Synced too).
//
// Concurrency: all methods, and all methods of its Files, are safe for
// concurrent use; one mutex guards the whole tree.
type MemFS struct {
	mu   sync.Mutex
	root *memNode
}

var _ FS = (*MemFS)(nil)

// memNode is a file or a directory. Guarded by MemFS.mu.
type memNode struct {
	dir bool
	// directory:
	children map[string]*memNode // live entries
	synced   map[string]*memNode // durable entries
	// file:
	data []byte
	// durable is the content as of the last Sync; it never shares memory
	// with data. dirtyFrom is the lowest offset written or truncated since
	// then. Invariant: dirtyFrom <= len(durable), dirtyFrom <= len(data),
	// data[:dirtyFrom] == durable[:dirtyFrom].
	durable   []byte
	dirtyFrom int
	modTime   time.Time
}

func newDirNode() *memNode {
	return &memNode{dir: true, children: map[string]*memNode{}, synced: map[string]*memNode{}}
}

// NewMem returns an empty memory filesystem containing only the root "/".
// Relative names are resolved against the root.
func NewMem() *MemFS { return &MemFS{root: newDirNode()} }

func splitPath(name string) []string {
	name = path.Clean("/" + name)
	if name == "/" {
		return nil
	}
	return strings.Split(name[1:], "/")
}

// lookup resolves name. Caller holds mu.
func (m *MemFS) lookup(name string) (*memNode, error) {
	n := m.root
	for _, c := range splitPath(name) {
		if !n.dir {
			return nil, syscall.ENOTDIR
		}
		next, ok := n.children[c]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = next
	}
	return n, nil
}

// lookupParent resolves the directory holding name and returns it with the
// last path element. Caller holds mu.
func (m *MemFS) lookupParent(name string) (*memNode, string, error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", fs.ErrInvalid
	}
	dir, err := m.lookup(strings.Join(parts[:len(parts)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	if !dir.dir {
		return nil, "", syscall.ENOTDIR
	}
	return dir, parts[len(parts)-1], nil
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

const (
	memRead = 1 << iota
	memWrite
	memAppend
	memDir
)

func (m *MemFS) Create(name string) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupParent(name)
	if err != nil {
		return nil, pathErr("create", name, err)
	}
	if _, ok := dir.children[base]; ok {
		return nil, pathErr("create", name, fs.ErrExist)
	}
	n := &memNode{modTime: time.Now()}
	dir.children[base] = n
	return &memFile{fs: m, n: n, name: name, mode: memRead | memWrite}, nil
}

func (m *MemFS) openFile(op, name string, mode int) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	if n.dir != (mode&memDir != 0) {
		if n.dir {
			return nil, pathErr(op, name, syscall.EISDIR)
		}
		return nil, pathErr(op, name, syscall.ENOTDIR)
	}
	return &memFile{fs: m, n: n, name: name, mode: mode}, nil
}

func (m *MemFS) Open(name string) (File, error) { return m.openFile("open", name, memRead) }

func (m *MemFS) OpenAppend(name string) (File, error) {
	return m.openFile("open", name, memWrite|memAppend)
}

func (m *MemFS) OpenReadWrite(name string) (File, error) {
	return m.openFile("open", name, memRead|memWrite)
}

func (m *MemFS) OpenDir(name string) (File, error) { return m.openFile("open", name, memDir) }

func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.lookupParent(name)
	if err != nil {
		return pathErr("remove", name, err)
	}
	n, ok := dir.children[base]
	if !ok {
		return pathErr("remove", name, fs.ErrNotExist)
	}
	if n.dir && len(n.children) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(dir.children, base)
	return nil
}

func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	odir, obase, err := m.lookupParent(oldname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	n, ok := odir.children[obase]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	ndir, nbase, err := m.lookupParent(newname)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	if old, ok := ndir.children[nbase]; ok && old.dir {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EISDIR}
	}
	delete(odir.children, obase)
	ndir.children[nbase] = n
	return nil
}

func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, c := range splitPath(dir) {
		next, ok := n.children[c]
		if !ok {
			next = newDirNode()
			n.children[c] = next
			n.synced[c] = next // see the MemFS doc: mkdir is durable at once
		} else if !next.dir {
			return pathErr("mkdir", dir, syscall.ENOTDIR)
		}
		n = next
	}
	return nil
}

func (m *MemFS) List(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(dir)
	if err != nil {
		return nil, pathErr("readdir", dir, err)
	}
	if !n.dir {
		return nil, pathErr("readdir", dir, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(n.children))
	for c := range n.children {
		names = append(names, c)
	}
	sort.Strings(names)
	return names, nil
}

func (m *MemFS) Stat(name string) (os.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.lookup(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	return n.info(path.Base(path.Clean("/" + name))), nil
}

// CrashOptions chooses what a simulated power cut keeps of volatile state.
type CrashOptions struct {
	// Torn, when set, keeps for each file whose volatile changes did not
	// shrink it (appends, writes into preallocated space) a seed-chosen
	// prefix of the changed bytes, from the lowest changed offset on, part
	// of which may read back as zeros (space allocated but never written).
	// When unset every volatile byte is lost.
	Torn bool
	// Seed drives the choices made when Torn is set.
	Seed uint64
}

// CrashClone returns a new MemFS holding what a machine would find after a
// power cut at this instant: directory entries as of each directory's last
// Sync and file contents as of each file's last Sync (see CrashOptions for
// torn appends). Everything in the clone is durable. The receiver is not
// changed.
func (m *MemFS) CrashClone(o CrashOptions) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	seen := map[*memNode]*memNode{}
	var clone func(n *memNode) *memNode
	clone = func(n *memNode) *memNode {
		if c, ok := seen[n]; ok {
			return c
		}
		if n.dir {
			c := newDirNode()
			seen[n] = c
			names := make([]string, 0, len(n.synced))
			for name := range n.synced {
				names = append(names, name)
			}
			sort.Strings(names) // deterministic use of rng
			for _, name := range names {
				cc := clone(n.synced[name])
				c.children[name] = cc
				c.synced[name] = cc
			}
			return c
		}
		data := bytes.Clone(n.durable)
		if data == nil {
			data = []byte{}
		}
		if o.Torn && len(n.data) > n.dirtyFrom && len(n.data) >= len(n.durable) {
			// Volatile changes from dirtyFrom on, none shrinking the file:
			// appends, or writes into preallocated space. Keep a prefix
			// of them over the durable bytes.
			extra := n.data[n.dirtyFrom:]
			keep := rng.IntN(len(extra) + 1)
			tail := bytes.Clone(extra[:keep])
			if keep > 0 && rng.IntN(3) == 0 {
				z := rng.IntN(keep)
				clear(tail[z:])
			}
			data = append(data[:n.dirtyFrom], tail...)
			if end := n.dirtyFrom + keep; end < len(n.durable) {
				data = append(data, n.durable[end:]...)
			}
		}
		c := &memNode{data: data, durable: bytes.Clone(data), dirtyFrom: len(data), modTime: n.modTime}
		seen[n] = c
		return c
	}
	return &MemFS{root: clone(m.root)}
}

// memFile is an open handle. Its position is its own; the node's state is
// guarded by MemFS.mu.
type memFile struct {
	fs     *MemFS
	n      *memNode
	name   string
	mode   int
	pos    int64
	closed bool
}

var _ File = (*memFile)(nil)

func (f *memFile) check(op string, need int) error {
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if need != 0 && f.mode&need == 0 {
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *memFile) Read(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", memRead); err != nil {
		return 0, err
	}
	if f.pos >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	k := copy(p, f.n.data[f.pos:])
	f.pos += int64(k)
	return k, nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("read", memRead); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, fs.ErrInvalid)
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	k := copy(p, f.n.data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

func (f *memFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", memWrite); err != nil {
		return 0, err
	}
	n := f.n
	if f.mode&memAppend != 0 {
		f.pos = int64(len(n.data))
	}
	n.writeAt(p, f.pos)
	f.pos += int64(len(p))
	return len(p), nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("write", memWrite); err != nil {
		return 0, err
	}
	if f.mode&memAppend != 0 {
		return 0, pathErr("write", f.name, errWriteAtAppend)
	}
	if off < 0 {
		return 0, pathErr("write", f.name, fs.ErrInvalid)
	}
	f.n.writeAt(p, off)
	return len(p), nil
}

// errWriteAtAppend is os's refusal of WriteAt on an O_APPEND file.
var errWriteAtAppend = fs.ErrInvalid

// writeAt writes p at off, zero-filling any gap. Caller holds mu.
func (n *memNode) writeAt(p []byte, off int64) {
	end := off + int64(len(p))
	if end > int64(len(n.data)) {
		if off > int64(len(n.data)) {
			n.data = append(n.data, make([]byte, off-int64(len(n.data)))...)
		}
		n.data = append(n.data[:off], p...)
	} else {
		copy(n.data[off:], p)
	}
	n.dirtyFrom = min(n.dirtyFrom, int(off))
	n.modTime = time.Now()
}

func (f *memFile) Preallocate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("fallocate", memWrite); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("fallocate", f.name, fs.ErrInvalid)
	}
	n := f.n
	if size > int64(len(n.data)) {
		n.dirtyFrom = min(n.dirtyFrom, len(n.data))
		n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
		n.modTime = time.Now()
	}
	return nil
}

func (f *memFile) Sync() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("sync", 0); err != nil {
		return err
	}
	n := f.n
	if n.dir {
		n.synced = make(map[string]*memNode, len(n.children))
		for k, v := range n.children {
			n.synced[k] = v
		}
		return nil
	}
	k := min(n.dirtyFrom, len(n.durable), len(n.data))
	n.durable = append(n.durable[:k], n.data[k:]...)
	n.dirtyFrom = len(n.data)
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("truncate", memWrite); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, fs.ErrInvalid)
	}
	n := f.n
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
	} else {
		n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
	}
	n.dirtyFrom = min(n.dirtyFrom, int(size))
	n.modTime = time.Now()
	return nil
}

func (f *memFile) Stat() (os.FileInfo, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if err := f.check("stat", 0); err != nil {
		return nil, err
	}
	return f.n.info(path.Base(path.Clean("/" + f.name))), nil
}

func (f *memFile) Close() error {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// info snapshots n's metadata. Caller holds mu.
func (n *memNode) info(name string) os.FileInfo {
	fi := memInfo{name: name, size: int64(len(n.data)), modTime: n.modTime, mode: 0o644}
	if n.dir {
		fi.size, fi.mode = 0, fs.ModeDir|0o755
	}
	return fi
}

type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return i.modTime }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }
