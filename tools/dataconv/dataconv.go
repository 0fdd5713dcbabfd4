// Package dataconv rewrites a zabd data dir for another storage engine:
// the same log records (zxids and bytes), the same snapshots and the same
// markers (epochs, the purge watermark), so a deployment can swap
// --engine and start where it was.
//
// Invariants:
//   - The source is only read (through tools/logread: any engine, beside
//     a running server a consistent prefix of its log).
//   - The destination is a new dir (missing or empty), locked as zabd
//     locks a data dir while it is written, so no server starts on a half
//     copy; a conversion that fails leaves it for the operator to remove,
//     never a dir that looks complete: the ENGINE marker is there from
//     the first append, but the copy is reported good only after the
//     verification.
//   - Verified means: the destination's records hash (xxhash64 over every
//     zxid and record) to the source's, with the same count and first and
//     last zxid, and the tree replayed from the destination at its last
//     zxid equals the tree replayed from the source at that zxid.
package dataconv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cespare/xxhash/v2"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/tools/logread"
	"zabd/tools/logtool"
	"zabd/tree"
)

// Options configure Convert.
type Options struct {
	// Kind is the destination's engine: native, pebble or badger.
	Kind string
	// Progress, if set, is called now and then with the records copied
	// so far and the last one's zxid.
	Progress func(records int, last log.Zxid)
}

// Result says what Convert did.
type Result struct {
	Records     int
	First, Last log.Zxid
	Snapshots   []string // copied, by name
	Skipped     []string // snapshots not copied, and why
	Markers     []string // marker files copied
	// Znodes and Sessions are the replayed state at Last, the same from
	// both dirs.
	Znodes, Sessions int
	Copy, Verify     time.Duration
}

// ErrNotEmpty matches Convert's refusal of a destination with files in it.
var ErrNotEmpty = datadir.ErrNotEmpty

// markerFiles are copied as they are when present.
var markerFiles = []string{datadir.CurrentEpochFile, datadir.AcceptedEpochFile, datadir.PurgedBelowFile, "session.secret"}

// batch bounds one Append.
const (
	batchRecords = 4096
	batchBytes   = 8 << 20
)

// Convert copies src into the new data dir dst for engine o.Kind and
// verifies the copy (see the package doc).
func Convert(src *logread.DataDir, dst string, o Options) (Result, error) {
	var res Result
	if err := datadir.CheckNew(vfs.Default, dst); err != nil {
		return res, err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return res, fmt.Errorf("dataconv: %w", err)
	}
	lock, err := datadir.Acquire(dst, datadir.Options{Owner: "zabctl data convert", WaitForExiting: -1})
	if err != nil {
		return res, fmt.Errorf("dataconv: %w", err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			lock.Release()
		}
	}
	defer release()

	began := time.Now()
	srcHash, err := copyLog(src, dst, o, &res)
	if err != nil {
		return res, err
	}
	if err := copySnapshots(src, dst, &res); err != nil {
		return res, err
	}
	for _, name := range markerFiles {
		b, err := os.ReadFile(filepath.Join(src.Dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return res, fmt.Errorf("dataconv: reading marker: %w", err)
		}
		if err := writeFileDurably(filepath.Join(dst, name), b); err != nil {
			return res, err
		}
		res.Markers = append(res.Markers, name)
	}
	res.Copy = time.Since(began)
	release()

	began = time.Now()
	if err := verify(src, dst, o.Kind, srcHash, &res); err != nil {
		return res, err
	}
	res.Verify = time.Since(began)
	return res, nil
}

// recordHash folds every record's zxid and bytes into one digest.
type recordHash struct {
	h     *xxhash.Digest
	n     int
	first log.Zxid
	last  log.Zxid
	buf   [12]byte
}

func newRecordHash() *recordHash { return &recordHash{h: xxhash.New()} }

func (r *recordHash) add(z log.Zxid, data []byte) {
	binary.LittleEndian.PutUint64(r.buf[:8], uint64(z))
	binary.LittleEndian.PutUint32(r.buf[8:], uint32(len(data)))
	r.h.Write(r.buf[:])
	r.h.Write(data)
	if r.n == 0 {
		r.first = z
	}
	r.n++
	r.last = z
}

func copyLog(src *logread.DataDir, dst string, o Options, res *Result) (*recordHash, error) {
	eng, err := engine.Open(o.Kind, dst, engine.Options{})
	if err != nil {
		return nil, fmt.Errorf("dataconv: opening the %s engine in %s: %w", o.Kind, dst, err)
	}
	sum := newRecordHash()
	var batch []log.Record
	var arena []byte
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := eng.Append(context.Background(), batch); err != nil {
			return fmt.Errorf("dataconv: appending up to zxid %v to the %s engine in %s: %w", batch[len(batch)-1].Zxid, o.Kind, dst, err)
		}
		batch, arena = batch[:0], arena[:0]
		if o.Progress != nil {
			o.Progress(sum.n, sum.last)
		}
		return nil
	}
	_, err = src.Records(0, func(r logread.Record) error {
		sum.add(r.Zxid, r.Data)
		if len(arena)+len(r.Data) > cap(arena) && len(batch) > 0 {
			// The arena would move: what batch points into must stay.
			if err := flush(); err != nil {
				return err
			}
		}
		if cap(arena) < len(r.Data) {
			arena = make([]byte, 0, max(batchBytes, len(r.Data)))
		}
		off := len(arena)
		arena = append(arena, r.Data...)
		batch = append(batch, log.Record{Zxid: r.Zxid, Data: arena[off:len(arena):len(arena)]})
		if len(batch) >= batchRecords || len(arena) >= batchBytes {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if cerr := eng.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("dataconv: closing the %s engine in %s: %w", o.Kind, dst, cerr)
	}
	if err != nil {
		return nil, err
	}
	res.Records, res.First, res.Last = sum.n, sum.first, sum.last
	return sum, nil
}

// copySnapshots copies each snapshot that reads back whole and ends at
// or before the last record copied (beside a running server a newer one
// may have been written after the log was read).
func copySnapshots(src *logread.DataDir, dst string, res *Result) error {
	snaps, err := src.Snapshots()
	if err != nil {
		return err
	}
	dir := filepath.Join(dst, engine.SnapshotDirName)
	for _, s := range snaps {
		if _, m, err := src.LoadSnapshot(s); err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", s.Name, err))
			continue
		} else if max(m.EndZxid, m.StartZxid) > res.Last {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: ends at %v, after the last record copied (%v)", s.Name, max(m.EndZxid, m.StartZxid), res.Last))
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("dataconv: %w", err)
		}
		if err := copyFileDurably(s.Path, filepath.Join(dir, s.Name)); err != nil {
			return err
		}
		res.Snapshots = append(res.Snapshots, s.Name)
	}
	if len(res.Snapshots) > 0 {
		return vfs.SyncDir(vfs.Default, dir)
	}
	return nil
}

func copyFileDurably(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("dataconv: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("dataconv: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("dataconv: copying %s to %s: %w", from, to, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("dataconv: syncing %s: %w", to, err)
	}
	return out.Close()
}

func writeFileDurably(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("dataconv: %w", err)
	}
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("dataconv: %w", err)
	}
	serr := f.Sync()
	f.Close()
	if serr != nil {
		return fmt.Errorf("dataconv: syncing %s: %w", tmp, serr)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("dataconv: %w", err)
	}
	return vfs.SyncDir(vfs.Default, filepath.Dir(path))
}

// verify reads dst back: its records against the source's digest, and
// the replayed trees at the last zxid.
func verify(src *logread.DataDir, dst, kind string, srcHash *recordHash, res *Result) error {
	d, err := logread.Open(dst, logread.Options{Engine: kind})
	if err != nil {
		return fmt.Errorf("dataconv: verifying %s: %w", dst, err)
	}
	got := newRecordHash()
	if _, err := d.Records(0, func(r logread.Record) error { got.add(r.Zxid, r.Data); return nil }); err != nil {
		return fmt.Errorf("dataconv: verifying %s: reading its log: %w", dst, err)
	}
	if got.n != srcHash.n || got.first != srcHash.first || got.last != srcHash.last || got.h.Sum64() != srcHash.h.Sum64() {
		return fmt.Errorf("dataconv: verifying %s: its log (%d records, %v..%v) differs from what was copied (%d records, %v..%v)",
			dst, got.n, got.first, got.last, srcHash.n, srcHash.first, srcHash.last)
	}
	if res.Records == 0 {
		return nil
	}
	to := logtool.ReplayOptions{To: logtool.Bound{Zxid: res.Last}}
	want, _, err := logtool.Replay(src, to)
	if err != nil {
		return fmt.Errorf("dataconv: verifying: replaying the source to %v: %w", res.Last, err)
	}
	have, _, err := logtool.Replay(d, to)
	if err != nil {
		return fmt.Errorf("dataconv: verifying %s: replaying it to %v: %w", dst, res.Last, err)
	}
	if tree.StateDigest(have) != tree.StateDigest(want) {
		d := tree.FirstDifference(have, want)
		return fmt.Errorf("dataconv: verifying %s: the tree replayed from it at %v differs from the source's: %s", dst, res.Last, d)
	}
	res.Znodes, res.Sessions = have.NodeCount(), len(have.Sessions())
	return nil
}
