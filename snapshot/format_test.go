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

var update = flag.Bool("update", false, "rewrite testdata/format/v1 (the current version) and the fuzz seed corpus")

const goldenDir = "testdata/format/v1"

// goldenTree is the tree behind the version 1 golden file.
func goldenTree(t testing.TB) *tree.Tree { return everyKind(t) }

func describe(tr *tree.Tree, m Meta) string {
	return fmt.Sprintf("start=%v time=%d nodes=%d sessions=%d raw=%d\n%s",
		m.StartZxid, m.Time.UnixMilli(), m.Nodes, m.Sessions, m.RawBytes, tr.DescribeTree())
}

// TestGoldenV1 holds the reader to the version 1 golden file and the
// writer to its content: the writer's decompressed output must equal the
// golden file's byte for byte (the compressed bytes may change with the
// zstd library; the content may not).
func TestGoldenV1(t *testing.T) {
	tr := goldenTree(t)
	file, meta := writeBytes(t, tr, Options{ChunkNodes: 3, Now: func() time.Time { return time.UnixMilli(1_700_000_000_123) }})
	name := filepath.Join(goldenDir, "snapshot."+fmt.Sprintf("%016x", uint64(meta.StartZxid)))
	descName := filepath.Join(goldenDir, "describe.txt")
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, file, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(descName, []byte(describe(tr, meta)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden, err := os.ReadFile(name)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	wantDesc, err := os.ReadFile(descName)
	if err != nil {
		t.Fatal(err)
	}
	got, gm, err := Read(bytes.NewReader(golden), tr.Config())
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if diff := cmp.Diff(string(wantDesc), describe(got, gm)); diff != "" {
		t.Errorf("%s reads differently from %s (-want +got):\n%s", name, descName, diff)
	}
	gh, graw := decompressed(t, golden)
	wh, wraw := decompressed(t, file)
	if !bytes.Equal(gh, wh) || !bytes.Equal(graw, wraw) {
		t.Errorf("the writer's content differs from %s: header %x vs %x, body %d vs %d bytes", name, wh, gh, len(wraw), len(graw))
	}
}

// fuzzSeeds are the committed seed corpus of FuzzSnapshotRead.
func fuzzSeeds(t testing.TB) map[string][]byte {
	tr := goldenTree(t)
	good, _ := writeBytes(t, tr, Options{ChunkNodes: 3, Now: func() time.Time { return time.UnixMilli(1_700_000_000_123) }})
	hdr, raw := decompressed(t, good)
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i] ^= 0x20
		return b
	}
	small, _ := writeBytes(t, tree.New(tree.Config{}), Options{Now: func() time.Time { return time.UnixMilli(0) }})
	return map[string][]byte{
		"golden":            good,
		"empty-tree":        small,
		"header-only":       good[:HeaderBytes],
		"torn-header":       good[:HeaderBytes-3],
		"torn-body":         good[:len(good)/2],
		"flip-header":       flip(good, 9),
		"flip-body":         flip(good, len(good)-20),
		"flip-checksum":     assemble(t, hdr, flip(raw, len(raw)-2)),
		"raw-uncompressed":  append(bytes.Clone(hdr), raw...),
		"trailing-garbage":  append(bytes.Clone(good), 1, 2, 3),
		"zero-tail":         append(bytes.Clone(good), make([]byte, 32)...),
		"body-without-end":  assemble(t, hdr, raw[:len(raw)-20]),
		"big-data-length":   assemble(t, hdr, seal(hdr, []byte{tagNode, 1, '/', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x1f})),
		"sessions-and-root": assemble(t, hdr, seal(hdr, []byte{tagSession, 2, 4}, nodeRec("/", tree.KindPersistent), endRec(1, 1))),
	}
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

// FuzzSnapshotRead: Read never panics, fails only with a *CorruptError,
// and whatever it accepts writes back and reads again to the same tree.
func FuzzSnapshotRead(f *testing.F) {
	golden, err := filepath.Glob(filepath.Join(goldenDir, "snapshot.*"))
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
		tr, meta, err := Read(bytes.NewReader(data), tree.Config{ExtendedTypesEnabled: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error is not a corruption error: %v", err)
			}
			return
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
