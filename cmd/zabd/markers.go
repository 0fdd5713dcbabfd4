package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"zabd/log"
)

// Two small durable facts live beside the data, each in a file of its own
// written as tmp, fsync, rename, directory fsync:
//
//   - currentEpoch: the epoch this server last started in (as ZooKeeper's
//     currentEpoch file). The next start takes one above the largest of it,
//     the log's and the snapshot's, so a zxid is never reused even when
//     --repair cut the log's newest epoch away.
//   - logPurgedBelow: the zxid below which the log was purged. Recovery
//     refuses a snapshot older than that (or no snapshot at all), instead of
//     replaying a log with a hole in it.
const (
	epochFile  = "currentEpoch"
	purgedFile = "logPurgedBelow"
)

// readUintFile reads a decimal number; a missing file is 0.
func readUintFile(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s holds %q, not a number: %w", path, b, err)
	}
	return v, nil
}

// writeUintFile replaces path's number durably.
func writeUintFile(path string, v uint64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if _, err := fmt.Fprintf(f, "%d\n", v); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("installing %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// nextEpoch is one above every epoch used before: the recorded one and the
// last zxid's (log or snapshot). It records the choice before returning.
func nextEpoch(dataDir string, last log.Zxid) (uint32, error) {
	recorded, err := readUintFile(filepath.Join(dataDir, epochFile))
	if err != nil {
		return 0, err
	}
	e := max(recorded, uint64(last.Epoch())) + 1
	if e > 0xffffffff {
		return 0, fmt.Errorf("epochs exhausted (last %d)", e-1)
	}
	if err := writeUintFile(filepath.Join(dataDir, epochFile), e); err != nil {
		return 0, err
	}
	return uint32(e), nil
}

// purgeRecorder is the snapshotter's log purger: it records how far the
// log will be purged before purging it.
type purgeRecorder struct {
	path string
	eng  interface{ PurgeBefore(z log.Zxid) error }
}

func (p purgeRecorder) PurgeBefore(z log.Zxid) error {
	old, err := readUintFile(p.path)
	if err != nil {
		return err
	}
	if uint64(z) > old {
		if err := writeUintFile(p.path, uint64(z)); err != nil {
			return err
		}
	}
	return p.eng.PurgeBefore(z)
}

// checkLogCovers refuses recovery from a snapshot the log does not reach
// back to: records in (start, purgedBelow) are gone.
func checkLogCovers(dataDir string, start log.Zxid) error {
	purged, err := readUintFile(filepath.Join(dataDir, purgedFile))
	if err != nil {
		return err
	}
	if purged > uint64(start)+1 {
		return fmt.Errorf("the log was purged below zxid %s but the newest usable snapshot starts at %s: "+
			"the txns between are gone (is the snapshot directory missing or damaged?)", log.Zxid(purged), start)
	}
	return nil
}
