package snapshottest

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/snapshot"
	"zabd/tree"
)

// TestVersion1 re-encodes a fuzzy snapshot of each codec: the result
// reads as version 1 (end unknown) with the same tree, start zxid and
// time.
func TestVersion1(t *testing.T) {
	tr := tree.New(tree.Config{})
	for _, p := range []string{"/a", "/b", "/c"} {
		if err := tr.PutNode(p, tree.Node{Kind: tree.KindPersistent, Data: []byte(p), ACL: tree.OpenACLUnsafe}); err != nil {
			t.Fatal(err)
		}
	}
	tr.SetLastZxid(0x100000005)
	calls := 0
	src := func(fn func(*tree.Tree)) {
		calls++
		if calls == 2 {
			tr.SetLastZxid(0x100000009) // txns applied during the walk
		}
		fn(tr)
	}
	for _, codec := range []snapshot.Codec{snapshot.CodecS2, snapshot.CodecZstd, snapshot.CodecNone} {
		t.Run(codec.String(), func(t *testing.T) {
			calls = 0
			tr.SetLastZxid(0x100000005)
			testVersion1(t, src, codec)
		})
	}
}

func testVersion1(t *testing.T, src snapshot.Source, codec snapshot.Codec) {
	var buf bytes.Buffer
	wm, err := snapshot.Write(&buf, src, snapshot.Options{ChunkNodes: 1, Codec: codec, Now: func() time.Time { return time.UnixMilli(77) }})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := Version1(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	got, m, err := snapshot.Read(bytes.NewReader(v1), tree.Config{})
	if err != nil {
		t.Fatalf("reading the version 1 file: %v", err)
	}
	want, _, err := snapshot.Read(bytes.NewReader(buf.Bytes()), tree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.DescribeTree(), got.DescribeTree()); diff != "" {
		t.Errorf("tree differs (-version 3 +version 1):\n%s", diff)
	}
	if m.Version != snapshot.Version1 || m.EndKnown() || m.StartZxid != wm.StartZxid || !m.Time.Equal(wm.Time) {
		t.Errorf("got %+v, want version 1, end unknown, start %v, time %v", m, wm.StartZxid, wm.Time)
	}
	if _, err := Version1(v1); err == nil {
		t.Error("Version1 of a version 1 file: want an error")
	}
}
