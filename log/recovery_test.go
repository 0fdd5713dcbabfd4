package log

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"zabd/log/vfs"
	"zabd/log/vfs/errorfs"
)

// layout is a log written to a MemFS and the position of each record.
type layout struct {
	fs   *vfs.MemFS
	recs []Record
	segs []string           // segment names, oldest first
	pos  map[Zxid]recordPos // where each record's frame is
}

type recordPos struct {
	seg      int
	off, end int64
}

// buildLog appends and syncs recs one by one (so segments roll by
// SegmentBytes) and closes the log.
func buildLog(t *testing.T, o Options, rs []Record) *layout {
	t.Helper()
	fsys := vfs.NewMem()
	l, _ := mustOpen(t, fsys, o)
	for _, r := range rs {
		mustAppendSync(t, l, r)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lay := &layout{fs: fsys, recs: rs, pos: map[Zxid]recordPos{}}
	names, err := fsys.List(testDir)
	if err != nil {
		t.Fatal(err)
	}
	lay.segs = names
	for i, n := range names {
		data := lay.read(t, i)
		off := int64(SegmentHeaderBytes)
		for off < int64(len(data)) {
			z, _, sz, fp := decodeFrame(data[off:])
			if fp != frameOK {
				t.Fatalf("building %s: %v at %d", n, fp, off)
			}
			lay.pos[z] = recordPos{seg: i, off: off, end: off + int64(sz)}
			off += int64(sz)
		}
	}
	if len(lay.pos) != len(rs) {
		t.Fatalf("built %d records, found %d", len(rs), len(lay.pos))
	}
	return lay
}

func (lay *layout) path(i int) string { return filepath.Join(testDir, lay.segs[i]) }

func (lay *layout) read(t *testing.T, i int) []byte {
	t.Helper()
	b, err := vfs.ReadFile(lay.fs, lay.path(i))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withSegment returns a copy of the log's filesystem with segment i
// replaced by data.
func (lay *layout) withSegment(t *testing.T, i int, data []byte) *vfs.MemFS {
	t.Helper()
	fsys := lay.fs.CrashClone(vfs.CrashOptions{})
	if err := fsys.Remove(lay.path(i)); err != nil {
		t.Fatal(err)
	}
	if err := vfs.WriteFile(fsys, lay.path(i), data); err != nil {
		t.Fatal(err)
	}
	return fsys
}

// recordsBefore returns the records wholly before offset cut of segment
// seg (and all records of earlier segments).
func (lay *layout) recordsBefore(seg int, cut int64) []Record {
	var out []Record
	for _, r := range lay.recs {
		p := lay.pos[r.Zxid]
		if p.seg < seg || (p.seg == seg && p.end <= cut) {
			out = append(out, r)
		}
	}
	return out
}

var layouts = []struct {
	name string
	o    Options
	n    int
}{
	{"one segment", Options{}, 5},
	{"several segments", Options{SegmentBytes: 90}, 9},
}

// TestTornTailEveryOffset cuts the last segment at every offset, and
// separately zero-fills it from every offset, and checks that Open keeps
// exactly the whole records before the cut and reports the rest (unless
// the rest is all zeros: unwritten space, as preallocation leaves).
func TestTornTailEveryOffset(t *testing.T) {
	for _, ly := range layouts {
		t.Run(ly.name, func(t *testing.T) {
			lay := buildLog(t, ly.o, recs(seq(1, ly.n)...))
			last := len(lay.segs) - 1
			data := lay.read(t, last)
			for _, mode := range []string{"truncate", "zero-fill"} {
				for cut := int64(0); cut < int64(len(data)); cut++ {
					damaged := bytes.Clone(data[:cut])
					if mode == "zero-fill" {
						damaged = append(damaged, make([]byte, int64(len(data))-cut)...)
					}
					fsys := lay.withSegment(t, last, damaged)
					l, rep, err := Open(fsys, testDir, ly.o)
					if err != nil {
						t.Fatalf("%s at %d: Open: %v", mode, cut, err)
					}
					want := lay.recordsBefore(last, cut)
					if got := readAll(t, l, 0); !cmp.Equal(got, want) {
						t.Fatalf("%s at %d: records (-want +got):\n%s", mode, cut, cmp.Diff(want, got))
					}
					wantEnd := int64(SegmentHeaderBytes)
					for _, r := range want {
						if p := lay.pos[r.Zxid]; p.seg == last {
							wantEnd = p.end
						}
					}
					removed := wantEnd == SegmentHeaderBytes
					var wantFirst, wantLast Zxid
					if len(want) > 0 {
						wantFirst, wantLast = want[0].Zxid, want[len(want)-1].Zxid
					}
					wantRep := OpenReport{
						Segments: len(lay.segs), Records: len(want),
						FirstZxid: wantFirst, LastZxid: wantLast,
						TornTail: true, TornSegment: lay.segs[last], TornOffset: wantEnd,
						TornBytes: int64(len(damaged)) - wantEnd, SegmentRemoved: removed,
					}
					if removed {
						wantRep.Segments--
						wantRep.TornOffset, wantRep.TornBytes = 0, int64(len(damaged))
					}
					// Zeros after the last whole record are unwritten
					// (preallocated) space: not torn, and kept.
					if !removed && allZero(damaged[wantEnd:]) {
						wantRep = OpenReport{Segments: wantRep.Segments, Records: len(want),
							FirstZxid: wantRep.FirstZxid, LastZxid: wantRep.LastZxid}
					}
					rep.TornReason = ""
					if d := cmp.Diff(wantRep, rep); d != "" {
						t.Fatalf("%s at %d: report (-want +got):\n%s", mode, cut, d)
					}
					// The cut is durable and the log appendable.
					next := lay.recs[len(lay.recs)-1].Zxid + 1
					mustAppendSync(t, l, rec(next))
					l.Close()
					l2, rep2 := mustOpen(t, fsys.CrashClone(vfs.CrashOptions{}), ly.o)
					if rep2.TornTail || rep2.LastZxid != next || rep2.Records != len(want)+1 {
						t.Fatalf("%s at %d: reopen after repair: %v", mode, cut, rep2)
					}
					l2.Close()
				}
			}
		})
	}
}

// TestFlippedByteEveryOffset flips one byte at every offset of every
// segment: damage in the last record of the last segment is a torn tail;
// anywhere else it is a CorruptionError naming the segment and the offset
// of the damaged header or frame, and Open changes nothing.
func TestFlippedByteEveryOffset(t *testing.T) {
	for _, ly := range layouts {
		t.Run(ly.name, func(t *testing.T) {
			lay := buildLog(t, ly.o, recs(seq(1, ly.n)...))
			lastRec := lay.recs[len(lay.recs)-1]
			lastPos := lay.pos[lastRec.Zxid]
			for seg := range lay.segs {
				data := lay.read(t, seg)
				for off := int64(0); off < int64(len(data)); off++ {
					damaged := bytes.Clone(data)
					damaged[off] ^= 0x10
					fsys := lay.withSegment(t, seg, damaged)
					l, rep, err := Open(fsys, testDir, ly.o)
					if seg == lastPos.seg && off >= lastPos.off {
						if err != nil {
							t.Fatalf("seg %d off %d: Open: %v", seg, off, err)
						}
						if !rep.TornTail || rep.TornOffset != lastPos.off || rep.LastZxid != lastRec.Zxid-1 {
							t.Fatalf("seg %d off %d: want torn tail at %d, got %v", seg, off, lastPos.off, rep)
						}
						l.Close()
						continue
					}
					var ce *CorruptionError
					if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
						t.Fatalf("seg %d off %d: got %v (report %v), want *CorruptionError", seg, off, err, rep)
					}
					wantOff, wantZxid := int64(0), Zxid(0)
					for _, r := range lay.recs {
						p := lay.pos[r.Zxid]
						if p.seg < seg || (p.seg == seg && p.end <= off) {
							wantZxid = r.Zxid
						}
						if p.seg == seg && p.off <= off && off < p.end {
							wantOff = p.off
						}
					}
					want := &CorruptionError{Segment: lay.segs[seg], Offset: wantOff, Zxid: wantZxid, Reason: ce.Reason}
					if d := cmp.Diff(want, ce); d != "" {
						t.Fatalf("seg %d off %d: (-want +got):\n%s", seg, off, d)
					}
					if got, _ := vfs.ReadFile(fsys, lay.path(seg)); !bytes.Equal(got, damaged) {
						t.Fatalf("seg %d off %d: Open changed a corrupt file", seg, off)
					}
				}
			}
		})
	}
}

func TestOpenDamageTable(t *testing.T) {
	lay := buildLog(t, Options{SegmentBytes: 90}, recs(seq(1, 9)...))
	last := len(lay.segs) - 1
	lastData := lay.read(t, last)
	firstData := lay.read(t, 0)
	garbage := []byte("not a frame, just bytes that happen to be here")
	for _, tc := range []struct {
		name        string
		seg         int
		data        []byte
		wantErr     error // nil: opens
		wantRecords int
		wantTorn    bool
	}{
		{"last segment empty file", last, nil, nil, lay.pos[lay.recs[0].Zxid].seg + len(lay.recordsBefore(last, 0)), true},
		{"last segment header only", last, lastData[:SegmentHeaderBytes], nil, len(lay.recordsBefore(last, 0)), true},
		{"last segment torn header", last, lastData[:10], nil, len(lay.recordsBefore(last, 0)), true},
		{"garbage after last record", last, append(bytes.Clone(lastData), garbage...), nil, 9, true},
		{"zeros after last record (unwritten)", last, append(bytes.Clone(lastData), make([]byte, 100)...), nil, 9, false},
		{"zeros then garbage after last record", last, append(append(bytes.Clone(lastData), make([]byte, 100)...), garbage...), nil, 9, true},
		{"garbage then a valid frame", last, append(append(bytes.Clone(lastData), garbage...), appendFrame(nil, rec(100))...), ErrCorrupt, 0, false},
		{"earlier segment with torn tail", 0, firstData[:len(firstData)-3], ErrCorrupt, 0, false},
		{"earlier segment with zero tail", 0, append(bytes.Clone(firstData), make([]byte, 30)...), ErrCorrupt, 0, false},
		{"earlier segment empty", 0, nil, ErrCorrupt, 0, false},
		{"wrong version", 0, func() []byte {
			h := appendSegmentHeader(nil, lay.recs[0].Zxid)
			h[7] = 2
			return fixHeaderSum(h)
		}(), ErrUnsupportedVersion, 0, false},
		{"wrong magic", 0, func() []byte {
			h := appendSegmentHeader(nil, lay.recs[0].Zxid)
			copy(h, "XXXX")
			return fixHeaderSum(h)
		}(), ErrCorrupt, 0, false},
		{"header zxid differs from name", 0, append(appendSegmentHeader(nil, 77), firstData[SegmentHeaderBytes:]...), ErrCorrupt, 0, false},
		{"zxid not increasing", last, append(bytes.Clone(lastData), appendFrame(nil, rec(3))...), ErrCorrupt, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := lay.withSegment(t, tc.seg, tc.data)
			l, rep, err := Open(fsys, testDir, Options{SegmentBytes: 90})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Open: got %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			if rep.Records != tc.wantRecords || rep.TornTail != tc.wantTorn {
				t.Errorf("report %v; want %d records, torn %v", rep, tc.wantRecords, tc.wantTorn)
			}
			if got, want := readAll(t, l, 0), lay.recs[:tc.wantRecords]; !cmp.Equal(got, want) {
				t.Errorf("records (-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}

func fixHeaderSum(h []byte) []byte {
	return appendSegmentHeaderRaw(h[:16])
}

// appendSegmentHeaderRaw recomputes the checksum of header bytes 0..16.
func appendSegmentHeaderRaw(first16 []byte) []byte {
	var b bytes.Buffer
	b.Write(first16)
	sum := frameChecksum(first16, nil)
	var s [8]byte
	for i := range s {
		s[i] = byte(sum >> (56 - 8*i))
	}
	b.Write(s[:])
	return b.Bytes()
}

// TestCrashKeepsSyncedPrefix appends and syncs, appends more without
// syncing, crashes (keeping a seed-chosen torn part of the unsynced bytes)
// and reopens: every synced record survives, and what survives is a prefix
// of what was appended: never a gap.
func TestCrashKeepsSyncedPrefix(t *testing.T) {
	for _, o := range []Options{{}, {SegmentBytes: 100, BufferBytes: 30}} {
		for seed := uint64(0); seed < 200; seed++ {
			fsys := vfs.NewMem()
			l, _ := mustOpen(t, fsys, o)
			nSynced, nUnsynced := 1+int(seed%7), 1+int(seed/7%9)
			all := recs(seq(1, nSynced+nUnsynced)...)
			for _, r := range all[:nSynced] {
				if err := l.Append(r); err != nil {
					t.Fatal(err)
				}
				if seed%2 == 0 {
					if err := l.Sync(); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := l.Sync(); err != nil {
				t.Fatal(err)
			}
			if err := l.Append(all[nSynced:]...); err != nil {
				t.Fatal(err)
			}
			if seed%3 == 0 { // write (not sync) the buffered frames
				l.wmu.Lock()
				if err := l.flush(); err != nil {
					t.Fatal(err)
				}
				l.wmu.Unlock()
			}
			crashed := fsys.CrashClone(vfs.CrashOptions{Torn: true, Seed: seed})
			l2, rep, err := Open(crashed, testDir, o)
			if err != nil {
				t.Fatalf("seed %d (options %+v): Open after crash: %v", seed, o, err)
			}
			got := readAll(t, l2, 0)
			if len(got) < nSynced || !cmp.Equal(got, all[:len(got)], cmpopts.EquateEmpty()) {
				t.Fatalf("seed %d (options %+v): after crash got %d records (report %v), want a prefix of %d with at least %d:\n%s",
					seed, o, len(got), rep, len(all), nSynced, cmp.Diff(all, got))
			}
			l2.Close()
			l.Close()
		}
	}
}

func TestStickyFailure(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule errorfs.Rule
	}{
		{"fsync fails", errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 4}},
		{"write fails", errorfs.Rule{Op: errorfs.OpWrite, PathContains: "log.", Nth: 4}},
		{"torn write", errorfs.Rule{Op: errorfs.OpWrite, PathContains: "log.", Nth: 4, Torn: true, TornAt: 13}},
		// A full disk at write time is not sticky (TestNoSpace); at fsync
		// time it is: the kernel may have dropped the data.
		{"fsync finds the disk full", errorfs.Rule{Op: errorfs.OpSync, PathContains: "log.", Nth: 4, Err: errorfs.ErrNoSpace}},
		{"segment create fails", errorfs.Rule{Op: errorfs.OpCreate, Nth: 2}},
		{"dir fsync on roll fails", errorfs.Rule{Op: errorfs.OpSync, PathContains: "data/log", Nth: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			efs := errorfs.Wrap(mem, tc.rule)
			o := Options{SegmentBytes: 60}
			l, _, err := Open(efs, testDir, o)
			if err != nil {
				t.Fatal(err)
			}
			var synced []Record
			var failure error
			for z := Zxid(1); z <= 10 && failure == nil; z++ {
				if failure = l.Append(rec(z)); failure == nil {
					if failure = l.Sync(); failure == nil {
						synced = append(synced, rec(z))
					}
				}
			}
			if failure == nil || efs.Injected() != 1 {
				t.Fatalf("no failure surfaced (injected %d)", efs.Injected())
			}
			wantCause := tc.rule.Err
			if wantCause == nil {
				wantCause = errorfs.ErrInjected
			}
			if !errors.Is(failure, ErrSyncFailed) || !errors.Is(failure, wantCause) {
				t.Fatalf("failure %v: want ErrSyncFailed wrapping %v", failure, wantCause)
			}
			// Sticky: everything on the write side keeps failing.
			for name, err := range map[string]error{
				"Append":        l.Append(rec(100)),
				"Sync":          l.Sync(),
				"TruncateAfter": l.TruncateAfter(1),
				"PurgeBefore":   l.PurgeBefore(5),
			} {
				if !errors.Is(err, ErrSyncFailed) {
					t.Errorf("%s after failure: got %v, want ErrSyncFailed", name, err)
				}
			}
			if got, want := l.SyncedZxid(), Zxid(len(synced)); got != want {
				t.Errorf("SyncedZxid = %v, want %v", got, want)
			}
			if got := readAll(t, l, 0); !cmp.Equal(got, synced) {
				t.Errorf("Iter after failure (-want +got):\n%s", cmp.Diff(synced, got))
			}
			l.Close()
			// Reopening the same disk (no crash) and after a crash both
			// recover at least every synced record, as a prefix.
			for _, fsys := range []vfs.FS{mem, mem.CrashClone(vfs.CrashOptions{})} {
				l2, rep, err := Open(fsys, testDir, o)
				if err != nil {
					t.Fatalf("reopen: %v", err)
				}
				got := readAll(t, l2, 0)
				all := recs(seq(1, 10)...)
				if len(got) < len(synced) || !cmp.Equal(got, all[:len(got)], cmpopts.EquateEmpty()) {
					t.Errorf("reopen (report %v): got %v, want a prefix holding %d synced", rep, got, len(synced))
				}
				l2.Close()
			}
		})
	}
}

func TestTruncateAfterAndPurgeBefore(t *testing.T) {
	all := recs(seq(1, 30)...)
	const none = -1
	for _, tc := range []struct {
		name     string
		purge    Zxid  // 0: none
		truncate int64 // none: no TruncateAfter
		wantLast Zxid
	}{
		{"truncate in last segment", 0, 29, 29},
		{"truncate in a middle segment", 0, 14, 14},
		{"truncate in first segment", 0, 2, 2},
		{"truncate everything", 0, 0, 0},
		{"truncate past end", 0, 40, 30},
		{"purge some", 11, none, 30},
		{"purge at a segment's first zxid", 0, none, 30}, // purge set below from the layout
		{"purge all but last segment", 1000, none, 30},
		{"purge then truncate below what is kept", 15, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{SegmentBytes: 120}
			lay := buildLog(t, o, all)
			if len(lay.segs) < 4 {
				t.Fatalf("want at least 4 segments, got %v", lay.segs)
			}
			purge := tc.purge
			if tc.name == "purge at a segment's first zxid" {
				purge, _ = ParseSegmentName(lay.segs[2])
			}
			// PurgeBefore(p) keeps the segment holding p-1 (if any) and
			// everything after it: the newest segment starting at or
			// below p, and always the last one.
			wantFirst := all[0].Zxid
			for _, n := range lay.segs {
				if z, _ := ParseSegmentName(n); purge != 0 && z <= purge {
					wantFirst = z
				}
			}
			l, _ := mustOpen(t, lay.fs, o)
			if purge != 0 {
				if err := l.PurgeBefore(purge); err != nil {
					t.Fatal(err)
				}
			}
			if tc.truncate != none {
				if err := l.TruncateAfter(Zxid(tc.truncate)); err != nil {
					t.Fatal(err)
				}
			}
			check := func(l *Log, when string) {
				t.Helper()
				if l.LastZxid() != tc.wantLast || l.SyncedZxid() != tc.wantLast {
					t.Errorf("%s: LastZxid %v SyncedZxid %v, want %v", when, l.LastZxid(), l.SyncedZxid(), tc.wantLast)
				}
				var want []Record
				if tc.wantLast != 0 {
					want = all[wantFirst-1 : tc.wantLast]
					if got := l.FirstZxid(); got != wantFirst {
						t.Errorf("%s: FirstZxid %v, want %v", when, got, wantFirst)
					}
				}
				if got := readAll(t, l, 0); !cmp.Equal(got, want) {
					t.Errorf("%s: records (-want +got):\n%s", when, cmp.Diff(want, got))
				}
			}
			check(l, "after")
			// The log stays appendable after the new end.
			mustAppendSync(t, l, rec(tc.wantLast+100))
			if err := l.TruncateAfter(tc.wantLast); err != nil {
				t.Fatal(err)
			}
			l.Close()
			l2, rep := mustOpen(t, lay.fs.CrashClone(vfs.CrashOptions{}), o)
			if rep.TornTail {
				t.Errorf("reopen found a torn tail: %v", rep)
			}
			check(l2, "after crash and reopen")
			l2.Close()
		})
	}
}

func TestReadOnly(t *testing.T) {
	lay := buildLog(t, Options{}, recs(seq(1, 3)...))
	data := lay.read(t, 0)
	damaged := append(bytes.Clone(data), 1, 2, 3)
	fsys := lay.withSegment(t, 0, damaged)
	l, rep, err := Open(fsys, testDir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.TornTail || rep.TornBytes != 3 {
		t.Errorf("report %v, want a 3-byte torn tail", rep)
	}
	if got := readAll(t, l, 0); len(got) != 3 {
		t.Errorf("got %d records, want 3", len(got))
	}
	if err := l.Append(rec(4)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append: got %v, want ErrReadOnly", err)
	}
	if got, _ := vfs.ReadFile(fsys, lay.path(0)); !bytes.Equal(got, damaged) {
		t.Errorf("read-only Open changed the file")
	}
	if _, _, err := Open(vfs.NewMem(), "/missing", Options{ReadOnly: true}); err == nil {
		t.Errorf("read-only Open of a missing dir succeeded")
	}
}

// TestIterConcurrentWithAppend runs readers against a writer; each reader
// must see a prefix of the appended records (under -race this also checks
// the locking).
func TestIterConcurrentWithAppend(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := mustOpen(t, fsys, Options{SegmentBytes: 200})
	all := recs(seq(1, 200)...)
	done := make(chan error, 1)
	go func() {
		for _, r := range all {
			if err := l.Append(r); err != nil {
				done <- err
				return
			}
			if err := l.Sync(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < 50; i++ {
		got := readAll(t, l, 0)
		if !cmp.Equal(got, all[:len(got)], cmpopts.EquateEmpty()) {
			t.Fatalf("reader saw a non-prefix of %d records", len(got))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, l, 0); len(got) != len(all) {
		t.Fatalf("final read %d records, want %d", len(got), len(all))
	}
}

// TestOpenCraftedTailIsBounded: a tail crafted so that nearly every offset
// declares a large plausible frame must not make Open quadratic; it cannot
// be proven torn, so it is reported as corruption.
func TestOpenCraftedTailIsBounded(t *testing.T) {
	lay := buildLog(t, Options{}, recs(seq(1, 2)...))
	data := lay.read(t, 0)
	tail := bytes.Repeat([]byte{0x00, 0x07}, 1<<20)
	fsys := lay.withSegment(t, 0, append(bytes.Clone(data), tail...))
	_, _, err := Open(fsys, testDir, Options{})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open: got %v, want ErrCorrupt", err)
	}
}
