package log

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
)

// scanAll runs Scan and returns the records it handed out (Data copied)
// with their positions.
func scanAll(t *testing.T, fsys vfs.FS, o ScanOptions) ([]ScannedRecord, OpenReport, error) {
	t.Helper()
	var out []ScannedRecord
	rep, err := Scan(fsys, testDir, o, func(r ScannedRecord) error {
		r.Data = bytes.Clone(r.Data)
		out = append(out, r)
		return nil
	})
	return out, rep, err
}

// TestScanAgreesWithOpen damages every segment of a log at every offset,
// by flipping a byte and by cutting the file there, and checks that Scan
// judges it as a read-only Open does (the same *CorruptionError, or the
// same torn tail), hands out exactly the records before the damage with
// their segment and offset, and changes no file.
func TestScanAgreesWithOpen(t *testing.T) {
	for _, ly := range layouts {
		t.Run(ly.name, func(t *testing.T) {
			lay := buildLog(t, ly.o, recs(seq(1, ly.n)...))
			for seg := range lay.segs {
				data := lay.read(t, seg)
				for off := int64(0); off < int64(len(data)); off++ {
					for _, mode := range []string{"flip", "cut"} {
						damaged := bytes.Clone(data)
						if mode == "flip" {
							damaged[off] ^= 0x10
						} else {
							damaged = damaged[:off]
						}
						fsys := lay.withSegment(t, seg, damaged)
						before := fsys.CrashClone(vfs.CrashOptions{})
						l, openRep, openErr := Open(fsys, testDir, Options{ReadOnly: true})
						got, rep, err := scanAll(t, fsys, ScanOptions{})
						if d := cmp.Diff(errString(openErr), errString(err)); d != "" {
							t.Fatalf("%s at %d of segment %d: error (-open +scan):\n%s", mode, off, seg, d)
						}
						// Scan hands out what Open's iterator would, or,
						// past damage, every record up to the last good.
						var wantRecs []Record
						var cerr *CorruptionError
						if errors.As(openErr, &cerr) {
							for _, r := range lay.recs {
								if r.Zxid <= cerr.Zxid {
									wantRecs = append(wantRecs, r)
								}
							}
						} else if openErr == nil {
							wantRecs = readAll(t, l, 0)
							l.Close()
						}
						var want []ScannedRecord
						for _, r := range wantRecs {
							p := lay.pos[r.Zxid]
							want = append(want, ScannedRecord{Record: r, Segment: lay.segs[p.seg], Offset: p.off})
						}
						if err == nil {
							rep.Segments, openRep.Segments = 0, 0 // Open drops a removed segment from its count
							// Open's FirstZxid is the first segment's name,
							// Scan's the first record it found: they differ
							// for a closed segment that holds no record.
							if len(want) > 0 && rep.FirstZxid != want[0].Zxid {
								t.Fatalf("%s at %d of segment %d: FirstZxid %v, want %v", mode, off, seg, rep.FirstZxid, want[0].Zxid)
							}
							rep.FirstZxid, openRep.FirstZxid = 0, 0
							if d := cmp.Diff(openRep, rep); d != "" {
								t.Fatalf("%s at %d of segment %d: report (-open +scan):\n%s", mode, off, seg, d)
							}
						}
						if d := cmp.Diff(want, got); d != "" {
							t.Fatalf("%s at %d of segment %d: records (-want +got):\n%s", mode, off, seg, d)
						}
						assertSameFiles(t, before, fsys)
					}
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// assertSameFiles checks that fsys holds the same files with the same
// bytes as before.
func assertSameFiles(t *testing.T, before, after vfs.FS) {
	t.Helper()
	bn, _ := before.List(testDir)
	an, _ := after.List(testDir)
	if d := cmp.Diff(bn, an); d != "" {
		t.Fatalf("files changed (-before +after):\n%s", d)
	}
	for _, n := range bn {
		b, _ := vfs.ReadFile(before, testDir+"/"+n)
		a, _ := vfs.ReadFile(after, testDir+"/"+n)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s changed", n)
		}
	}
}

// TestScanFrom checks that From skips the segments wholly below it and
// hands out the rest, and that fn's error stops the scan as it is.
func TestScanFrom(t *testing.T) {
	lay := buildLog(t, Options{SegmentBytes: 90}, recs(seq(1, 9)...))
	if len(lay.segs) < 3 {
		t.Fatalf("want several segments, have %v", lay.segs)
	}
	from := lay.recs[5].Zxid
	got, _, err := scanAll(t, lay.fs, ScanOptions{From: from})
	if err != nil {
		t.Fatal(err)
	}
	startSeg := lay.pos[from].seg
	firstOfSeg, _ := ParseSegmentName(lay.segs[startSeg])
	if got[0].Zxid != firstOfSeg || got[len(got)-1].Zxid != lay.recs[8].Zxid {
		t.Errorf("from %v: handed out %v..%v, want %v..%v", from, got[0].Zxid, got[len(got)-1].Zxid, firstOfSeg, lay.recs[8].Zxid)
	}
	stop := errors.New("stop")
	n := 0
	_, err = Scan(lay.fs, testDir, ScanOptions{}, func(ScannedRecord) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if err != stop || n != 3 {
		t.Errorf("fn's error: got %v after %d records, want stop after 3", err, n)
	}
}
