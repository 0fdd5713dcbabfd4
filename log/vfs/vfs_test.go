package vfs_test

import (
	"testing"

	"zabd/log/vfs"
	"zabd/log/vfs/vfstest"
)

func TestDefaultConformance(t *testing.T) {
	vfstest.RunTests(t, func(t *testing.T) (vfs.FS, string) { return vfs.Default, t.TempDir() })
}

func TestMemConformance(t *testing.T) {
	vfstest.RunTests(t, func(t *testing.T) (vfs.FS, string) {
		m := vfs.NewMem()
		if err := m.MkdirAll("/root", 0o755); err != nil {
			t.Fatal(err)
		}
		return m, "/root"
	})
}
