package vfs

import "testing"

// The operating system's filesystem reports its free space through statfs.
func TestSpaceOfDefault(t *testing.T) {
	sp, ok := SpaceOf(Default, t.TempDir())
	if !ok {
		t.Skip("statfs is not available here")
	}
	if sp.Total == 0 || sp.Free > sp.Total {
		t.Errorf("Space = %+v", sp)
	}
	if _, ok := SpaceOf(Default, "/does/not/exist/at/all"); ok {
		t.Errorf("SpaceOf a missing path succeeded")
	}
}
