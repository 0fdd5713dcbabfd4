package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"zabd/log"
	"zabd/tree"
)

// Source hands the writer the tree held still: it calls fn exactly once
// with the tree, excluding writers for the duration of fn (e.g. under the
// read lock that guards Apply). zab.Pipeline.WithTree is one. Write calls
// it once per chunk, so writes go on between chunks.
type Source func(fn func(t *tree.Tree))

// Still is the Source of a tree nobody changes during the write (a
// single-owner tree in tests and tools).
func Still(t *tree.Tree) Source { return func(fn func(*tree.Tree)) { fn(t) } }

// Options tune Write. The zero value is usable.
type Options struct {
	// ChunkNodes and ChunkBytes (of paths and data) bound how much of the
	// tree one hold of the Source copies out; defaults 1000 and 1 MiB. A
	// single node larger than ChunkBytes is a chunk of its own.
	ChunkNodes int
	ChunkBytes int
	// Now stamps Meta.Time; default time.Now.
	Now func() time.Time
	// Codec stores the body; default CodecS2.
	Codec Codec
	// Level is the zstd level when Codec is CodecZstd; default
	// zstd.SpeedFastest.
	Level zstd.EncoderLevel
	// Stop, if set and closed, makes Write give up between chunks with
	// ErrStopped (e.g. at shutdown).
	Stop <-chan struct{}
	// Duty paces the walk for a background snapshot: after each chunk
	// Write pauses so that the time it spends working (copying the chunk
	// out, encoding, compressing, writing; wall time, so a busy machine
	// slows it further) is at most Duty percent of the time it takes.
	// 100, 0 or out of range: no pauses.
	Duty int
	// After waits between chunks when Duty paces; default time.After.
	After func(time.Duration) <-chan time.Time
}

// pace waits between chunks: long enough that worked is Duty percent of
// the time (no wait at 100), and returns ErrStopped if Stop is closed
// first.
func (o *Options) pace(worked time.Duration) error {
	if o.Duty >= 100 {
		select {
		case <-o.Stop:
			return ErrStopped
		default:
			return nil
		}
	}
	select {
	case <-o.Stop:
		return ErrStopped
	case <-o.After(worked * time.Duration(100-o.Duty) / time.Duration(o.Duty)):
		return nil
	}
}

// ErrStopped is returned by Write when Options.Stop was closed.
var ErrStopped = errors.New("snapshot: write stopped")

func (o *Options) fill() {
	if o.ChunkNodes <= 0 {
		o.ChunkNodes = 1000
	}
	if o.ChunkBytes <= 0 {
		o.ChunkBytes = 1 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Codec == 0 {
		o.Codec = CodecS2
	}
	if o.Level == 0 {
		o.Level = zstd.SpeedFastest
	}
	if o.Duty <= 0 || o.Duty > 100 {
		o.Duty = 100
	}
	if o.After == nil {
		o.After = time.After
	}
}

// entry is one node copied out of the tree. Node's Data and ACL slices are
// shared with the tree, which never mutates them in place.
type entry struct {
	path string
	node tree.Node
}

// Write streams a snapshot of the tree behind src to w: the header and
// the codec byte, then the body (the sessions, the nodes in path order and
// the checksum) stored with Options.Codec, then the trailer with the end
// zxid. A zstd snapshot is written as version 2 (no codec byte), which
// servers from before version 3 read too. The walk is fuzzy (see the
// package doc): it copies at most one chunk of nodes at a time, under one
// call of src. w is written only between calls of src. The returned Meta
// is complete (start and end zxids, counts and sizes).
func Write(w io.Writer, src Source, o Options) (Meta, error) {
	o.fill()
	if !o.Codec.valid() {
		return Meta{}, fmt.Errorf("snapshot: unknown codec %d", o.Codec)
	}
	cw := &countWriter{w: w}
	meta := Meta{Version: Version, Codec: o.Codec, Time: time.UnixMilli(o.Now().UnixMilli())}
	if o.Codec == CodecZstd {
		// Version 2 says zstd without a codec byte, and a server from
		// before version 3 reads it: the way back, and the codec for an
		// ensemble whose members are not all upgraded yet.
		meta.Version = Version2
	}
	var (
		chunk    []entry
		sessions map[int64]int32
		secret   []byte
		from     string
		started  bool
		done     bool
	)
	take := func(t *tree.Tree) {
		if !started {
			meta.StartZxid = log.Zxid(t.LastZxid())
			sessions = t.Sessions()
			secret = slices.Clone(t.SessionSecret())
		}
		meta.EndZxid = log.Zxid(t.LastZxid()) // as of this chunk; the last one's stays
		n, size := 0, 0
		skip := started // the resume path, if it still exists, was written
		done = true
		t.Walk(from, func(p string, nd *tree.Node) bool {
			if skip {
				skip = false
				if p == from {
					return true
				}
			}
			if n >= o.ChunkNodes || (n > 0 && size >= o.ChunkBytes) {
				done = false
				return false
			}
			chunk = append(chunk, entry{path: p, node: *nd})
			n++
			size += len(p) + len(nd.Data)
			return true
		})
		started = true
	}

	began := o.Now()
	src(take)
	hdr := appendHeader(make([]byte, 0, HeaderBytes+1), uint32(meta.Version), meta.StartZxid, meta.Time.UnixMilli())
	prefix := hdr
	if meta.Version >= Version3 {
		prefix = append(hdr, byte(o.Codec)) // hdr keeps its length: the trailer's checksum covers the header alone
	}
	if _, err := cw.Write(prefix); err != nil {
		return Meta{}, fmt.Errorf("snapshot: writing header: %w", err)
	}
	h := xxhash.New()
	h.Write(prefix)
	enc, err := newEncoder(cw, &o)
	if err != nil {
		return Meta{}, err
	}
	defer enc.Close()
	var buf []byte
	emit := func() error {
		h.Write(buf)
		meta.RawBytes += int64(len(buf))
		_, err := enc.Write(buf)
		buf = buf[:0]
		if err != nil {
			return fmt.Errorf("snapshot: writing at body offset %d: %w", meta.RawBytes, err)
		}
		return nil
	}

	ids := make([]int64, 0, len(sessions))
	for id := range sessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		buf = append(buf, tagSession)
		buf = binary.AppendVarint(buf, id)
		buf = binary.AppendVarint(buf, int64(sessions[id]))
		if len(buf) >= 64<<10 {
			if err := emit(); err != nil {
				return Meta{}, err
			}
		}
	}
	if secret != nil {
		buf = append(buf, tagSessionSecret)
		buf = binary.AppendUvarint(buf, uint64(len(secret)))
		buf = append(buf, secret...)
	}
	meta.Sessions = int64(len(ids))

	for {
		for i := range chunk {
			buf = appendNode(buf, chunk[i].path, &chunk[i].node)
			if len(buf) >= 64<<10 {
				if err := emit(); err != nil {
					return Meta{}, err
				}
			}
		}
		meta.Nodes += int64(len(chunk))
		if len(chunk) > 0 {
			from = chunk[len(chunk)-1].path
		}
		clear(chunk) // drop references to the tree's data
		chunk = chunk[:0]
		if done {
			break
		}
		if err := o.pace(o.Now().Sub(began)); err != nil {
			return Meta{}, fmt.Errorf("%w after %d nodes", err, meta.Nodes)
		}
		began = o.Now()
		src(take)
	}

	buf = append(buf, tagEnd)
	buf = binary.AppendUvarint(buf, uint64(meta.Nodes))
	buf = binary.AppendUvarint(buf, uint64(meta.Sessions))
	h.Write(buf)
	buf = binary.BigEndian.AppendUint64(buf, h.Sum64())
	meta.RawBytes += int64(len(buf))
	if _, err := enc.Write(buf); err != nil {
		return Meta{}, fmt.Errorf("snapshot: writing the end record: %w", err)
	}
	if err := enc.Close(); err != nil {
		return Meta{}, fmt.Errorf("snapshot: finishing the %v body: %w", o.Codec, err)
	}
	if meta.EndZxid < meta.StartZxid {
		return Meta{}, fmt.Errorf("snapshot: the tree's last zxid went back during the walk, from %v at its start to %v at its end", meta.StartZxid, meta.EndZxid)
	}
	if _, err := cw.Write(appendTrailer(make([]byte, 0, TrailerBytes), hdr, meta.EndZxid)); err != nil {
		return Meta{}, fmt.Errorf("snapshot: writing the trailer at offset %d: %w", cw.n, err)
	}
	meta.Bytes = cw.n
	return meta, nil
}

// newEncoder returns the writer that stores the body with o.Codec. Its
// Close ends the stream (and is safe to call again).
func newEncoder(w io.Writer, o *Options) (io.WriteCloser, error) {
	switch o.Codec {
	case CodecZstd:
		enc, err := zstd.NewWriter(w, zstd.WithEncoderLevel(o.Level), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("snapshot: zstd: %w", err)
		}
		return enc, nil
	case CodecS2:
		return &s2Encoder{w: s2.NewWriter(w, s2.WriterConcurrency(1), s2.WriterBlockSize(s2BlockBytes))}, nil
	default:
		return nopCloser{w}, nil
	}
}

// s2Encoder makes a second Close harmless, as zstd's is.
type s2Encoder struct {
	w      *s2.Writer
	closed bool
}

func (e *s2Encoder) Write(p []byte) (int, error) { return e.w.Write(p) }

func (e *s2Encoder) Close() error {
	if e.closed {
		return nil
	}
	e.closed = true
	return e.w.Close()
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// appendNode encodes one node record.
func appendNode(b []byte, path string, n *tree.Node) []byte {
	b = append(b, tagNode)
	b = binary.AppendUvarint(b, uint64(len(path)))
	b = append(b, path...)
	b = append(b, byte(n.Kind))
	b = binary.AppendVarint(b, n.Owner)
	b = binary.AppendVarint(b, n.TTL)
	b = binary.AppendVarint(b, n.Czxid)
	b = binary.AppendVarint(b, n.Mzxid)
	b = binary.AppendVarint(b, n.Pzxid)
	b = binary.AppendVarint(b, n.Ctime)
	b = binary.AppendVarint(b, n.Mtime)
	b = binary.AppendVarint(b, int64(n.Version))
	b = binary.AppendVarint(b, int64(n.Cversion))
	b = binary.AppendVarint(b, int64(n.Aversion))
	if n.Data == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(n.Data))+1)
		b = append(b, n.Data...)
	}
	if n.ACL == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(n.ACL))+1)
		for _, a := range n.ACL {
			b = binary.AppendVarint(b, int64(a.Perms))
			b = binary.AppendUvarint(b, uint64(len(a.ID.Scheme)))
			b = append(b, a.ID.Scheme...)
			b = binary.AppendUvarint(b, uint64(len(a.ID.ID)))
			b = append(b, a.ID.ID...)
		}
	}
	return b
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
