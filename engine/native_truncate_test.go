package engine_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"zabd/engine"
	"zabd/engine/enginetest"
	"zabd/log"
	"zabd/log/vfs"
)

// crashPointFS records, while armed, crash clones of the MemFS under it
// before every operation that changes a file or a directory: each is what
// a power cut at that instant would leave (one losing every unsynced
// byte, one keeping a torn part of them).
type crashPointFS struct {
	mem *vfs.MemFS
	vfs.FS

	mu     sync.Mutex
	armed  bool
	clones []crashPoint
}

type crashPoint struct {
	before string // the operation about to run
	fs     *vfs.MemFS
}

func (c *crashPointFS) point(op, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed {
		seed := uint64(len(c.clones))
		c.clones = append(c.clones,
			crashPoint{op + " " + name, c.mem.CrashClone(vfs.CrashOptions{})},
			crashPoint{op + " " + name + " (torn)", c.mem.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed})})
	}
}

func (c *crashPointFS) arm(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = on
}

func (c *crashPointFS) wrap(f vfs.File, err error, name string) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return crashPointFile{f, c, name}, nil
}

func (c *crashPointFS) Create(name string) (vfs.File, error) {
	c.point("create", name)
	f, err := c.FS.Create(name)
	return c.wrap(f, err, name)
}

func (c *crashPointFS) Open(name string) (vfs.File, error) {
	f, err := c.FS.Open(name)
	return c.wrap(f, err, name)
}

func (c *crashPointFS) OpenAppend(name string) (vfs.File, error) {
	f, err := c.FS.OpenAppend(name)
	return c.wrap(f, err, name)
}

func (c *crashPointFS) OpenReadWrite(name string) (vfs.File, error) {
	f, err := c.FS.OpenReadWrite(name)
	return c.wrap(f, err, name)
}

func (c *crashPointFS) OpenDir(name string) (vfs.File, error) {
	f, err := c.FS.OpenDir(name)
	return c.wrap(f, err, name)
}

func (c *crashPointFS) Remove(name string) error {
	c.point("remove", name)
	return c.FS.Remove(name)
}

func (c *crashPointFS) Rename(oldname, newname string) error {
	c.point("rename", oldname)
	return c.FS.Rename(oldname, newname)
}

type crashPointFile struct {
	vfs.File
	c    *crashPointFS
	name string
}

func (f crashPointFile) Write(p []byte) (int, error) {
	f.c.point("write", f.name)
	return f.File.Write(p)
}

func (f crashPointFile) WriteAt(p []byte, off int64) (int, error) {
	f.c.point("writeat", f.name)
	return f.File.WriteAt(p, off)
}

func (f crashPointFile) Sync() error {
	f.c.point("sync", f.name)
	return f.File.Sync()
}

func (f crashPointFile) Truncate(size int64) error {
	f.c.point(fmt.Sprintf("truncate(%d)", size), f.name)
	return f.File.Truncate(size)
}

func (f crashPointFile) Preallocate(size int64) error {
	f.c.point("preallocate", f.name)
	return f.File.Preallocate(size)
}

// TestNativeTruncateCrashAtEveryStep: the native log's TruncateAfter
// removes later segments newest first (a directory fsync after each),
// then cuts and fsyncs the segment holding z. A power cut before any of
// its file operations, or after the last, leaves a prefix of the log no
// shorter than z, never a hole; the re-issued truncation then cuts it.
func TestNativeTruncateCrashAtEveryStep(t *testing.T) {
	all := enginetest.Recs(1, 60)
	for _, prealloc := range []bool{false, true} {
		for _, z := range []log.Zxid{0, 3, 25, 44, 58} {
			t.Run(fmt.Sprintf("preallocate=%v/z=%d", prealloc, z), func(t *testing.T) {
				o := engine.NativeOptions{Log: log.Options{SegmentBytes: 300, Preallocate: prealloc}}
				mem := vfs.NewMem()
				cfs := &crashPointFS{mem: mem, FS: mem}
				e := mustOpenNative(t, cfs, o)
				for i := 0; i < len(all); i += 4 {
					if err := e.Append(context.Background(), all[i:i+4]); err != nil {
						t.Fatal(err)
					}
				}
				cfs.arm(true)
				if err := e.TruncateAfter(z); err != nil {
					t.Fatal(err)
				}
				cfs.arm(false)
				cfs.clones = append(cfs.clones, crashPoint{"nothing: TruncateAfter returned", mem.CrashClone(vfs.CrashOptions{})})
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if len(cfs.clones) < 3 {
					t.Fatalf("only %d crash points", len(cfs.clones))
				}
				for i, cp := range cfs.clones {
					when := fmt.Sprintf("crash %d of %d, before %s", i+1, len(cfs.clones), cp.before)
					e := mustOpenNative(t, cp.fs, o)
					last := enginetest.CheckPrefix(t, e, all, 1, z, when)
					if i == len(cfs.clones)-1 && last != z {
						t.Errorf("%s: LastZxid %v, want %v", when, last, z)
					}
					if err := e.TruncateAfter(z); err != nil {
						t.Fatalf("%s: TruncateAfter(%v) again: %v", when, z, err)
					}
					if got := e.LastZxid(); got != z {
						t.Errorf("%s: re-issued TruncateAfter(%v): LastZxid %v", when, z, got)
					}
					if err := e.Close(); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}
