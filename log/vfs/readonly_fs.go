package vfs

import (
	"errors"
	"io/fs"
	"os"
)

// ErrReadOnly matches every refusal of a filesystem made by ReadOnly.
var ErrReadOnly = errors.New("vfs: read-only filesystem")

// ReadOnly returns fsys with every operation that could change it refused
// (an *fs.PathError wrapping ErrReadOnly): Create, OpenAppend,
// OpenReadWrite, Remove, Rename and MkdirAll. Open, OpenDir, List and Stat
// pass through. Files it opens are fsys's, opened read-only by fsys's
// Open, so their Write, Truncate and Preallocate fail too (the operating
// system refuses them on a read-only descriptor; MemFS's Open does the
// same), and their Sync changes nothing.
//
// The inspection tools (tools/...) read data dirs through it, so that no
// code path under them, however deep, can write to a dir it reads.
func ReadOnly(fsys FS) FS { return readOnlyFS{fsys} }

type readOnlyFS struct{ fs FS }

var _ FS = readOnlyFS{}

func refuse(op, name string) error { return &fs.PathError{Op: op, Path: name, Err: ErrReadOnly} }

func (r readOnlyFS) Create(name string) (File, error) { return nil, refuse("create", name) }
func (r readOnlyFS) OpenAppend(name string) (File, error) {
	return nil, refuse("open for append", name)
}
func (r readOnlyFS) OpenReadWrite(name string) (File, error) {
	return nil, refuse("open for writing", name)
}
func (r readOnlyFS) Remove(name string) error                 { return refuse("remove", name) }
func (r readOnlyFS) Rename(oldname, _ string) error           { return refuse("rename", oldname) }
func (r readOnlyFS) MkdirAll(dir string, _ os.FileMode) error { return refuse("mkdir", dir) }

func (r readOnlyFS) Open(name string) (File, error)        { return r.fs.Open(name) }
func (r readOnlyFS) OpenDir(name string) (File, error)     { return r.fs.OpenDir(name) }
func (r readOnlyFS) List(dir string) ([]string, error)     { return r.fs.List(dir) }
func (r readOnlyFS) Stat(name string) (os.FileInfo, error) { return r.fs.Stat(name) }
