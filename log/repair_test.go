package log

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
)

const testAside = "/data/repair-1"

// TestRepairEveryOffset flips a byte at every offset of every segment
// but the last (damage there is corruption, never a torn tail) and, where
// Open refuses the log, repairs it: the records before the damage are
// intact, the log opens and appends again, and the aside directory holds
// exactly the cut bytes.
func TestRepairEveryOffset(t *testing.T) {
	o := Options{SegmentBytes: 90}
	lay := buildLog(t, o, recs(seq(1, 9)...))
	if len(lay.segs) < 3 {
		t.Fatalf("want at least 3 segments, have %d", len(lay.segs))
	}
	repaired := 0
	for seg := 0; seg < len(lay.segs)-1; seg++ {
		data := lay.read(t, seg)
		for off := int64(0); off < int64(len(data)); off++ {
			damaged := bytes.Clone(data)
			damaged[off] ^= 0x10
			fsys := lay.withSegment(t, seg, damaged)
			_, _, openErr := Open(fsys, testDir, o)
			var ce *CorruptionError
			if !errors.As(openErr, &ce) {
				t.Fatalf("seg %d off %d: Open: %v, want corruption", seg, off, openErr)
			}
			rep, err := Repair(fsys, testDir, testAside)
			if err != nil {
				t.Fatalf("seg %d off %d: Repair: %v", seg, off, err)
			}
			repaired++
			if !rep.Repaired || rep.Segment != lay.segs[seg] || rep.KeptZxid != ce.Zxid {
				t.Fatalf("seg %d off %d: report %v for %v", seg, off, rep, ce)
			}
			cut := rep.Offset
			want := lay.recordsBefore(seg, cut)
			if cut == 0 {
				want = lay.recordsBefore(seg, 0)
			}
			// The aside copy is the cut bytes, byte for byte.
			var wantAside, gotAside []byte
			wantAside = append(wantAside, damaged[cut:]...)
			for i := seg + 1; i < len(lay.segs); i++ {
				wantAside = append(wantAside, lay.read(t, i)...)
			}
			for _, n := range rep.AsideFiles {
				b, err := vfs.ReadFile(fsys, filepath.Join(testAside, n))
				if err != nil {
					t.Fatal(err)
				}
				gotAside = append(gotAside, b...)
			}
			if !bytes.Equal(gotAside, wantAside) || rep.CutBytes != int64(len(wantAside)) {
				t.Fatalf("seg %d off %d: aside holds %d bytes, want the %d cut", seg, off, len(gotAside), len(wantAside))
			}
			if _, err := vfs.ReadFile(fsys, filepath.Join(testAside, asideReportName)); err != nil {
				t.Errorf("seg %d off %d: no %s: %v", seg, off, asideReportName, err)
			}
			// Every record after the kept ones that is still whole in the
			// cut bytes is recognized.
			wantLost := 0
			for _, r := range lay.recs {
				p := lay.pos[r.Zxid]
				if r.Zxid > rep.KeptZxid && !(p.seg == seg && p.off <= off && off < p.end) {
					wantLost++
				}
			}
			if rep.LostRecords != wantLost || (wantLost > 0 && rep.LostLast != lay.recs[len(lay.recs)-1].Zxid) {
				t.Errorf("seg %d off %d: recognized %d lost records up to %v, want %d", seg, off, rep.LostRecords, rep.LostLast, wantLost)
			}
			// It survives a crash right after, opens cleanly, and goes on.
			crashed := fsys.CrashClone(vfs.CrashOptions{})
			l, orep, err := Open(crashed, testDir, o)
			if err != nil {
				t.Fatalf("seg %d off %d: Open after Repair: %v (%v)", seg, off, err, rep)
			}
			if got := readAll(t, l, 0); !cmp.Equal(got, want) || orep.TornTail {
				t.Fatalf("seg %d off %d: after Repair (%v): report %v (-want +got):\n%s", seg, off, rep, orep, cmp.Diff(want, got))
			}
			mustAppendSync(t, l, rec(100))
			l.Close()
		}
	}
	if repaired == 0 {
		t.Fatal("nothing repaired")
	}
}

// TestRepairLeavesAGoodLogAlone: a log that opens (a torn tail included)
// is not touched and no aside directory is made.
func TestRepairLeavesAGoodLogAlone(t *testing.T) {
	lay := buildLog(t, Options{SegmentBytes: 90}, recs(seq(1, 9)...))
	last := len(lay.segs) - 1
	data := lay.read(t, last)
	fsys := lay.withSegment(t, last, data[:len(data)-3]) // torn tail
	rep, err := Repair(fsys, testDir, testAside)
	if err != nil || rep.Repaired {
		t.Fatalf("Repair of a log with only a torn tail: %v, %v", rep, err)
	}
	if _, err := fsys.Stat(testAside); !vfs.IsNotExist(err) {
		t.Errorf("aside dir made: %v", err)
	}
	if got, _ := vfs.ReadFile(fsys, lay.path(last)); len(got) != len(data)-3 {
		t.Errorf("Repair changed the log")
	}
}

// TestRepairMiddleRecord is the operator's case, spelled out: a bad
// record in the middle of a middle segment.
func TestRepairMiddleRecord(t *testing.T) {
	o := Options{SegmentBytes: 90}
	lay := buildLog(t, o, recs(seq(1, 9)...))
	p := lay.pos[5] // a middle record of a middle segment
	data := lay.read(t, p.seg)
	data[p.off+FrameHeaderBytes] ^= 0xff // its data
	fsys := lay.withSegment(t, p.seg, data)
	rep, err := Repair(fsys, testDir, testAside)
	if err != nil {
		t.Fatal(err)
	}
	wantFiles := []string{fmt.Sprintf("%s.from-%d", lay.segs[p.seg], p.off)}
	wantFiles = append(wantFiles, lay.segs[p.seg+1:]...)
	if d := cmp.Diff(wantFiles, rep.AsideFiles); d != "" || rep.KeptZxid != 4 || rep.LostFirst != 6 || rep.LostLast != 9 {
		t.Errorf("report %v; aside files (-want +got):\n%s", rep, d)
	}
	l, _ := mustOpen(t, fsys, o)
	defer l.Close()
	if got, want := readAll(t, l, 0), recs(seq(1, 4)...); !cmp.Equal(got, want) {
		t.Errorf("after repair (-want +got):\n%s", cmp.Diff(want, got))
	}
}
