package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"zabd/log"
	"zabd/tree"
)

// treeAt rebuilds the live tree as it was at zxid z from d's log.
func treeAt(d *driver, z log.Zxid) *tree.Tree {
	tr := tree.New(d.tr.Config())
	for _, txn := range d.log {
		if txn.Zxid <= int64(z) {
			tr.Apply(txn)
		}
	}
	return tr
}

// restoreTo restores file and replays d's log over it up to z (inclusive).
func restoreTo(t *testing.T, file []byte, d *driver, z log.Zxid) *tree.Tree {
	t.Helper()
	got, m, err := Read(bytes.NewReader(file), d.tr.Config())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, txn := range d.log {
		if txn.Zxid > int64(m.StartZxid) && txn.Zxid <= int64(z) {
			got.Apply(txn)
		}
	}
	return got
}

// checkUsableAtEnd checks what UsableFor promises at the snapshot's own
// end: restored and replayed up to EndZxid, it is the live tree as it was
// at EndZxid. It also checks that no node records a zxid above EndZxid.
func checkUsableAtEnd(t *testing.T, file []byte, meta Meta, d *driver) {
	t.Helper()
	if !meta.UsableFor(meta.EndZxid) {
		t.Fatalf("not usable for its own end: %+v", meta)
	}
	got := restoreTo(t, file, d, meta.EndZxid)
	if diff := cmp.Diff(treeAt(d, meta.EndZxid).DescribeTree(), got.DescribeTree()); diff != "" {
		t.Fatalf("snapshot [%v, %v] + replay to its end differs from the live tree then (-live +restored):\n%s", meta.StartZxid, meta.EndZxid, diff)
	}
	raw, _, err := Read(bytes.NewReader(file), d.tr.Config())
	if err != nil {
		t.Fatal(err)
	}
	raw.Walk("/", func(p string, n *tree.Node) bool {
		if z := max(n.Czxid, n.Mzxid, n.Pzxid); z > int64(meta.EndZxid) {
			t.Errorf("%s in the snapshot records zxid %#x, after its end %v", p, z, meta.EndZxid)
		}
		return true
	})
}

// TestWriteEndZxid: Meta.EndZxid is the tree's LastZxid when the walk
// copied its last chunk, whatever was applied before the walk, between
// its chunks or after it; the trailer carries it to Read and ReadMeta.
func TestWriteEndZxid(t *testing.T) {
	rows := []struct {
		name       string
		chunkNodes int
		during     int // txns applied before each chunk after the first
		after      int // txns applied once Write returned
	}{
		{"still tree", 3, 0, 0},
		{"txns between chunks", 3, 2, 0},
		{"txns between chunks and after the walk", 2, 1, 5},
		{"one chunk, txns after the walk", 1000, 4, 3},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			d := everyKindDriver(t)
			w := newWorkload(d, 7)
			calls, walked := 0, log.Zxid(0)
			src := func(fn func(*tree.Tree)) {
				calls++
				if calls > 1 {
					for i := 0; i < tc.during; i++ {
						d.must(0x11, tree.Request{Op: tree.OpCreate, Path: fmt.Sprintf("/zz%d-%d", calls, i), ACL: tree.OpenACLUnsafe})
					}
				}
				walked = log.Zxid(d.tr.LastZxid())
				fn(d.tr)
			}
			start := log.Zxid(d.tr.LastZxid())
			var buf bytes.Buffer
			meta, err := Write(&buf, src, Options{ChunkNodes: tc.chunkNodes})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < tc.after; i++ {
				w.step()
			}
			file := buf.Bytes()
			wantEnd := start + log.Zxid((calls-1)*tc.during)
			if meta.StartZxid != start || meta.EndZxid != wantEnd || meta.EndZxid != walked {
				t.Errorf("got start %v end %v, want start %v end %v (the last chunk saw %v; %d chunks)", meta.StartZxid, meta.EndZxid, start, wantEnd, walked, calls)
			}
			_, rm, err := Read(bytes.NewReader(file), d.tr.Config())
			if err != nil {
				t.Fatal(err)
			}
			if rm.EndZxid != meta.EndZxid || rm.Version != Version {
				t.Errorf("Read: got version %d end %v, want version %d end %v", rm.Version, rm.EndZxid, Version, meta.EndZxid)
			}
			mm, err := ReadMeta(bytes.NewReader(file), int64(len(file)))
			if err != nil || mm.EndZxid != meta.EndZxid || mm.StartZxid != meta.StartZxid {
				t.Errorf("ReadMeta: got %+v %v, want start %v end %v", mm, err, meta.StartZxid, meta.EndZxid)
			}
			checkUsableAtEnd(t, file, meta, d)
		})
	}
}

// TestStraddlingSnapshot is the case the end zxid exists for: a node
// created during the walk, ahead of it, is in the snapshot, so the
// snapshot cannot stand for the state at its start, nor at any zxid
// before its end, and UsableFor says so.
func TestStraddlingSnapshot(t *testing.T) {
	d := everyKindDriver(t)
	calls := 0
	src := func(fn func(*tree.Tree)) {
		calls++
		if calls == 2 {
			d.must(0x11, tree.Request{Op: tree.OpCreate, Path: "/zz", Data: []byte("during the walk"), ACL: tree.OpenACLUnsafe})
		}
		fn(d.tr)
	}
	var buf bytes.Buffer
	meta, err := Write(&buf, src, Options{ChunkNodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	start, end := meta.StartZxid, meta.EndZxid
	if end != start+1 {
		t.Fatalf("got start %v end %v, want end = start+1", start, end)
	}
	restored := restoreTo(t, buf.Bytes(), d, start)
	if _, ok := restored.Get("/zz"); !ok {
		t.Fatalf("/zz, created during the walk, is not in the snapshot restored to its start %v", start)
	}
	if _, ok := treeAt(d, start).Get("/zz"); ok {
		t.Fatalf("/zz exists in the live tree at the start zxid %v", start)
	}
	for _, z := range []log.Zxid{start - 1, start, end, end + 1} {
		if got, want := meta.UsableFor(z), z >= end; got != want {
			t.Errorf("UsableFor(%v) of [%v, %v]: got %v, want %v", z, start, end, got, want)
		}
	}
	checkUsableAtEnd(t, buf.Bytes(), meta, d)
}

func TestUsableFor(t *testing.T) {
	const s, e = log.Zxid(0x100000010), log.Zxid(0x100000020)
	rows := []struct {
		name string
		meta Meta
		z    log.Zxid
		want bool
	}{
		{"before the start", Meta{Version: Version2, StartZxid: s, EndZxid: e}, s - 1, false},
		{"at the start, walk went on", Meta{Version: Version2, StartZxid: s, EndZxid: e}, s, false},
		{"inside the walk", Meta{Version: Version2, StartZxid: s, EndZxid: e}, e - 1, false},
		{"at the end", Meta{Version: Version2, StartZxid: s, EndZxid: e}, e, true},
		{"after the end", Meta{Version: Version2, StartZxid: s, EndZxid: e}, e + 0x100000000, true},
		{"still walk, at its zxid", Meta{Version: Version2, StartZxid: s, EndZxid: s}, s, true},
		{"empty tree", Meta{Version: Version2}, 0, true},
		{"version 1 at its start", Meta{Version: Version1, StartZxid: s}, s, false},
		{"version 1 long after", Meta{Version: Version1, StartZxid: s}, ^log.Zxid(0), false},
		{"no snapshot (zero Meta)", Meta{}, s, false},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.meta.UsableFor(tc.z); got != tc.want {
				t.Errorf("%+v UsableFor(%v): got %v, want %v", tc.meta, tc.z, got, tc.want)
			}
		})
	}
}

// TestReadVersion1 reads the frozen version 1 golden file: it reads whole,
// its end is unknown, and so it is usable for no zxid.
func TestReadVersion1(t *testing.T) {
	file := readGolden(t, Version1)
	tr, m, err := Read(bytes.NewReader(file), tree.Config{ExtendedTypesEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != Version1 || m.EndKnown() || m.EndZxid != 0 || tr.LastZxid() != int64(m.StartZxid) {
		t.Errorf("got version %d end known %v end %v tree at %#x, want version 1, end unknown (0), tree at the start %v",
			m.Version, m.EndKnown(), m.EndZxid, tr.LastZxid(), m.StartZxid)
	}
	for _, z := range []log.Zxid{m.StartZxid, m.StartZxid + 1<<32} {
		if m.UsableFor(z) {
			t.Errorf("version 1 snapshot usable for %v, want usable for none", z)
		}
	}
}

// readGolden returns a version's golden snapshot.
func readGolden(t testing.TB, version int) []byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(goldenDir(version), "snapshot.*"))
	if err != nil || len(names) != 1 {
		t.Fatalf("golden file of version %d: %v %v", version, names, err)
	}
	b, err := os.ReadFile(names[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadMetaCorrupt(t *testing.T) {
	good, gm := goldenSnapshot(t)
	v1 := readGolden(t, Version1)
	hdr := good[:HeaderBytes]
	trailerAt := int64(len(good) - TrailerBytes)
	mutate := func(b []byte, f func(b []byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		return b
	}
	if m, err := ReadMeta(bytes.NewReader(good), int64(len(good))); err != nil || m.EndZxid != gm.EndZxid || m.StartZxid != gm.StartZxid {
		t.Fatalf("control: got %+v %v, want start %v end %v", m, err, gm.StartZxid, gm.EndZxid)
	}
	rows := []struct {
		name        string
		file        []byte
		wantHeader  bool
		wantTrailer bool
		wantOffset  int64
		wantReason  string
	}{
		{"empty file", nil, true, false, 0, "truncated header"},
		{"truncated header", good[:HeaderBytes-1], true, false, HeaderBytes - 1, "truncated header"},
		{"flipped header byte", mutate(good, func(b []byte) { b[10] ^= 1 }), true, false, 24, "header checksum"},
		{"header only", good[:HeaderBytes], false, true, HeaderBytes, "no room for a body and the trailer"},
		{"header and a short trailer", good[:HeaderBytes+TrailerBytes-1], false, true, HeaderBytes + TrailerBytes - 1, "no room"},
		{"header and a trailer, no body", append(bytes.Clone(hdr), trailer(good)...), false, true, HeaderBytes + TrailerBytes, "no room"},
		{"torn trailer", good[:len(good)-3], false, true, trailerAt - 3 + 8, "trailer checksum"},
		{"flipped end zxid byte", mutate(good, func(b []byte) { b[trailerAt] ^= 0x40 }), false, true, trailerAt + 8, "trailer checksum"},
		{"flipped trailer checksum byte", mutate(good, func(b []byte) { b[len(b)-2] ^= 1 }), false, true, trailerAt + 8, "trailer checksum"},
		{"trailer of another header", withTrailer(good, appendTrailer(nil, appendHeader(nil, Version, 5, 0), 9)), false, true, trailerAt + 8, "trailer checksum"},
		{"end zxid before start zxid", withTrailer(good, appendTrailer(nil, hdr[:HeaderBytes], gm.StartZxid-1)), false, true, trailerAt, "is before start zxid"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ReadMeta(bytes.NewReader(tc.file), int64(len(tc.file)))
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %+v, %v; want a *CorruptError", m, err)
			}
			if ce.InHeader != tc.wantHeader || ce.InTrailer != tc.wantTrailer || ce.Offset != tc.wantOffset {
				t.Errorf("got header=%v trailer=%v offset=%d, want header=%v trailer=%v offset=%d (%v)",
					ce.InHeader, ce.InTrailer, ce.Offset, tc.wantHeader, tc.wantTrailer, tc.wantOffset, err)
			}
			if !strings.Contains(err.Error(), tc.wantReason) {
				t.Errorf("got %q, want it to mention %q", err, tc.wantReason)
			}
		})
	}
	t.Run("version 1 has no trailer", func(t *testing.T) {
		m, err := ReadMeta(bytes.NewReader(v1), int64(len(v1)))
		if err != nil || m.Version != Version1 || m.EndKnown() || m.Bytes != int64(len(v1)) {
			t.Errorf("got %+v %v, want version 1, end unknown, %d bytes", m, err, len(v1))
		}
	})
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		_, err := ReadMeta(errReaderAt{boom}, 100)
		if !errors.Is(err, boom) || errors.Is(err, ErrCorrupt) {
			t.Errorf("got %v, want the read error, not a corruption", err)
		}
	})
}

type errReaderAt struct{ err error }

func (e errReaderAt) ReadAt([]byte, int64) (int, error) { return 0, e.err }

// TestTailReader: whatever sizes the source returns and the consumer asks
// for, the consumer gets exactly all but the last keep bytes, and tail the
// last keep (all, if fewer).
func TestTailReader(t *testing.T) {
	const keep = TrailerBytes
	sources := map[string]func(io.Reader) io.Reader{
		"whole":    func(r io.Reader) io.Reader { return r },
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+EOF": iotest.DataErrReader,
	}
	for _, n := range []int{0, 1, keep - 1, keep, keep + 1, 100, 5000} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*7 + 1)
		}
		wantOut, wantTail := data[:max(0, n-keep)], data[max(0, n-keep):]
		for sname, wrap := range sources {
			for _, readSize := range []int{1, 3, keep, keep + 1, 64, 4096} {
				t.Run(fmt.Sprintf("n=%d/%s/read=%d", n, sname, readSize), func(t *testing.T) {
					tr := &tailReader{r: wrap(bytes.NewReader(data)), keep: keep}
					var out []byte
					p := make([]byte, readSize)
					for {
						k, err := tr.Read(p)
						out = append(out, p[:k]...)
						if err == io.EOF {
							break
						}
						if err != nil {
							t.Fatal(err)
						}
					}
					tail, err := tr.tail()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(out, wantOut) || !bytes.Equal(tail, wantTail) {
						t.Errorf("got %d bytes out and tail %x, want %d and %x", len(out), tail, len(wantOut), wantTail)
					}
				})
			}
		}
	}
	t.Run("tail before the end", func(t *testing.T) {
		tr := &tailReader{r: bytes.NewReader(make([]byte, 100)), keep: keep}
		if _, err := tr.tail(); !errors.Is(err, errTailUnread) {
			t.Errorf("got %v, want errTailUnread", err)
		}
	})
	t.Run("source error", func(t *testing.T) {
		boom := errors.New("boom")
		tr := &tailReader{r: iotest.ErrReader(boom), keep: keep}
		if _, err := tr.Read(make([]byte, 64)); !errors.Is(err, boom) {
			t.Errorf("got %v, want %v", err, boom)
		}
	})
}

// TestReadGoldenEveryTruncationAndFlip is TestReadEveryTruncationAndFlip
// on every version's golden file (the version 1 one as shipped), and
// holds ReadMeta to the same: no panic on any cut or flip, no error but a
// corruption error.
func TestReadGoldenEveryTruncationAndFlip(t *testing.T) {
	for _, version := range []int{Version1, Version2} {
		t.Run(fmt.Sprint("v", version), func(t *testing.T) {
			file := readGolden(t, version)
			cfg := tree.Config{ExtendedTypesEnabled: true}
			want, _, err := Read(bytes.NewReader(file), cfg)
			if err != nil {
				t.Fatal(err)
			}
			for n := 0; n < len(file); n++ {
				if _, _, err := Read(bytes.NewReader(file[:n]), cfg); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("cut at %d of %d: got %v, want a corruption error", n, len(file), err)
				}
				if _, err := ReadMeta(bytes.NewReader(file[:n]), int64(n)); err != nil && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("ReadMeta, cut at %d of %d: got %v, want nil or a corruption error", n, len(file), err)
				}
			}
			for i := 0; i < len(file); i++ {
				f := bytes.Clone(file)
				f[i] ^= 0x04
				tr, m, err := Read(bytes.NewReader(f), cfg)
				switch {
				case err == nil && (tr.DescribeTree() != want.DescribeTree() || m.EndZxid != readMetaOrZero(file).EndZxid):
					t.Fatalf("flip at %d: read a different tree or end without error", i)
				case err != nil && !errors.Is(err, ErrCorrupt):
					t.Fatalf("flip at %d: got %v, want a corruption error", i, err)
				}
				if _, err := ReadMeta(bytes.NewReader(f), int64(len(f))); err != nil && !errors.Is(err, ErrCorrupt) {
					t.Fatalf("ReadMeta, flip at %d: got %v, want nil or a corruption error", i, err)
				}
			}
		})
	}
}

func readMetaOrZero(file []byte) Meta {
	m, _ := ReadMeta(bytes.NewReader(file), int64(len(file)))
	return m
}
