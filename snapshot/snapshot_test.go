package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/google/go-cmp/cmp"

	"zabd/log"
	"zabd/tree"
)

func TestRoundTripEveryKind(t *testing.T) {
	live := everyKind(t)
	want := live.DescribeTree()
	type run struct {
		chunk int
		codec Codec // 0: the default
	}
	runs := []run{{1, 0}, {2, 0}, {3, 0}, {1000, 0}, {3, CodecS2}, {3, CodecZstd}, {3, CodecNone}, {1000, CodecZstd}, {1000, CodecNone}}
	for _, r := range runs {
		chunk := r.chunk
		t.Run(fmt.Sprintf("chunk=%d/codec=%v", chunk, r.codec), func(t *testing.T) {
			file, wm := writeBytes(t, live, Options{ChunkNodes: chunk, Codec: r.codec, Now: func() time.Time { return time.UnixMilli(1234) }})
			wantCodec := r.codec
			if wantCodec == 0 {
				wantCodec = CodecS2
			}
			// zstd is written as version 2, which has no codec byte.
			wantVersion := Version
			if wantCodec == CodecZstd {
				wantVersion = Version2
			}
			if got := fileVersion(file); got != uint32(wantVersion) {
				t.Errorf("format version %d, want %d", got, wantVersion)
			}
			if got := fileCodec(file); got != wantCodec {
				t.Errorf("codec %v, want %v", got, wantCodec)
			}
			got, rm, err := Read(bytes.NewReader(file), live.Config())
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(want, got.DescribeTree()); diff != "" {
				t.Errorf("restored tree differs (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wm, rm); diff != "" {
				t.Errorf("Read's Meta differs from Write's (-write +read):\n%s", diff)
			}
			wantMeta := Meta{Version: wantVersion, Codec: wantCodec, StartZxid: log.Zxid(live.LastZxid()), EndZxid: log.Zxid(live.LastZxid()), Time: time.UnixMilli(1234),
				Nodes: int64(live.NodeCount()), Sessions: 2, RawBytes: wm.RawBytes, Bytes: int64(len(file))}
			if diff := cmp.Diff(wantMeta, wm); diff != "" {
				t.Errorf("Meta (-want +got):\n%s", diff)
			}
			if got.NodeCount() != live.NodeCount() || got.ApproximateDataSize() != live.ApproximateDataSize() ||
				got.EphemeralCount() != live.EphemeralCount() {
				t.Errorf("indexes: got %d nodes %d bytes %d ephemerals, want %d %d %d", got.NodeCount(),
					got.ApproximateDataSize(), got.EphemeralCount(), live.NodeCount(), live.ApproximateDataSize(), live.EphemeralCount())
			}
			if got, want := got.Ephemerals(0x22), live.Ephemerals(0x22); !cmp.Equal(got, want) || len(got) != 1 {
				t.Errorf("ephemerals of 0x22: got %v, want %v", got, want)
			}
			if n, _ := got.Get("/a/nil"); n.Data != nil {
				t.Errorf("/a/nil data: got %q, want nil", n.Data)
			}
			if n, _ := got.Get("/a/empty"); n.Data == nil || len(n.Data) != 0 {
				t.Errorf("/a/empty data: got %#v, want empty non-nil", n.Data)
			}
			m, err := ReadHeader(bytes.NewReader(file))
			if err != nil || m.StartZxid != wm.StartZxid || !m.Time.Equal(wm.Time) || m.Version != wantVersion || m.Codec != wantCodec || m.EndZxid != 0 {
				t.Errorf("ReadHeader: %+v %v, want codec %v", m, err, wantCodec)
			}
			m, err = ReadMeta(bytes.NewReader(file), int64(len(file)))
			if want := (Meta{Version: wantVersion, Codec: wantCodec, StartZxid: wm.StartZxid, EndZxid: wm.EndZxid, Time: wm.Time, Bytes: wm.Bytes}); err != nil || !cmp.Equal(want, m) {
				t.Errorf("ReadMeta: got %+v %v, want %+v", m, err, want)
			}
		})
	}
}

// seal builds a decompressed body: records, then the checksum over the
// header and records.
func seal(hdr []byte, records ...[]byte) []byte {
	raw := bytes.Join(records, nil)
	sum := xxhash.Sum64(append(append([]byte(nil), hdr...), raw...))
	return binary.BigEndian.AppendUint64(raw, sum)
}

func nodeRec(path string, kind tree.NodeKind) []byte {
	return appendNode(nil, path, &tree.Node{Kind: kind, Data: []byte("d"), ACL: tree.OpenACLUnsafe})
}

func endRec(nodes, sessions uint64) []byte {
	b := []byte{tagEnd}
	b = binary.AppendUvarint(b, nodes)
	return binary.AppendUvarint(b, sessions)
}

func TestReadCorrupt(t *testing.T) {
	good, _ := writeBytes(t, everyKind(t), Options{})
	hdr, raw := decompressed(t, good)
	root := nodeRec("/", tree.KindPersistent)
	sess := append([]byte{tagSession}, binary.AppendVarint(binary.AppendVarint(nil, 7), 3000)...)
	if _, _, err := Read(bytes.NewReader(assemble(t, hdr, seal(hdr, root, sess, nodeRec("/x", tree.KindPersistent), endRec(2, 1)))), tree.Config{}); err != nil {
		t.Fatalf("hand-built control snapshot: %v", err)
	}
	mutate := func(b []byte, f func(b []byte)) []byte {
		b = bytes.Clone(b)
		f(b)
		return b
	}
	hdrV4 := mutate(hdr[:HeaderBytes], func(b []byte) {
		binary.BigEndian.PutUint32(b[4:], 4)
		binary.BigEndian.PutUint64(b[24:], xxhash.Sum64(b[:24]))
	})
	// The same file labelled version 1 (header and body checksums
	// recomputed), so the trailer is where version 1 allows nothing.
	hdrV1 := mutate(hdr[:HeaderBytes], func(b []byte) {
		binary.BigEndian.PutUint32(b[4:], Version1)
		binary.BigEndian.PutUint64(b[24:], xxhash.Sum64(b[:24]))
	})
	v1WithTrailer := append(assemble(t, hdrV1, seal(hdrV1, raw[:len(raw)-8])), trailer(good)...)
	// The same prefix naming no compression.
	prefixNone := mutate(hdr, func(b []byte) { b[HeaderBytes] = byte(CodecNone) })
	trailerAt := int64(len(good) - TrailerBytes)
	rows := []struct {
		name       string
		file       []byte
		wantHeader bool
		wantOffset int64 // -1: do not check
		wantReason string
	}{
		{"empty file", nil, true, 0, "truncated header"},
		{"truncated header", good[:20], true, 20, "truncated header"},
		{"bad magic", mutate(good, func(b []byte) { b[0] = 'X' }), true, 0, "bad magic"},
		{"flipped header byte", mutate(good, func(b []byte) { b[12] ^= 1 }), true, 24, "header checksum"},
		{"unknown version", append(hdrV4, good[HeaderBytes:]...), true, 4, "unknown version 4"},
		{"header only", good[:HeaderBytes], true, HeaderBytes, "no codec byte"},
		{"codec byte changed, body checksummed under the old one", assemble(t, prefixNone, seal(hdr, raw[:len(raw)-8])), false, int64(len(raw) - 8), "checksum"},
		{"body stored with another codec than its byte names", append(append(bytes.Clone(prefixNone), good[HeaderBytes+1:len(good)-TrailerBytes]...), trailer(good)...), false, -1, ""},
		{"unknown codec", mutate(good, func(b []byte) { b[HeaderBytes] = 9 }), true, HeaderBytes, "unknown codec 9"},
		{"no codec", mutate(good, func(b []byte) { b[HeaderBytes] = 0 }), true, HeaderBytes, "unknown codec 0"},
		{"header and codec byte only", good[:HeaderBytes+1], false, 0, "truncated"},
		{"truncated compressed body", good[:len(good)-5], false, -1, ""},
		{"garbage after the zstd stream", append(bytes.Clone(good), "garbage!"...), false, -1, ""},
		{"zero-filled tail", append(bytes.Clone(good), make([]byte, 64)...), false, -1, ""},
		{"flipped checksum byte", assemble(t, hdr, mutate(raw, func(b []byte) { b[len(b)-1] ^= 0x10 })), false, int64(len(raw) - 8), "checksum"},
		{"flipped content byte", assemble(t, hdr, mutate(raw, func(b []byte) { b[len(b)-30] ^= 0x10 })), false, -1, ""},
		{"body truncated before the end record", assemble(t, hdr, raw[:len(raw)/2]), false, -1, "truncated"},
		{"body truncated in the checksum", assemble(t, hdr, raw[:len(raw)-3]), false, int64(len(raw) - 8), "truncated"},
		{"data after the checksum", assemble(t, hdr, append(bytes.Clone(raw), 0)), false, int64(len(raw)), "data after the checksum"},
		{"unknown tag", assemble(t, hdr, seal(hdr, root, []byte{9})), false, int64(len(root)), "unknown record tag 9"},
		{"missing parent", assemble(t, hdr, seal(hdr, root, nodeRec("/x/y", tree.KindPersistent), endRec(2, 0))), false, int64(len(root)), "restoring a node"},
		{"paths out of order", assemble(t, hdr, seal(hdr, root, nodeRec("/b", tree.KindPersistent), nodeRec("/a", tree.KindPersistent), endRec(3, 0))), false, -1, "path order"},
		{"duplicate path", assemble(t, hdr, seal(hdr, root, root, endRec(2, 0))), false, int64(len(root)), "path order"},
		{"invalid kind", assemble(t, hdr, seal(hdr, root, nodeRec("/k", 0), endRec(2, 0))), false, int64(len(root)), "invalid kind"},
		{"invalid path", assemble(t, hdr, seal(hdr, root, nodeRec("/k/", tree.KindPersistent), endRec(2, 0))), false, int64(len(root)), "restoring a node"},
		{"end counts wrong", assemble(t, hdr, seal(hdr, root, endRec(2, 0))), false, int64(len(root)), "end record counts"},
		{"session timeout out of range", assemble(t, hdr, seal(hdr, []byte{tagSession, 2, 0xfe, 0xff, 0xff, 0xff, 0x7f})), false, 0, "out of range"},
		{"varint overflow", assemble(t, hdr, seal(hdr, []byte{tagSession}, bytes.Repeat([]byte{0xff}, 11))), false, 0, "bad varint"},
		{"data length above the limit", assemble(t, hdr, seal(hdr, []byte{tagNode, 1, '/', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			binary.AppendUvarint(nil, MaxFieldBytes+2))), false, 0, "above"},
		{"huge data length, short stream", assemble(t, hdr, seal(hdr, []byte{tagNode, 1, '/', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
			binary.AppendUvarint(nil, MaxFieldBytes))), false, 0, "truncated"},
		{"flipped end zxid byte", mutate(good, func(b []byte) { b[trailerAt+7] ^= 0x01 }), false, trailerAt + 8, "trailer checksum"},
		{"flipped trailer checksum byte", mutate(good, func(b []byte) { b[len(b)-1] ^= 0x80 }), false, trailerAt + 8, "trailer checksum"},
		{"trailer of another header", withTrailer(good, appendTrailer(nil, appendHeader(nil, Version, 7, 0), 9)), false, trailerAt + 8, "trailer checksum"},
		{"end zxid before start zxid", withTrailer(good, appendTrailer(nil, hdr[:HeaderBytes], 0x100000001)), false, trailerAt, "end zxid 0x100000001 is before start zxid"},
		{"trailer missing", good[:len(good)-TrailerBytes], false, -1, ""},
		{"trailer torn", good[:len(good)-3], false, -1, ""},
		{"zero trailer", withTrailer(good, make([]byte, TrailerBytes)), false, trailerAt + 8, "trailer checksum"},
		{"data after the trailer", append(bytes.Clone(good), 0), false, -1, ""},
		{"data between the body and the trailer", append(append(bytes.Clone(good[:trailerAt]), "garbage!"...), trailer(good)...), false, int64(len(raw)), "after the checksum"},
		{"version 1 file with a trailer", v1WithTrailer, false, -1, ""},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			tr, _, err := Read(bytes.NewReader(tc.file), tree.Config{})
			if err == nil {
				t.Fatalf("got a tree (%d nodes), want an error", tr.NodeCount())
			}
			if tr != nil {
				t.Errorf("got a tree with the error %v", err)
			}
			var ce *CorruptError
			if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %T %v, want a *CorruptError", err, err)
			}
			wantTrailer := strings.Contains(tc.wantReason, "trailer") || strings.Contains(tc.wantReason, "end zxid")
			if ce.InHeader != tc.wantHeader || ce.InTrailer != wantTrailer || (tc.wantOffset >= 0 && ce.Offset != tc.wantOffset) {
				t.Errorf("got header=%v trailer=%v offset=%d, want header=%v trailer=%v offset=%d (%v)",
					ce.InHeader, ce.InTrailer, ce.Offset, tc.wantHeader, wantTrailer, tc.wantOffset, err)
			}
			if !strings.Contains(err.Error(), tc.wantReason) {
				t.Errorf("got %q, want it to mention %q", err, tc.wantReason)
			}
		})
	}
}

// TestReadEveryTruncationAndFlip cuts a snapshot at every offset and flips
// every byte: Read must fail (a *CorruptError) or, where a flip only
// touched compression metadata that does not change the content, restore
// exactly the original tree; with every codec. Never a panic, never a different tree.
func TestReadEveryTruncationAndFlip(t *testing.T) {
	for _, c := range []Codec{CodecS2, CodecZstd, CodecNone} {
		t.Run(c.String(), func(t *testing.T) { readEveryTruncationAndFlip(t, c) })
	}
}

func readEveryTruncationAndFlip(t *testing.T, c Codec) {
	live := everyKind(t)
	want := live.DescribeTree()
	file, _ := writeBytes(t, live, Options{ChunkNodes: 4, Codec: c})
	for n := 0; n < len(file); n++ {
		if _, _, err := Read(bytes.NewReader(file[:n]), live.Config()); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("cut at %d of %d: got %v, want a corruption error", n, len(file), err)
		}
	}
	benign := 0
	for i := 0; i < len(file); i++ {
		for _, bit := range []byte{0x01, 0x80} {
			f := bytes.Clone(file)
			f[i] ^= bit
			tr, _, err := Read(bytes.NewReader(f), live.Config())
			switch {
			case err == nil && tr.DescribeTree() != want:
				t.Fatalf("flip %#x at %d: read a different tree without error", bit, i)
			case err == nil:
				benign++
			case !errors.Is(err, ErrCorrupt):
				t.Fatalf("flip %#x at %d: got %v, want a corruption error", bit, i, err)
			}
		}
	}
	t.Logf("%d bytes, %d of %d flips harmless (compression metadata)", len(file), benign, 2*len(file))
}

// TestWriteConcurrentWithApply takes a snapshot through a Source guarded by
// a RWMutex while another goroutine applies txns under the write lock (as
// zab's applier does), then checks snapshot + replay == live, and
// snapshot + replay to its end == the live tree then. Run with -race.
func TestWriteConcurrentWithApply(t *testing.T) {
	d := newDriver(t, tree.Config{ExtendedTypesEnabled: true})
	w := newWorkload(d, 42)
	for i := 0; i < 500; i++ {
		w.step()
	}
	var mu sync.RWMutex
	src := func(fn func(*tree.Tree)) {
		mu.RLock()
		defer mu.RUnlock()
		fn(d.tr)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 2000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			mu.Lock()
			w.step()
			mu.Unlock()
		}
	}()
	var buf bytes.Buffer
	meta, err := Write(&buf, src, Options{ChunkNodes: 7})
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	checkReplay(t, buf.Bytes(), meta, d)
	checkUsableAtEnd(t, buf.Bytes(), meta, d)
}

// checkReplay restores file, replays d's log after meta.StartZxid and
// compares with d's live tree.
func checkReplay(t *testing.T, file []byte, meta Meta, d *driver) {
	t.Helper()
	got, rm, err := Read(bytes.NewReader(file), d.tr.Config())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if rm.StartZxid != meta.StartZxid || got.LastZxid() != int64(meta.StartZxid) {
		t.Fatalf("start zxid: read %v, tree %#x, written %v", rm.StartZxid, got.LastZxid(), meta.StartZxid)
	}
	replayed := 0
	for _, txn := range d.log {
		if txn.Zxid > int64(meta.StartZxid) {
			got.Apply(txn)
			replayed++
		}
	}
	if diff := cmp.Diff(d.tr.DescribeTree(), got.DescribeTree()); diff != "" {
		t.Fatalf("snapshot + replay of %d txns differs from the live tree (-live +restored):\n%s", replayed, diff)
	}
}

// TestFuzzySnapshotProperty: for random workloads, a snapshot taken in
// small chunks while random txns are applied between chunks, restored and
// replayed from its start zxid, equals the live tree (nodes, every stat
// field, data, ACLs, sessions); replayed only up to its end zxid, it
// equals the live tree as it was then.
func TestFuzzySnapshotProperty(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			d := newDriver(t, tree.Config{ExtendedTypesEnabled: seed%2 == 0})
			w := newWorkload(d, seed)
			for i := 0; i < 200+int(seed)*40; i++ {
				w.step()
			}
			chunks := 0
			src := func(fn func(*tree.Tree)) {
				// Writes between (and before the first) chunk.
				for i := 0; i < w.rng.IntN(30); i++ {
					w.step()
				}
				chunks++
				fn(d.tr)
			}
			var buf bytes.Buffer
			meta, err := Write(&buf, src, Options{ChunkNodes: 1 + int(seed%5)})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 50; i++ { // and after the walk
				w.step()
			}
			checkReplay(t, buf.Bytes(), meta, d)
			checkUsableAtEnd(t, buf.Bytes(), meta, d)
			t.Logf("%d txns, %d chunks, %d nodes in the snapshot, %d live", len(d.log), chunks, meta.Nodes, d.tr.NodeCount())
		})
	}
}

// TestReadPipelineErrors: parsing runs ahead of the tree on a second
// goroutine. The first error in stream order must win whichever side
// finds it, and Read must not leave that goroutine behind (a tree error
// early in a long stream leaves the parser blocked on a full pipe).
func TestReadPipelineErrors(t *testing.T) {
	good, _ := writeBytes(t, everyKind(t), Options{})
	hdr, _ := decompressed(t, good)
	root := nodeRec("/", tree.KindPersistent)
	const many = 20 * batchRecords
	var nodes []byte
	for i := 0; i < many; i++ {
		nodes = append(nodes, nodeRec(fmt.Sprintf("/b%06d", i), tree.KindPersistent)...)
	}
	orphan := nodeRec("/a/b", tree.KindPersistent)
	sealed := seal(hdr, root, nodes, endRec(many+1, 0))
	rows := []struct {
		name       string
		raw        []byte
		wantOffset int64
		wantReason string
	}{
		{"tree error before many nodes and a parse error",
			seal(hdr, root, orphan, nodes, []byte{9}), int64(len(root)), "restoring a node"},
		{"parse error after many nodes", seal(hdr, root, nodes, []byte{9}), int64(len(root) + len(nodes)), "unknown record tag 9"},
		{"tree error after many nodes", seal(hdr, root, nodes, nodeRec("/c/d", tree.KindPersistent), endRec(many+2, 0)),
			int64(len(root) + len(nodes)), "restoring a node"},
		{"checksum after many nodes", append(sealed[:len(sealed)-8:len(sealed)-8], 1, 2, 3, 4, 5, 6, 7, 8),
			int64(len(sealed) - 8), "checksum"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			tr, _, err := Read(bytes.NewReader(assemble(t, hdr, tc.raw)), tree.Config{})
			var ce *CorruptError
			if !errors.As(err, &ce) || tr != nil {
				t.Fatalf("got tree=%v err=%v, want only a *CorruptError", tr != nil, err)
			}
			if ce.Offset != tc.wantOffset || !strings.Contains(err.Error(), tc.wantReason) {
				t.Errorf("got offset %d %q, want offset %d mentioning %q", ce.Offset, err, tc.wantOffset, tc.wantReason)
			}
			// The parser has closed its pipe before Read returns; all it
			// has left is to return. Give it a bounded time for that (on a
			// loaded machine under -race, yields alone are not enough: the
			// thread running it may be waiting for a CPU).
			got := runtime.NumGoroutine()
			for deadline := time.Now().Add(2 * time.Second); got > before && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
				got = runtime.NumGoroutine()
			}
			if got > before {
				t.Errorf("got %d goroutines after Read, want at most %d as before it", got, before)
			}
		})
	}
	t.Run("control", func(t *testing.T) {
		tr, m, err := Read(bytes.NewReader(assemble(t, hdr, sealed)), tree.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := m.Nodes, int64(many+1); got != want || tr.NodeCount() < many {
			t.Errorf("got meta %d nodes, tree %d, want %d", got, tr.NodeCount(), want)
		}
	})
}

// A tree's session secret travels in the snapshot (one tag-4 record).
func TestSessionSecretRoundTrip(t *testing.T) {
	tr := tree.New(tree.Config{})
	tr.Apply(tree.Txn{TxnHeader: tree.TxnHeader{Zxid: 1, Type: tree.OpSessionSecret}, Data: []byte("0123456789abcdef-secret")})
	tr.Apply(tree.Txn{TxnHeader: tree.TxnHeader{Session: 7, Zxid: 2, Type: tree.OpCreateSession}, Timeout: 5000})
	var buf bytes.Buffer
	if _, err := Write(&buf, Still(tr), Options{}); err != nil {
		t.Fatal(err)
	}
	got, _, err := Read(bytes.NewReader(buf.Bytes()), tree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.SessionSecret()) != "0123456789abcdef-secret" {
		t.Fatalf("secret after a round trip: %q", got.SessionSecret())
	}
	got.SetLastZxid(tr.LastZxid())
	if d := cmp.Diff(tr.DescribeTree(), got.DescribeTree()); d != "" {
		t.Fatalf("restored tree (-written +read):\n%s", d)
	}
}
