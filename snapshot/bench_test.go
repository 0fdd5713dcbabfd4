package snapshot

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"zabd/tree"
)

// benchTree builds n znodes with size-byte random values, 1000 per parent.
func benchTree(b *testing.B, n, size int) *tree.Tree {
	b.Helper()
	tr := tree.New(tree.Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			if err := tr.PutNode(fmt.Sprintf("/p%04d", i/1000), tree.Node{Kind: tree.KindPersistent, ACL: tree.OpenACLUnsafe, Data: []byte{}}); err != nil {
				b.Fatal(err)
			}
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte('a' + rng.IntN(26)) // text-like, partly compressible
		}
		z := int64(0x100000000 + i)
		node := tree.Node{Kind: tree.KindPersistent, ACL: tree.OpenACLUnsafe, Data: data,
			Czxid: z, Mzxid: z, Pzxid: z, Ctime: 1_700_000_000_000 + int64(i), Mtime: 1_700_000_000_000 + int64(i)}
		if err := tr.PutNode(fmt.Sprintf("/p%04d/n%07d", i/1000, i), node); err != nil {
			b.Fatal(err)
		}
	}
	tr.SetLastZxid(0x100000000 + int64(n))
	return tr
}

// BenchmarkSnapshotWrite and BenchmarkSnapshotRead: 100k znodes with
// 100-byte values, with each codec; bytes/s are of the decompressed
// content.
//
//	go test ./snapshot -run XXX -bench Snapshot -benchtime 10x
func BenchmarkSnapshotWrite(b *testing.B) {
	for _, c := range []Codec{CodecS2, CodecZstd, CodecNone} {
		b.Run(fmt.Sprintf("nodes=100000/codec=%v", c), func(b *testing.B) {
			tr := benchTree(b, 100_000, 100)
			var m Meta
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var err error
				if m, err = Write(io.Discard, Still(tr), Options{Codec: c}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(m.RawBytes)
			b.ReportMetric(float64(m.Bytes), "file-bytes")
		})
	}
}

func BenchmarkSnapshotRead(b *testing.B) {
	for _, c := range []Codec{CodecS2, CodecZstd, CodecNone} {
		b.Run(fmt.Sprintf("nodes=100000/codec=%v", c), func(b *testing.B) {
			tr := benchTree(b, 100_000, 100)
			var buf bytes.Buffer
			m, err := Write(&buf, Still(tr), Options{Codec: c})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(m.RawBytes)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				got, _, err := Read(bytes.NewReader(buf.Bytes()), tree.Config{})
				if err != nil {
					b.Fatal(err)
				}
				if got.NodeCount() != tr.NodeCount() {
					b.Fatalf("read %d nodes, want %d", got.NodeCount(), tr.NodeCount())
				}
			}
		})
	}
}
