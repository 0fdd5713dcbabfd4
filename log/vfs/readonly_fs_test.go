package vfs_test

import (
	"errors"
	"io"
	"path/filepath"
	"testing"

	"zabd/log/vfs"
)

// TestReadOnlyRefusesEveryChange runs every changing operation through
// ReadOnly, on the OS and on MemFS, and checks each is refused with
// ErrReadOnly and leaves the directory as it was; reads pass through.
func TestReadOnlyRefusesEveryChange(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   func(t *testing.T) (vfs.FS, string)
	}{
		{"os", func(t *testing.T) (vfs.FS, string) { return vfs.Default, t.TempDir() }},
		{"mem", func(t *testing.T) (vfs.FS, string) {
			m := vfs.NewMem()
			if err := m.MkdirAll("/d", 0o755); err != nil {
				t.Fatal(err)
			}
			return m, "/d"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, dir := tc.fs(t)
			p := filepath.Join(dir, "f")
			f, err := base.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			f.Close()

			ro := vfs.ReadOnly(base)
			refused := map[string]error{}
			_, refused["create"] = ro.Create(filepath.Join(dir, "g"))
			_, refused["append"] = ro.OpenAppend(p)
			_, refused["readwrite"] = ro.OpenReadWrite(p)
			refused["remove"] = ro.Remove(p)
			refused["rename"] = ro.Rename(p, filepath.Join(dir, "h"))
			refused["mkdir"] = ro.MkdirAll(filepath.Join(dir, "sub"), 0o755)
			for op, err := range refused {
				if !errors.Is(err, vfs.ErrReadOnly) {
					t.Errorf("%s: got %v, want ErrReadOnly", op, err)
				}
			}
			rf, err := ro.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rf)
			if err != nil || string(b) != "hello" {
				t.Errorf("read back %q, %v", b, err)
			}
			if _, err := rf.Write([]byte("x")); err == nil {
				t.Error("a file opened through ReadOnly took a write")
			}
			rf.Close()
			names, err := ro.List(dir)
			if err != nil || len(names) != 1 || names[0] != "f" {
				t.Errorf("after refusals the dir holds %v (%v), want [f]", names, err)
			}
		})
	}
}
