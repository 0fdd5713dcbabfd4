package log

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log/vfs"
)

var update = flag.Bool("update", false, "rewrite golden files of the current format version")

// goldenRecords are the records of testdata/format/v1. Changing them
// changes the golden files: format v1 is frozen, so don't.
var goldenRecords = []Record{
	{Zxid: MakeZxid(1, 1), Data: []byte("create /a")},
	{Zxid: MakeZxid(1, 2), Data: []byte{}},
	{Zxid: MakeZxid(1, 3), Data: []byte{0x00, 0x01, 0xfe, 0xff}},
	{Zxid: MakeZxid(2, 1), Data: []byte("setData /a v=1")},
}

const goldenDir = "testdata/format/v1"

func TestGoldenFormatV1(t *testing.T) {
	fsys := vfs.NewMem()
	l, _ := mustOpen(t, fsys, Options{})
	mustAppendSync(t, l, goldenRecords...)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	name := SegmentName(goldenRecords[0].Zxid)
	got, err := vfs.ReadFile(fsys, filepath.Join(testDir, name))
	if err != nil {
		t.Fatal(err)
	}
	var desc strings.Builder
	if err := Describe(&desc, name, got); err != nil {
		t.Fatal(err)
	}
	goldenLog := filepath.Join(goldenDir, name)
	goldenDesc := filepath.Join(goldenDir, "describe.txt")
	if *update {
		if err := os.WriteFile(goldenLog, got, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenDesc, []byte(desc.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenLog)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("writer output differs from %s:\ngot  %x\nwant %x", goldenLog, got, want)
	}
	wantDesc, err := os.ReadFile(goldenDesc)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(wantDesc), desc.String()); d != "" {
		t.Errorf("describe differs from %s (-want +got):\n%s", goldenDesc, d)
	}
}

// TestReadEveryGoldenVersion opens the golden log of every format version
// ever shipped and reads its records back.
func TestReadEveryGoldenVersion(t *testing.T) {
	versions, err := filepath.Glob("testdata/format/v*")
	if err != nil || len(versions) == 0 {
		t.Fatalf("no golden versions: %v", err)
	}
	for _, v := range versions {
		t.Run(filepath.Base(v), func(t *testing.T) {
			fsys := vfs.NewMem()
			if err := fsys.MkdirAll(testDir, 0o755); err != nil {
				t.Fatal(err)
			}
			ents, err := os.ReadDir(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if _, ok := ParseSegmentName(e.Name()); !ok {
					continue
				}
				b, err := os.ReadFile(filepath.Join(v, e.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if err := vfs.WriteFile(fsys, filepath.Join(testDir, e.Name()), b); err != nil {
					t.Fatal(err)
				}
			}
			l, rep := mustOpen(t, fsys, Options{ReadOnly: true})
			if rep.TornTail || rep.Records != len(goldenRecords) {
				t.Errorf("open report: %v", rep)
			}
			if got := readAll(t, l, 0); !cmp.Equal(got, goldenRecords) {
				t.Errorf("records (-want +got):\n%s", cmp.Diff(goldenRecords, got))
			}
		})
	}
}

func TestDecodeFrame(t *testing.T) {
	good := appendFrame(nil, Record{Zxid: 0x100000007, Data: []byte("payload")})
	flip := func(i int, mask byte) []byte { b := bytes.Clone(good); b[i] ^= mask; return b }
	for _, tc := range []struct {
		name     string
		in       []byte
		want     frameProblem
		wantZxid Zxid
		wantData string
		wantSize int
	}{
		{"good", good, frameOK, 0x100000007, "payload", len(good)},
		{"good with trailing bytes", append(bytes.Clone(good), 1, 2, 3), frameOK, 0x100000007, "payload", len(good)},
		{"empty", nil, frameZero, 0, "", 0},
		{"short header", good[:10], frameShort, 0, "", 0},
		{"short data", good[:len(good)-1], frameShort, 0, "", 0},
		{"zero-filled header", make([]byte, 40), frameZero, 0, "", 0},
		{"zero-filled partial header", make([]byte, 7), frameZero, 0, "", 0},
		{"flipped length, shorter", flip(3, 0x01), frameBadChecksum, 0, "", 0},
		{"flipped length, past the end", flip(3, 0x40), frameShort, 0, "", 0},
		{"flipped zxid", flip(10, 0x40), frameBadChecksum, 0, "", 0},
		{"flipped checksum", flip(15, 0x40), frameBadChecksum, 0, "", 0},
		{"flipped data", flip(22, 0x40), frameBadChecksum, 0, "", 0},
		{"length too large", append([]byte{0xff, 0xff, 0xff, 0xff}, good[4:]...), frameTooLarge, 0, "", 0},
		{"zero zxid", appendFrame(nil, Record{Zxid: 0, Data: []byte("x")}), frameZeroZxid, 0, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z, d, n, got := decodeFrame(tc.in)
			if got != tc.want || z != tc.wantZxid || string(d) != tc.wantData || n != tc.wantSize {
				t.Errorf("decodeFrame = (%v, %q, %d, %v), want (%v, %q, %d, %v)",
					z, d, n, got, tc.wantZxid, tc.wantData, tc.wantSize, tc.want)
			}
		})
	}
}

func TestSegmentName(t *testing.T) {
	for _, tc := range []struct {
		name   string
		want   Zxid
		wantOK bool
	}{
		{"log.0000000100000001", 0x100000001, true},
		{"log.ffffffffffffffff", 0xffffffffffffffff, true},
		{"log.0000000000000000", 0, false}, // zxid 0 is never a record
		{"log.00000001000000011", 0, false},
		{"log.000000010000000", 0, false},
		{"log.00000001000000AB", 0, false}, // names are lower case
		{"log.000000010000000g", 0, false},
		{"snap.0000000100000001", 0, false},
		{"log.0000000100000001.tmp", 0, false},
	} {
		got, ok := ParseSegmentName(tc.name)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseSegmentName(%q) = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
		if ok && SegmentName(got) != tc.name {
			t.Errorf("SegmentName(%v) = %q, want %q", got, SegmentName(got), tc.name)
		}
	}
}

func TestZxid(t *testing.T) {
	for _, tc := range []struct {
		z              Zxid
		epoch, counter uint32
		str            string
	}{
		{0, 0, 0, "0x0"},
		{MakeZxid(1, 3), 1, 3, "0x100000003"},
		{MakeZxid(0xffffffff, 0xffffffff), 0xffffffff, 0xffffffff, "0xffffffffffffffff"},
	} {
		if tc.z.Epoch() != tc.epoch || tc.z.Counter() != tc.counter || tc.z.String() != tc.str {
			t.Errorf("%#x: got epoch %d counter %d %q, want %d %d %q",
				uint64(tc.z), tc.z.Epoch(), tc.z.Counter(), tc.z.String(), tc.epoch, tc.counter, tc.str)
		}
	}
}
