package log

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

// fileSizes maps every file in the log directory to its size.
func fileSizes(t *testing.T, fsys vfs.FS) map[string]int64 {
	t.Helper()
	names, err := fsys.List(testDir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, n := range names {
		fi, err := fsys.Stat(filepath.Join(testDir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = fi.Size()
	}
	return out
}

// waitPrepared waits for the background preparation under way, if any.
func (l *Log) waitPrepared() {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if l.next != nil {
		<-l.next.done
	}
}

// TestPreallocatedSegments checks the on-disk shape with preallocation: the
// active segment is SegmentBytes long with a zero tail, closed segments end
// at their last record, the next segment is prepared under a temporary
// name, Iter sees exactly the records, and reopening neither reports a torn
// tail nor loses anything.
func TestPreallocatedSegments(t *testing.T) {
	fsys := vfs.NewMem()
	o := Options{SegmentBytes: 200, Preallocate: true}
	l, _ := mustOpen(t, fsys, o)
	all := recs(seq(1, 12)...) // 27-byte frames: 7 per segment
	for _, r := range all {
		mustAppendSync(t, l, r)
	}
	l.waitPrepared()
	sizes := fileSizes(t, fsys)
	want := map[string]int64{
		"log.0000000000000001": 24 + 7*27, // 213: cut at the last record when closed
		"log.0000000000000008": 200,       // active: preallocated
		"prealloc.3.tmp":       200,       // the next one, ready (1 and 2 became the segments)
	}
	if d := cmp.Diff(want, sizes); d != "" {
		t.Fatalf("files (-want +got):\n%s", d)
	}
	if got := readAll(t, l, 0); !cmp.Equal(got, all) {
		t.Fatalf("records (-want +got):\n%s", cmp.Diff(all, got))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := fileSizes(t, fsys)["prealloc.2.tmp"]; ok {
		t.Errorf("Close left the prepared segment behind")
	}
	for _, crashed := range []bool{true, false} { // the clone first: the other run appends
		fs2 := vfs.FS(fsys)
		if crashed {
			fs2 = fsys.CrashClone(vfs.CrashOptions{})
		}
		l2, rep := mustOpen(t, fs2, o)
		if rep.TornTail || rep.Records != len(all) {
			t.Errorf("reopen (crashed %v): %v", crashed, rep)
		}
		mustAppendSync(t, l2, rec(13))
		if got, want := readAll(t, l2, 0), recs(seq(1, 13)...); !cmp.Equal(got, want) {
			t.Errorf("after reopen (-want +got):\n%s", cmp.Diff(want, got))
		}
		l2.Close()
	}
}

// TestPreallocatedTornTailEveryOffset writes a preallocated log, then
// crashes after one more unsynced append keeping every possible prefix of
// its bytes (the rest reading as the preallocated zeros), and checks that
// Open keeps exactly the synced records plus the unsynced one if it made it
// whole, and that a partial frame is reported as torn and cut.
func TestPreallocatedTornTailEveryOffset(t *testing.T) {
	o := Options{SegmentBytes: 300, Preallocate: true}
	base := vfs.NewMem()
	l, _ := mustOpen(t, base, o)
	synced := recs(seq(1, 4)...)
	for _, r := range synced {
		mustAppendSync(t, l, r)
	}
	l.Close()
	p := filepath.Join(testDir, SegmentName(1))
	data, err := vfs.ReadFile(base, p)
	if err != nil {
		t.Fatal(err)
	}
	end := int64(SegmentHeaderBytes + 4*27)
	if int64(len(data)) != o.SegmentBytes || !allZero(data[end:]) {
		t.Fatalf("segment is %d bytes, zero tail from %d: %v", len(data), end, allZero(data[end:]))
	}
	frame := appendFrame(nil, rec(5))
	for k := 0; k <= len(frame); k++ {
		for _, flip := range []bool{false, true} {
			if flip && k == 0 {
				continue
			}
			damaged := bytes.Clone(data)
			copy(damaged[end:], frame[:k])
			if flip {
				damaged[end+int64(k)-1] ^= 0x40
			}
			fsys := base.CrashClone(vfs.CrashOptions{})
			fsys.Remove(p)
			if err := vfs.WriteFile(fsys, p, damaged); err != nil {
				t.Fatal(err)
			}
			l, rep, err := Open(fsys, testDir, o)
			if err != nil {
				t.Fatalf("prefix %d flip %v: Open: %v", k, flip, err)
			}
			want := synced
			whole := k == len(frame) && !flip
			if whole {
				want = recs(seq(1, 5)...)
			}
			if got := readAll(t, l, 0); !cmp.Equal(got, want) {
				t.Fatalf("prefix %d flip %v: records (-want +got):\n%s", k, flip, cmp.Diff(want, got))
			}
			// Torn exactly when non-zero bytes of a partial frame remain.
			wantTorn := !whole && !allZero(damaged[end:])
			if rep.TornTail != wantTorn || (wantTorn && rep.TornOffset != end) {
				t.Fatalf("prefix %d flip %v: report %v, want torn %v at %d", k, flip, rep, wantTorn, end)
			}
			// The log goes on from there, preallocated again.
			mustAppendSync(t, l, rec(6))
			l.Close()
			l2, rep2 := mustOpen(t, fsys.CrashClone(vfs.CrashOptions{}), o)
			if rep2.TornTail || rep2.LastZxid != 6 || rep2.Records != len(want)+1 {
				t.Fatalf("prefix %d flip %v: reopen: %v", k, flip, rep2)
			}
			if fi, _ := fsys.Stat(p); fi.Size() != o.SegmentBytes {
				t.Fatalf("prefix %d flip %v: segment is %d bytes after repair, want %d preallocated", k, flip, fi.Size(), o.SegmentBytes)
			}
			l2.Close()
		}
	}
}

// TestPreallocatedCrashes crashes a preallocated log with torn unsynced
// writes at many seeds, across segment rolls: every synced record survives
// and what survives is a prefix.
func TestPreallocatedCrashes(t *testing.T) {
	o := Options{SegmentBytes: 100, BufferBytes: 30, Preallocate: true}
	all := recs(seq(1, 30)...)
	for seed := uint64(0); seed < 150; seed++ {
		fsys := vfs.NewMem()
		l, _ := mustOpen(t, fsys, o)
		nSynced, nUnsynced := 1+int(seed%11), 1+int(seed/11%13)
		for _, r := range all[:nSynced] {
			mustAppendSync(t, l, r)
		}
		if err := l.Append(all[nSynced : nSynced+nUnsynced]...); err != nil {
			t.Fatal(err)
		}
		crashed := fsys.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed})
		l.Close()
		l2, rep, err := Open(crashed, testDir, o)
		if err != nil {
			t.Fatalf("seed %d: Open: %v", seed, err)
		}
		got := readAll(t, l2, 0)
		if len(got) < nSynced || !cmp.Equal(got, all[:len(got)]) {
			t.Fatalf("seed %d (%d synced, %d not): got %d records (%v)", seed, nSynced, nUnsynced, len(got), rep)
		}
		mustAppendSync(t, l2, rec(100))
		l2.Close()
	}
}

// TestOpenRemovesUnusedPreparedSegment: a crash can leave a prepared file
// (no header, zeros); Open removes it and the log works on.
func TestOpenRemovesUnusedPreparedSegment(t *testing.T) {
	fsys := vfs.NewMem()
	o := Options{SegmentBytes: 120, Preallocate: true}
	l, _ := mustOpen(t, fsys, o)
	mustAppendSync(t, l, recs(seq(1, 3)...)...)
	// Crash while the prepared file exists (its directory entry is synced
	// by the roll's directory fsync of a later segment, or not at all:
	// write one durably to be sure the case is covered).
	if err := vfs.WriteFile(fsys, filepath.Join(testDir, "prealloc.9.tmp"), make([]byte, 120)); err != nil {
		t.Fatal(err)
	}
	crashed := fsys.CrashClone(vfs.CrashOptions{})
	l.Close()
	l2, rep := mustOpen(t, crashed, o)
	defer l2.Close()
	if rep.Records != 3 || rep.TornTail {
		t.Errorf("report %v", rep)
	}
	for n := range fileSizes(t, crashed) {
		if n == "prealloc.9.tmp" {
			t.Errorf("Open kept the unused prepared segment")
		}
	}
}

// TestNoSpace fills the disk at each place a write can find it full and
// checks the contract of ErrNoSpace: the failing call says so (matching
// ErrNoSpace and syscall.ENOSPC), it is not sticky, the log is back at the
// last successful Sync (on disk too: the unsynced tail is cut), and once
// space is back the same appends succeed; nothing synced is ever lost, and
// after a crash no failed record reappears.
func TestNoSpace(t *testing.T) {
	enospc := errorfs.ErrNoSpace
	for _, tc := range []struct {
		name string
		o    Options
		rule errorfs.Rule
	}{
		{"write", Options{SegmentBytes: 1 << 10},
			errorfs.Rule{Op: errorfs.OpWrite, PathContains: "log.", Err: enospc}},
		{"torn write", Options{SegmentBytes: 1 << 10},
			errorfs.Rule{Op: errorfs.OpWrite, PathContains: "log.", Torn: true, TornAt: 40, Err: enospc}},
		{"write with small buffer across a roll", Options{SegmentBytes: 100, BufferBytes: 30},
			errorfs.Rule{Op: errorfs.OpWrite, PathContains: "log.", Torn: true, TornAt: 10, Err: enospc}},
		{"segment create", Options{SegmentBytes: 100},
			errorfs.Rule{Op: errorfs.OpCreate, PathContains: "log.", Err: enospc}},
		// SegmentBytes 60 rolls inside a batch: the roll syncs the first
		// records of the batch, which the rollback must cut again.
		{"segment create inside a batch", Options{SegmentBytes: 60},
			errorfs.Rule{Op: errorfs.OpCreate, PathContains: "log.", Err: enospc}},
		{"preallocation inside a batch", Options{SegmentBytes: 60, Preallocate: true},
			errorfs.Rule{Op: errorfs.OpPreallocate, Err: enospc}},
		{"preallocation of the next segment", Options{SegmentBytes: 100, Preallocate: true},
			errorfs.Rule{Op: errorfs.OpPreallocate, Err: enospc}},
		{"preallocation, part of the way", Options{SegmentBytes: 100, Preallocate: true},
			errorfs.Rule{Op: errorfs.OpPreallocate, Torn: true, TornAt: 50, Err: enospc}},
		{"prepared segment create", Options{SegmentBytes: 100, Preallocate: true},
			errorfs.Rule{Op: errorfs.OpCreate, PathContains: "prealloc", Err: enospc}},
		{"rename of the prepared segment", Options{SegmentBytes: 100, Preallocate: true},
			errorfs.Rule{Op: errorfs.OpRename, Err: enospc}},
		{"write in a preallocated log", Options{SegmentBytes: 100, Preallocate: true},
			errorfs.Rule{Op: errorfs.OpWrite, Torn: true, TornAt: 7, Err: enospc}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failures := 0
			defer func() {
				if failures == 0 {
					t.Errorf("the disk never filled up: the rule never fired")
				}
			}()
			for fullAt := 1; fullAt <= 12; fullAt++ {
				mem := vfs.NewMem()
				efs := errorfs.Wrap(mem)
				l, _, err := Open(efs, testDir, tc.o)
				if err != nil {
					t.Fatal(err)
				}
				// Batches of three records; the disk fills before batch
				// fullAt and stays full for two attempts.
				var synced []Record
				z := Zxid(1)
				batch := func() []Record { return recs(z, z+1, z+2) }
				for b := 1; b < fullAt; b++ {
					mustAppendSync(t, l, batch()...)
					synced = append(synced, batch()...)
					z += 3
				}
				efs.Add(tc.rule)
				var failure error
				for try := 0; try < 2; try++ {
					failure = l.Append(batch()...)
					if failure == nil {
						failure = l.Sync()
					}
					if failure == nil {
						break // this layout did not touch the failing op yet
					}
					if !errors.Is(failure, ErrNoSpace) || !errors.Is(failure, syscall.ENOSPC) || errors.Is(failure, ErrSyncFailed) {
						t.Fatalf("full at batch %d: got %v, want ErrNoSpace, not ErrSyncFailed", fullAt, failure)
					}
					if got := l.LastZxid(); got != z-1 {
						t.Fatalf("full at batch %d: LastZxid after ErrNoSpace = %v, want %v", fullAt, got, z-1)
					}
					if got := readAll(t, l, 0); !cmp.Equal(got, synced, cmpopts.EquateEmpty()) {
						t.Fatalf("full at batch %d: records after ErrNoSpace (-want +got):\n%s", fullAt, cmp.Diff(synced, got))
					}
					// What a crash now finds is exactly the synced records:
					// the failed batch's bytes were cut durably.
					l2, rep, err := Open(mem.CrashClone(vfs.CrashOptions{}), testDir, tc.o)
					if err != nil {
						t.Fatalf("full at batch %d: crash-open: %v", fullAt, err)
					}
					if got := readAll(t, l2, 0); !cmp.Equal(got, synced, cmpopts.EquateEmpty()) || rep.TornTail {
						t.Fatalf("full at batch %d: after a crash (%v) (-want +got):\n%s", fullAt, rep, cmp.Diff(synced, got))
					}
					l2.Close()
				}
				if failure == nil {
					// The layout did not reach the failing operation.
					efs.ClearRules()
					l.Close()
					continue
				}
				// Space is back. The failed zxids are never used again
				// (a gap is fine); the next batch succeeds.
				failures++
				efs.ClearRules()
				z += 10
				mustAppendSync(t, l, batch()...)
				synced = append(synced, batch()...)
				if err := l.Close(); err != nil {
					t.Fatal(err)
				}
				for _, fsys := range []vfs.FS{mem, mem.CrashClone(vfs.CrashOptions{})} {
					l2, rep := mustOpen(t, fsys, tc.o)
					if got := readAll(t, l2, 0); !cmp.Equal(got, synced) || rep.TornTail {
						t.Fatalf("full at batch %d: reopen (%v) (-want +got):\n%s", fullAt, rep, cmp.Diff(synced, got))
					}
					l2.Close()
				}
				for n := range fileSizes(t, mem) {
					if strings.HasPrefix(n, prepPrefix) {
						t.Errorf("full at batch %d: %s left behind", fullAt, n)
					}
				}
			}
		})
	}
}
