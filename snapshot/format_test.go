package snapshot

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/tree"
)

var update = flag.Bool("update", false, "rewrite testdata/format/v3 (the current version) and the current version's fuzz seeds")

// goldenDir holds one golden snapshot of a format version ever written,
// with a readable dump of what it reads as. Only the current version's is
// rewritten by -update; older ones are frozen bytes.
func goldenDir(version int) string { return fmt.Sprintf("testdata/format/v%d", version) }

// goldenTime stamps every golden snapshot.
func goldenTime() time.Time { return time.UnixMilli(1_700_000_000_123) }

// goldenSnapshot writes the current version's golden snapshot: the
// everyKind tree in chunks of 3 nodes, with txns applied during the walk
// (before its second chunk: a setData on /ttl and a create of /zz, both
// ahead of the walk), so that it is fuzzy and its end zxid is its start
// zxid + 2.
func goldenSnapshot(t testing.TB) ([]byte, Meta) {
	return goldenSnapshotWith(t, 0)
}

// goldenSnapshotWith is goldenSnapshot stored with codec (0: the default).
func goldenSnapshotWith(t testing.TB, codec Codec) ([]byte, Meta) {
	d := everyKindDriver(t)
	calls := 0
	src := func(fn func(*tree.Tree)) {
		calls++
		if calls == 2 {
			d.must(0x11, tree.Request{Op: tree.OpSetData, Path: "/ttl", Data: []byte("walked"), Version: -1})
			d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/zz", Data: []byte("late"), ACL: tree.OpenACLUnsafe})
		}
		fn(d.tr)
	}
	var buf bytes.Buffer
	m, err := Write(&buf, src, Options{ChunkNodes: 3, Codec: codec, Now: goldenTime})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), m
}

// describe is the golden dump of what a snapshot reads as. Frozen for
// version 1 (its describe.txt); the end zxid appears from version 2 on.
func describe(tr *tree.Tree, m Meta) string {
	end := ""
	if m.EndKnown() {
		end = fmt.Sprintf(" end=%v", m.EndZxid)
	}
	return fmt.Sprintf("start=%v%s time=%d nodes=%d sessions=%d raw=%d\n%s",
		m.StartZxid, end, m.Time.UnixMilli(), m.Nodes, m.Sessions, m.RawBytes, tr.DescribeTree())
}

// TestGolden holds the reader to every version's golden file, and the
// writer to the current version's and, for zstd, to version 2's (what
// servers from before version 3 read): its header, decompressed body and
// trailer must equal the golden file's byte for byte (the compressed bytes
// may change with the compression library; the rest may not).
func TestGolden(t *testing.T) {
	for _, version := range []int{Version1, Version2, Version3} {
		t.Run(fmt.Sprint("v", version), func(t *testing.T) {
			dir := goldenDir(version)
			descName := filepath.Join(dir, "describe.txt")
			var written []byte
			if version == Version2 {
				written, _ = goldenSnapshotWith(t, CodecZstd)
			}
			if version == Version {
				file, meta := goldenSnapshot(t)
				written = file
				if *update {
					got, gm, err := Read(bytes.NewReader(file), tree.Config{ExtendedTypesEnabled: true})
					if err != nil {
						t.Fatal(err)
					}
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					old, _ := filepath.Glob(filepath.Join(dir, "snapshot.*"))
					for _, o := range old {
						os.Remove(o)
					}
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("snapshot.%016x", uint64(meta.StartZxid))), file, 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(descName, []byte(describe(got, gm)), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			names, err := filepath.Glob(filepath.Join(dir, "snapshot.*"))
			if err != nil || len(names) != 1 {
				t.Fatalf("golden files in %s: %v %v, want one (run with -update to create the current version's)", dir, names, err)
			}
			name := names[0]
			golden, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			wantDesc, err := os.ReadFile(descName)
			if err != nil {
				t.Fatal(err)
			}
			got, gm, err := Read(bytes.NewReader(golden), tree.Config{ExtendedTypesEnabled: true})
			if err != nil {
				t.Fatalf("reading %s: %v", name, err)
			}
			if diff := cmp.Diff(string(wantDesc), describe(got, gm)); diff != "" {
				t.Errorf("%s reads differently from %s (-want +got):\n%s", name, descName, diff)
			}
			if gm.Version != version || gm.EndKnown() != (version >= Version2) || gm.Bytes != int64(len(golden)) {
				t.Errorf("%s: got version %d, end known %v, %d bytes; want version %d, end known %v, %d bytes",
					name, gm.Version, gm.EndKnown(), gm.Bytes, version, version >= Version2, len(golden))
			}
			rm, err := ReadMeta(bytes.NewReader(golden), int64(len(golden)))
			if err != nil {
				t.Fatalf("ReadMeta %s: %v", name, err)
			}
			if want := (Meta{Version: gm.Version, Codec: gm.Codec, StartZxid: gm.StartZxid, EndZxid: gm.EndZxid, Time: gm.Time, Bytes: gm.Bytes}); !cmp.Equal(want, rm) {
				t.Errorf("ReadMeta %s (-from Read +ReadMeta):\n%s", name, cmp.Diff(want, rm))
			}
			gh, graw := decompressed(t, golden)
			if written != nil {
				wh, wraw := decompressed(t, written)
				if !bytes.Equal(gh, wh) || !bytes.Equal(graw, wraw) || !bytes.Equal(trailer(golden), trailer(written)) {
					t.Errorf("the writer's content differs from %s: header %x vs %x, body %d vs %d bytes, trailer %x vs %x",
						name, wh, gh, len(wraw), len(graw), trailer(written), trailer(golden))
				}
				return
			}
			// An older version: its body is laid out as the current
			// version's; only the checksum, which covers the header
			// (and from version 3 on the codec byte), differs. Version
			// 1's golden file was written before the golden walk took
			// txns between its chunks.
			file, _ := goldenSnapshot(t)
			if version == Version1 {
				file, _ = writeBytes(t, everyKind(t), Options{ChunkNodes: 3, Now: goldenTime})
			}
			_, wraw := decompressed(t, file)
			if !bytes.Equal(graw[:len(graw)-8], wraw[:len(wraw)-8]) {
				t.Errorf("the body of %s and the current writer's for the same tree differ before the checksum (%d vs %d bytes)", name, len(graw), len(wraw))
			}
		})
	}
}

// fuzzSeeds are the current version's committed seed corpus of
// FuzzSnapshotRead, named "v3-...". The "v2-..." seeds in the corpus were
// written before version 3 existed and the unprefixed ones before version
// 2; they stay, frozen, so that the fuzzer keeps starting from every
// layout.
func fuzzSeeds(t testing.TB) map[string][]byte {
	good, _ := goldenSnapshot(t)
	hdr, raw := decompressed(t, good)
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x20
		return b
	}
	small, _ := writeBytes(t, tree.New(tree.Config{}), Options{Now: func() time.Time { return time.UnixMilli(0) }})
	otherHdr := appendHeader(nil, Version, 7, 0)
	withCodec := func(c Codec) []byte {
		p := bytes.Clone(hdr)
		p[HeaderBytes] = byte(c)
		return assemble(t, p, seal(p, raw[:len(raw)-8]))
	}
	seeds := map[string][]byte{
		"golden":               good,
		"empty-tree":           small,
		"header-only":          good[:HeaderBytes],
		"torn-header":          good[:HeaderBytes-3],
		"torn-body":            good[:len(good)/2],
		"torn-trailer":         good[:len(good)-5],
		"no-trailer":           good[:len(good)-TrailerBytes],
		"flip-header":          flip(good, 9),
		"flip-body":            flip(good, len(good)-TrailerBytes-20),
		"flip-checksum":        assemble(t, hdr, flip(raw, len(raw)-2)),
		"flip-trailer-end":     flip(good, len(good)-TrailerBytes+7),
		"flip-trailer-sum":     flip(good, len(good)-1),
		"other-header-trailer": withTrailer(good, appendTrailer(nil, otherHdr, 9)),
		"end-before-start":     withTrailer(good, appendTrailer(nil, hdr[:HeaderBytes], 1)),
		"raw-uncompressed":     append(bytes.Clone(hdr), raw...),
		"codec-none":           withCodec(CodecNone),
		"codec-zstd":           withCodec(CodecZstd),
		"codec-unknown":        flip(good, HeaderBytes),
		"trailing-garbage":     append(bytes.Clone(good), 1, 2, 3),
		"zero-tail":            append(bytes.Clone(good), make([]byte, 32)...),
		"body-without-end":     assemble(t, hdr, raw[:len(raw)-20]),
		"big-data-length":      assemble(t, hdr, seal(hdr, []byte{tagNode, 1, '/', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x1f})),
		"sessions-and-root":    assemble(t, hdr, seal(hdr, []byte{tagSession, 2, 4}, nodeRec("/", tree.KindPersistent), endRec(1, 1))),
	}
	out := make(map[string][]byte, len(seeds))
	for name, b := range seeds {
		out[fmt.Sprintf("v%d-%s", Version, name)] = b
	}
	return out
}

// TestFuzzSeedCorpus writes (with -update) and checks the committed seed
// corpus of FuzzSnapshotRead.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := "testdata/fuzz/FuzzSnapshotRead"
	for name, b := range fuzzSeeds(t) {
		p := filepath.Join(dir, name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("seed %s missing (run with -update): %v", name, err)
		}
	}
}

// FuzzSnapshotRead: Read and ReadMeta never panic and fail only with a
// *CorruptError; ReadMeta agrees with whatever Read accepts, and that
// writes back and reads again to the same tree.
func FuzzSnapshotRead(f *testing.F) {
	golden, err := filepath.Glob("testdata/format/v*/snapshot.*")
	if err != nil {
		f.Fatal(err)
	}
	for _, g := range golden {
		b, err := os.ReadFile(g)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rm, merr := ReadMeta(bytes.NewReader(data), int64(len(data)))
		if merr != nil && !errors.Is(merr, ErrCorrupt) {
			t.Fatalf("ReadMeta: error is not a corruption error: %v", merr)
		}
		tr, meta, err := Read(bytes.NewReader(data), tree.Config{ExtendedTypesEnabled: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error is not a corruption error: %v", err)
			}
			return
		}
		if merr != nil {
			t.Fatalf("Read accepts what ReadMeta refuses: %v", merr)
		}
		if rm.Version != meta.Version || rm.StartZxid != meta.StartZxid || rm.EndZxid != meta.EndZxid || rm.Bytes != meta.Bytes {
			t.Fatalf("ReadMeta %+v disagrees with Read %+v", rm, meta)
		}
		if meta.EndKnown() && meta.EndZxid < meta.StartZxid {
			t.Fatalf("read end zxid %v before start zxid %v", meta.EndZxid, meta.StartZxid)
		}
		again, meta2 := writeBytes(t, tr, Options{Now: func() time.Time { return meta.Time }})
		tr2, _, err := Read(bytes.NewReader(again), tree.Config{ExtendedTypesEnabled: true})
		if err != nil {
			t.Fatalf("rewritten snapshot does not read: %v", err)
		}
		if meta2.StartZxid != meta.StartZxid || tr2.DescribeTree() != tr.DescribeTree() {
			t.Fatalf("round trip changed the tree:\n%s", cmp.Diff(tr.DescribeTree(), tr2.DescribeTree()))
		}
	})
}
