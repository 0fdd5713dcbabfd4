package badger

import (
	"fmt"
	"os"
	"time"

	"zabd/log/vfs"
)

// dirSyncer makes new directory entries durable before a group commit is
// acknowledged. Badger creates a memtable WAL file (and value-log and
// table files) without fsyncing the directory, so after a power loss the
// file holding acknowledged records could be missing even though its data
// was synced. After every commit the engine calls check: when the
// directory's modification time moved since the last look, or is so
// recent that a second change within the filesystem's timestamp
// granularity could hide behind it, the directory is fsynced.
//
// A stat per commit is cheap; a directory fsync happens only around the
// rare file creations (a memtable is tens of MiB of records).
type dirSyncer struct {
	dir    string
	synced time.Time // the mtime the last directory fsync covered
	now    func() time.Time
	fsync  func(dir string) error
}

// timestampSlack is how recent a directory mtime must be for check to
// distrust it: Linux stamps inodes with a coarse clock (one jiffy, at most
// 10 ms), so a file created within the same tick as an already-synced
// change leaves the mtime unchanged. 100 ms is ten ticks of margin.
const timestampSlack = 100 * time.Millisecond

func newDirSyncer(dir string) *dirSyncer {
	return &dirSyncer{dir: dir, now: time.Now, fsync: fsyncDir}
}

// check fsyncs the directory if it may hold entries not yet durable.
func (d *dirSyncer) check() error {
	st, err := os.Stat(d.dir)
	if err != nil {
		return fmt.Errorf("badger engine: stat %s: %w", d.dir, err)
	}
	mt := st.ModTime()
	if mt.Equal(d.synced) && d.now().Sub(mt) > timestampSlack {
		return nil
	}
	if err := d.fsync(d.dir); err != nil {
		return err
	}
	d.synced = mt
	return nil
}

func fsyncDir(dir string) error {
	if err := vfs.SyncDir(vfs.Default, dir); err != nil {
		return fmt.Errorf("badger engine: fsync dir %s: %w", dir, err)
	}
	return nil
}
