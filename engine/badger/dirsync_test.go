package badger

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestDirSyncerSyncsAfterNewFile: a file created in the directory makes the
// next check fsync it; with nothing new (and the change no longer recent)
// checks do not.
func TestDirSyncerSyncsAfterNewFile(t *testing.T) {
	dir := t.TempDir()
	d := newDirSyncer(dir)
	clock := time.Now()
	d.now = func() time.Time { return clock }
	syncs := 0
	d.fsync = func(string) error { syncs++; return nil }

	if err := d.check(); err != nil || syncs != 1 {
		t.Fatalf("first check: %d fsyncs, err %v; want 1 (nothing covered yet)", syncs, err)
	}
	clock = clock.Add(time.Hour) // the last change is old now
	if err := d.check(); err != nil || syncs != 1 {
		t.Fatalf("unchanged dir: %d fsyncs, err %v; want still 1", syncs, err)
	}
	// A new file: set the dir's mtime explicitly so the test does not
	// depend on the filesystem's timestamp granularity.
	if err := os.WriteFile(filepath.Join(dir, "000001.mem"), []byte("wal"), 0o644); err != nil {
		t.Fatal(err)
	}
	newTime := clock.Add(-30 * time.Minute)
	if err := os.Chtimes(dir, newTime, newTime); err != nil {
		t.Fatal(err)
	}
	if err := d.check(); err != nil || syncs != 2 {
		t.Fatalf("after a new file: %d fsyncs, err %v; want 2", syncs, err)
	}
	if err := d.check(); err != nil || syncs != 2 {
		t.Fatalf("nothing new since: %d fsyncs, err %v; want 2", syncs, err)
	}
}

// TestDirSyncerDistrustsRecentMtime: while the directory's mtime is within
// the timestamp slack of now, a second file created in the same clock tick
// would not move it, so every check fsyncs.
func TestDirSyncerDistrustsRecentMtime(t *testing.T) {
	dir := t.TempDir()
	d := newDirSyncer(dir)
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	clock := st.ModTime().Add(10 * time.Millisecond)
	d.now = func() time.Time { return clock }
	syncs := 0
	d.fsync = func(string) error { syncs++; return nil }
	for range 3 {
		if err := d.check(); err != nil {
			t.Fatal(err)
		}
	}
	if syncs != 3 {
		t.Fatalf("%d fsyncs while the mtime is recent, want 3", syncs)
	}
	clock = clock.Add(2 * timestampSlack)
	if err := d.check(); err != nil || syncs != 3 {
		t.Fatalf("after the slack: %d fsyncs, err %v; want 3", syncs, err)
	}
}

// TestDirSyncerRealFsync runs the real directory fsync once.
func TestDirSyncerRealFsync(t *testing.T) {
	if err := newDirSyncer(t.TempDir()).check(); err != nil {
		t.Fatal(err)
	}
	if err := newDirSyncer(filepath.Join(t.TempDir(), "missing")).check(); err == nil {
		t.Fatal("check of a missing dir succeeded")
	}
}
