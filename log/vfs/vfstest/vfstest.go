// Package vfstest is the conformance suite for vfs.FS implementations:
// the behaviour the log relies on, checked the same way on the OS and the
// memory filesystem.
package vfstest

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
)

// RunTests runs the suite. newFS returns a filesystem and an existing,
// empty directory in it to work under.
func RunTests(t *testing.T, newFS func(t *testing.T) (vfs.FS, string)) {
	write := func(t *testing.T, f vfs.File, s string) {
		t.Helper()
		if n, err := f.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	content := func(t *testing.T, fsys vfs.FS, name string) string {
		t.Helper()
		b, err := vfs.ReadFile(fsys, name)
		if err != nil {
			t.Fatalf("ReadFile(%s): %v", name, err)
		}
		return string(b)
	}

	t.Run("CreateWriteRead", func(t *testing.T) {
		fsys, root := newFS(t)
		name := filepath.Join(root, "a")
		f, err := fsys.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		write(t, f, "hello ")
		write(t, f, "world")
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		if fi, err := f.Stat(); err != nil || fi.Size() != 11 {
			t.Errorf("Stat = %v, %v; want size 11", fi, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := content(t, fsys, name); got != "hello world" {
			t.Errorf("content %q", got)
		}
		r, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		buf := make([]byte, 5)
		if n, err := r.ReadAt(buf, 6); n != 5 || (err != nil && err != io.EOF) || string(buf) != "world" {
			t.Errorf("ReadAt(6) = %d, %v, %q", n, err, buf)
		}
		if n, err := r.ReadAt(buf, 8); n != 3 || err != io.EOF {
			t.Errorf("ReadAt past end = %d, %v; want 3, io.EOF", n, err)
		}
		if _, err := r.Write([]byte("x")); err == nil {
			t.Errorf("Write to a file opened read-only succeeded")
		}
		if fi, err := fsys.Stat(name); err != nil || fi.Size() != 11 || fi.IsDir() || fi.Name() != "a" {
			t.Errorf("FS.Stat = %v, %v", fi, err)
		}
	})

	t.Run("CreateRefusesExisting", func(t *testing.T) {
		fsys, root := newFS(t)
		name := filepath.Join(root, "a")
		if err := vfs.WriteFile(fsys, name, []byte("keep")); err != nil {
			t.Fatal(err)
		}
		if _, err := fsys.Create(name); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Create of an existing file: got %v, want fs.ErrExist", err)
		}
		if got := content(t, fsys, name); got != "keep" {
			t.Errorf("content %q after refused Create", got)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		fsys, root := newFS(t)
		name := filepath.Join(root, "nope")
		for op, err := range map[string]error{
			"Open":       func() error { _, err := fsys.Open(name); return err }(),
			"OpenAppend": func() error { _, err := fsys.OpenAppend(name); return err }(),
			"Stat":       func() error { _, err := fsys.Stat(name); return err }(),
			"Remove":     fsys.Remove(name),
			"List":       func() error { _, err := fsys.List(name); return err }(),
		} {
			if !vfs.IsNotExist(err) {
				t.Errorf("%s of a missing name: got %v, want not-exist", op, err)
			}
		}
	})

	t.Run("AppendAfterTruncate", func(t *testing.T) {
		fsys, root := newFS(t)
		name := filepath.Join(root, "a")
		if err := vfs.WriteFile(fsys, name, []byte("0123456789")); err != nil {
			t.Fatal(err)
		}
		f, err := fsys.OpenAppend(name)
		if err != nil {
			t.Fatal(err)
		}
		write(t, f, "AB")
		if err := f.Truncate(4); err != nil {
			t.Fatal(err)
		}
		write(t, f, "xy")
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if got := content(t, fsys, name); got != "0123xy" {
			t.Errorf("content %q, want \"0123xy\"", got)
		}
	})

	t.Run("ListRenameRemove", func(t *testing.T) {
		fsys, root := newFS(t)
		for _, n := range []string{"c", "a", "b"} {
			if err := vfs.WriteFile(fsys, filepath.Join(root, n), []byte(n)); err != nil {
				t.Fatal(err)
			}
		}
		if err := fsys.MkdirAll(filepath.Join(root, "d", "e"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := fsys.Rename(filepath.Join(root, "a"), filepath.Join(root, "d", "z")); err != nil {
			t.Fatal(err)
		}
		if err := fsys.Remove(filepath.Join(root, "b")); err != nil {
			t.Fatal(err)
		}
		if err := vfs.SyncDir(fsys, root); err != nil {
			t.Fatal(err)
		}
		for dir, want := range map[string][]string{
			root:                     {"c", "d"},
			filepath.Join(root, "d"): {"e", "z"},
		} {
			got, err := fsys.List(dir)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("List(%s) (-want +got):\n%s", dir, d)
			}
		}
		if got := content(t, fsys, filepath.Join(root, "d", "z")); got != "a" {
			t.Errorf("renamed file has %q", got)
		}
		if fi, err := fsys.Stat(filepath.Join(root, "d")); err != nil || !fi.IsDir() {
			t.Errorf("Stat(dir) = %v, %v", fi, err)
		}
	})

	t.Run("PreallocateWriteAt", func(t *testing.T) {
		fsys, root := newFS(t)
		name := filepath.Join(root, "p")
		f, err := fsys.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		write(t, f, "head")
		if err := f.Preallocate(64); err != nil {
			t.Fatalf("Preallocate: %v", err)
		}
		if err := f.Preallocate(10); err != nil {
			t.Fatalf("Preallocate below the size: %v", err)
		}
		if fi, err := f.Stat(); err != nil || fi.Size() != 64 {
			t.Fatalf("Stat after Preallocate(64) = %v, %v", fi, err)
		}
		if n, err := f.WriteAt([]byte("mid"), 10); err != nil || n != 3 {
			t.Fatalf("WriteAt = %d, %v", n, err)
		}
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		want := append([]byte("head"), make([]byte, 60)...)
		copy(want[10:], "mid")
		if got := content(t, fsys, name); got != string(want) {
			t.Errorf("content %q, want %q", got, want)
		}
		rw, err := fsys.OpenReadWrite(name)
		if err != nil {
			t.Fatal(err)
		}
		defer rw.Close()
		if _, err := rw.WriteAt([]byte("tail"), 62); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := rw.ReadAt(buf, 0); err != nil || string(buf) != "head" {
			t.Errorf("ReadAt(0) on OpenReadWrite = %q, %v", buf, err)
		}
		if fi, err := rw.Stat(); err != nil || fi.Size() != 66 {
			t.Errorf("size after WriteAt past the end = %v, %v; want 66", fi, err)
		}
		if _, err := fsys.OpenReadWrite(filepath.Join(root, "missing")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("OpenReadWrite(missing) = %v, want ErrNotExist", err)
		}
	})
}
