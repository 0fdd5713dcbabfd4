package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"zabd/tree"
)

// maxDecoderWindow bounds the memory a (possibly hostile) zstd frame header
// can make the decoder reserve; the writer's levels use at most 8 MiB.
const maxDecoderWindow = 64 << 20

// ReadHeader reads and checks only the header, and from version 3 on the
// codec byte after it: Version, Codec, StartZxid and Time. EndZxid stays
// zero from version 2 on: it is in the trailer (ReadMeta reads both).
func ReadHeader(r io.Reader) (Meta, error) {
	_, m, err := readHeader(r)
	if err == nil {
		_, err = readCodec(r, &m)
	}
	return m, err
}

// readCodec reads the codec byte that follows a version 3 header into
// m.Codec and returns it (for the body's checksum); before version 3 there
// is none, and it returns nil.
func readCodec(r io.Reader, m *Meta) ([]byte, error) {
	if m.Version < Version3 {
		return nil, nil
	}
	c := []byte{0}
	if _, err := io.ReadFull(r, c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &CorruptError{InHeader: true, Offset: HeaderBytes, Reason: "truncated: no codec byte after the header"}
		}
		return nil, fmt.Errorf("snapshot: reading the codec byte: %w", err)
	}
	if m.Codec = Codec(c[0]); !m.Codec.valid() {
		return nil, &CorruptError{InHeader: true, Offset: HeaderBytes, Reason: fmt.Sprintf("unknown codec %d", c[0])}
	}
	return c, nil
}

// ReadMeta reads what a snapshot of size bytes says about itself without
// reading its body: the header, from version 2 on the trailer, and from
// version 3 on the codec byte, so Version, Codec, StartZxid, EndZxid, Time
// and Bytes (= size); the counts stay zero. Three small reads at most,
// whatever the size: cheap enough for every
// snapshot of a store. The body is not verified, so a snapshot ReadMeta
// accepts may still fail Read. Damage in the header or trailer is a
// *CorruptError with a file offset.
func ReadMeta(r io.ReaderAt, size int64) (Meta, error) {
	hdr := make([]byte, HeaderBytes)
	if n, err := r.ReadAt(hdr, 0); n < HeaderBytes {
		if err == nil || errors.Is(err, io.EOF) {
			return Meta{}, &CorruptError{InHeader: true, Offset: int64(n), Reason: fmt.Sprintf("truncated header (%d of %d bytes)", n, HeaderBytes)}
		}
		return Meta{}, fmt.Errorf("snapshot: reading header: %w", err)
	}
	m, err := decodeHeader(hdr)
	if err != nil {
		return Meta{}, err
	}
	m.Bytes = size
	if !m.EndKnown() {
		return m, nil
	}
	prefix := int64(HeaderBytes)
	if m.Version >= Version3 {
		prefix++ // the codec byte
	}
	at := size - TrailerBytes
	if at <= prefix {
		return Meta{}, &CorruptError{InTrailer: true, Offset: size, Reason: fmt.Sprintf("no room for a body and the trailer: %d bytes in all, a version %d snapshot has more than %d", size, m.Version, prefix+TrailerBytes)}
	}
	if _, err := readCodec(io.NewSectionReader(r, HeaderBytes, 1), &m); err != nil {
		return Meta{}, err
	}
	tr := make([]byte, TrailerBytes)
	if n, err := r.ReadAt(tr, at); n < TrailerBytes {
		if err == nil || errors.Is(err, io.EOF) {
			return Meta{}, &CorruptError{InTrailer: true, Offset: at + int64(n), Reason: fmt.Sprintf("truncated trailer (%d of %d bytes)", n, TrailerBytes)}
		}
		return Meta{}, fmt.Errorf("snapshot: reading the trailer at offset %d: %w", at, err)
	}
	if err := decodeTrailer(tr, hdr, at, &m); err != nil {
		return Meta{}, err
	}
	return m, nil
}

func readHeader(r io.Reader) ([]byte, Meta, error) {
	hdr := make([]byte, HeaderBytes)
	if n, err := io.ReadFull(r, hdr); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, Meta{}, &CorruptError{InHeader: true, Offset: int64(n), Reason: fmt.Sprintf("truncated header (%d of %d bytes)", n, HeaderBytes)}
		}
		return nil, Meta{}, fmt.Errorf("snapshot: reading header: %w", err)
	}
	m, err := decodeHeader(hdr)
	return hdr, m, err
}

// Read reads a whole snapshot of any version into a new tree built with
// cfg, verifying the checksums, and sets the tree's LastZxid to
// Meta.StartZxid: the caller then replays the log from StartZxid+1.
// Damage is a *CorruptError; no tree is returned with an error.
func Read(r io.Reader, cfg tree.Config) (*tree.Tree, Meta, error) {
	return read(r, cfg, true)
}

// Check reads a snapshot as Read does, checking every checksum, the
// order of its records and its end, and counting them (Meta.Nodes,
// Sessions), but builds no tree: a fraction of Read's time and memory,
// for verifying a data dir.
func Check(r io.Reader) (Meta, error) {
	_, m, err := read(r, tree.Config{}, false)
	return m, err
}

func read(r io.Reader, cfg tree.Config, build bool) (*tree.Tree, Meta, error) {
	cr := &countReader{r: r}
	hdr, meta, err := readHeader(cr)
	if err != nil {
		return nil, Meta{}, err
	}
	h := xxhash.New()
	h.Write(hdr)
	c, err := readCodec(cr, &meta)
	if err != nil {
		return nil, Meta{}, err
	}
	h.Write(c)
	var src io.Reader = cr
	var tail *tailReader
	if meta.EndKnown() {
		// The trailer follows the body: keep it from the decoder.
		tail = &tailReader{r: cr, keep: TrailerBytes}
		src = tail
	}
	dec, err := newDecoder(src, meta.Codec)
	if err != nil {
		return nil, Meta{}, err
	}
	defer dec.Close()
	b := &body{src: dec, buf: make([]byte, 64<<10), h: h}
	t, err := b.readTree(cfg, &meta, build)
	if err != nil {
		return nil, Meta{}, err
	}
	if tail != nil {
		// The body ended where its stream did, and the decoder read
		// its source to the end to know that: what tail holds is the last
		// bytes of the file.
		tr, err := tail.tail()
		if err != nil {
			return nil, Meta{}, &CorruptError{InTrailer: true, Offset: cr.n, Reason: "reading the trailer", Err: err}
		}
		at := cr.n - int64(len(tr))
		if len(tr) < TrailerBytes {
			return nil, Meta{}, &CorruptError{InTrailer: true, Offset: cr.n, Reason: fmt.Sprintf("truncated trailer (%d of %d bytes)", len(tr), TrailerBytes)}
		}
		if err := decodeTrailer(tr, hdr, at, &meta); err != nil {
			return nil, Meta{}, err
		}
	}
	meta.Bytes = cr.n
	return t, meta, nil
}

// decoder reads a body's decompressed content.
type decoder interface {
	io.Reader
	Close()
}

// newDecoder returns the reader of a body stored with codec c.
func newDecoder(src io.Reader, c Codec) (decoder, error) {
	switch c {
	case CodecZstd:
		dec, err := zstd.NewReader(src, zstd.WithDecoderMaxWindow(maxDecoderWindow), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("snapshot: zstd: %w", err)
		}
		return dec, nil
	case CodecS2:
		return nopDecoder{s2.NewReader(src, s2.ReaderMaxBlockSize(s2BlockBytes))}, nil
	default:
		return nopDecoder{src}, nil
	}
}

type nopDecoder struct{ io.Reader }

func (nopDecoder) Close() {}

// readTree decodes the body records into a new tree. Decompression and
// parsing run on a second goroutine (parse), which hands batches of
// decoded records to this one; only this goroutine touches the tree. The
// first error in stream order wins: parse flushes every record before its
// own error, and a tree error here stops parse (done) and waits for it to
// exit before returning, so no goroutine outlives Read.
func (b *body) readTree(cfg tree.Config, meta *Meta, build bool) (*tree.Tree, error) {
	out := make(chan []record, pipeDepth)
	free := make(chan []record, pipeDepth+2)
	done := make(chan struct{})
	p := &parser{b: b, out: out, free: free, done: done}
	var perr error
	go func() {
		defer close(out)
		perr = p.parse(meta)
	}()
	t := tree.New(cfg)
	var terr error
	for recs := range out {
		if terr == nil && build {
			terr = putRecords(t, recs)
			if terr != nil {
				close(done) // parse stops at its next hand-over; drain until it closes out
			}
		}
		clear(recs) // drop references to paths and data before reuse
		select {
		case free <- recs[:0]:
		default:
		}
	}
	if terr != nil {
		return nil, terr
	}
	if perr != nil {
		return nil, perr
	}
	t.SetLastZxid(int64(meta.StartZxid))
	return t, nil
}

// pipeDepth is how many batches parse may run ahead of the tree; batchRecords
// is a batch's size.
const (
	pipeDepth    = 4
	batchRecords = 512
)

// record is one decoded session or node record and its body offset.
type record struct {
	at      int64
	secret  []byte // a session secret record when not nil
	session bool
	timeout int32
	id      int64 // session id
	path    string
	node    tree.Node
}

// putRecords restores a batch into t.
func putRecords(t *tree.Tree, recs []record) error {
	for i := range recs {
		r := &recs[i]
		if r.secret != nil {
			t.SetSessionSecret(r.secret)
			continue
		}
		if r.session {
			t.PutSession(r.id, r.timeout)
			continue
		}
		if err := t.PutNode(r.path, r.node); err != nil {
			return &CorruptError{Offset: r.at, Reason: "restoring a node", Err: err}
		}
	}
	return nil
}

// errStopped is parse's result when readTree stopped it; never returned by Read.
var errStopped = errors.New("snapshot: read stopped")

// parser decodes the body into batches of records for readTree.
type parser struct {
	b    *body
	out  chan<- []record
	free chan []record
	done <-chan struct{}
	cur  []record
}

// add queues r, handing the batch over when it is full.
func (p *parser) add(r record) error {
	if p.cur == nil {
		select {
		case p.cur = <-p.free:
		default:
			p.cur = make([]record, 0, batchRecords)
		}
	}
	p.cur = append(p.cur, r)
	if len(p.cur) == batchRecords {
		return p.flush()
	}
	return nil
}

// flush hands the pending records over, unless readTree has stopped.
func (p *parser) flush() error {
	if len(p.cur) == 0 {
		return nil
	}
	select {
	case p.out <- p.cur:
		p.cur = nil
		return nil
	case <-p.done:
		return errStopped
	}
}

// parse decodes every record, verifying the order of paths, the end
// record and the checksum, and fills meta's counts. Records before an
// error are handed over before it is returned.
func (p *parser) parse(meta *Meta) error {
	err := p.records(meta)
	if ferr := p.flush(); ferr != nil {
		return ferr
	}
	return err
}

func (p *parser) records(meta *Meta) error {
	b := p.b
	acls := aclCache{}
	var nodes, sessions int64
	prev := ""
	secrets := 0
	for {
		at := b.off()
		tag, err := b.byte()
		if err != nil {
			return b.corrupt(at, "reading a record tag", err)
		}
		switch tag {
		case tagSession:
			id, err := b.varint()
			if err != nil {
				return b.corrupt(at, "reading a session id", err)
			}
			to, err := b.varint()
			if err != nil {
				return b.corrupt(at, "reading a session timeout", err)
			}
			if int64(int32(to)) != to {
				return b.corrupt(at, fmt.Sprintf("session %#x timeout %d out of range", id, to), nil)
			}
			if err := p.add(record{at: at, session: true, id: id, timeout: int32(to)}); err != nil {
				return err
			}
			sessions++
		case tagSessionSecret:
			l, err := b.lenPrefix()
			if err != nil {
				return b.corrupt(at, "reading the session secret's length", err)
			}
			secret, err := b.bytes(l)
			if err != nil {
				return b.corrupt(at, "reading the session secret", err)
			}
			if secrets++; secrets > 1 || l < tree.MinSessionSecretBytes {
				return b.corrupt(at, fmt.Sprintf("session secret record %d of %d bytes (one of at least %d allowed)", secrets, l, tree.MinSessionSecretBytes), nil)
			}
			if err := p.add(record{at: at, secret: secret}); err != nil {
				return err
			}
		case tagNode:
			path, n, err := b.node(&acls)
			if err != nil {
				return b.corrupt(at, "reading a node", err)
			}
			if tree.ComparePaths(prev, path) >= 0 {
				return b.corrupt(at, fmt.Sprintf("node %q does not follow %q in path order", path, prev), nil)
			}
			if err := p.add(record{at: at, path: path, node: n}); err != nil {
				return err
			}
			prev = path
			nodes++
		case tagEnd:
			wantNodes, err := b.uvarint()
			if err != nil {
				return b.corrupt(at, "reading the end record", err)
			}
			wantSessions, err := b.uvarint()
			if err != nil {
				return b.corrupt(at, "reading the end record", err)
			}
			if wantNodes != uint64(nodes) || wantSessions != uint64(sessions) {
				return b.corrupt(at, fmt.Sprintf("end record counts %d nodes and %d sessions, read %d and %d",
					wantNodes, wantSessions, nodes, sessions), nil)
			}
			at = b.off()
			want := b.hashSum()
			sum, err := b.fixed(8)
			if err != nil {
				return b.corrupt(at, "reading the checksum", err)
			}
			if got := binary.BigEndian.Uint64(sum); got != want {
				return b.corrupt(at, fmt.Sprintf("checksum %#016x, content hashes to %#016x", got, want), nil)
			}
			more, err := b.more()
			if err != nil {
				return b.corrupt(b.off(), "after the checksum", err)
			}
			if more {
				return b.corrupt(b.off(), "data after the checksum", nil)
			}
			meta.Nodes, meta.Sessions, meta.RawBytes = nodes, sessions, b.off()
			return nil
		default:
			return b.corrupt(at, fmt.Sprintf("unknown record tag %d", tag), nil)
		}
	}
}

// node decodes a node record after its tag.
func (b *body) node(acls *aclCache) (string, tree.Node, error) {
	var n tree.Node
	// The path is read aside and, when the node has data, copied with it
	// into one allocation: the tree keeps a znode's path and value as one
	// heap object (tree's packPathData sees they are adjacent).
	raw, err := b.appendStr(b.pathScratch[:0])
	if err != nil {
		return "", n, err
	}
	b.pathScratch = raw
	kind, err := b.byte()
	if err != nil {
		return "", n, err
	}
	n.Kind = tree.NodeKind(kind)
	for _, p := range []*int64{&n.Owner, &n.TTL, &n.Czxid, &n.Mzxid, &n.Pzxid, &n.Ctime, &n.Mtime} {
		if *p, err = b.varint(); err != nil {
			return "", n, err
		}
	}
	for _, p := range []*int32{&n.Version, &n.Cversion, &n.Aversion} {
		v, err := b.varint()
		if err != nil {
			return "", n, err
		}
		if int64(int32(v)) != v {
			return "", n, fmt.Errorf("version %d out of range", v)
		}
		*p = int32(v)
	}
	dl, err := b.uvarint()
	if err != nil {
		return "", n, err
	}
	if dl > 0 && dl-1 > MaxFieldBytes {
		return "", n, fmt.Errorf("data length %d above %d", dl-1, MaxFieldBytes)
	}
	var path string
	if dl > 1 {
		buf := make([]byte, len(raw), len(raw)+int(dl-1))
		copy(buf, raw)
		if buf, err = b.appendN(buf, int(dl-1)); err != nil {
			return "", n, err
		}
		path, n.Data = unsafe.String(unsafe.SliceData(buf), len(raw)), buf[len(raw):len(buf):len(buf)]
	} else {
		path = string(raw)
		if dl == 1 {
			n.Data = []byte{}
		}
	}
	if n.ACL, err = b.acl(acls); err != nil {
		return "", n, err
	}
	return path, n, nil
}

// aclCache shares identical ACL lists between nodes (most nodes carry one
// of a handful), as ZooKeeper's ReferenceCountedACLCache does. The tree
// never mutates an ACL slice in place, so sharing is safe.
type aclCache struct {
	lists   [][]tree.ACL
	scratch []rawACL
	spans   []aclSpan
	arena   []byte
}

// aclSpan locates one entry's scheme and id in aclCache.arena.
type aclSpan struct{ s0, s1, i0, i1 int }

type rawACL struct {
	perms      int32
	scheme, id []byte
}

const maxCachedACLs = 256

func (b *body) acl(c *aclCache) ([]tree.ACL, error) {
	cnt, err := b.uvarint()
	if err != nil || cnt == 0 {
		return nil, err
	}
	cnt--
	if cnt > MaxFieldBytes {
		return nil, fmt.Errorf("acl count %d above %d", cnt, MaxFieldBytes)
	}
	c.scratch = c.scratch[:0]
	c.arena = c.arena[:0]
	c.spans = c.spans[:0]
	for i := uint64(0); i < cnt; i++ {
		p, err := b.varint()
		if err != nil {
			return nil, err
		}
		if int64(int32(p)) != p {
			return nil, fmt.Errorf("acl perms %d out of range", p)
		}
		var sp aclSpan
		sp.s0 = len(c.arena)
		if c.arena, err = b.appendStr(c.arena); err != nil {
			return nil, err
		}
		sp.s1, sp.i0 = len(c.arena), len(c.arena)
		if c.arena, err = b.appendStr(c.arena); err != nil {
			return nil, err
		}
		sp.i1 = len(c.arena)
		c.spans = append(c.spans, sp)
		c.scratch = append(c.scratch, rawACL{perms: int32(p)})
	}
	for i, sp := range c.spans {
		c.scratch[i].scheme = c.arena[sp.s0:sp.s1]
		c.scratch[i].id = c.arena[sp.i0:sp.i1]
	}
	for _, l := range c.lists {
		if equalACL(l, c.scratch) {
			return l, nil
		}
	}
	out := make([]tree.ACL, len(c.scratch))
	for i, r := range c.scratch {
		out[i] = tree.ACL{Perms: r.perms, ID: tree.Id{Scheme: string(r.scheme), ID: string(r.id)}}
	}
	if len(c.lists) < maxCachedACLs {
		c.lists = append(c.lists, out)
	}
	return out, nil
}

func equalACL(l []tree.ACL, raw []rawACL) bool {
	if len(l) != len(raw) {
		return false
	}
	for i, a := range l {
		if a.Perms != raw[i].perms || a.ID.Scheme != string(raw[i].scheme) || a.ID.ID != string(raw[i].id) {
			return false
		}
	}
	return true
}

// body reads the decompressed body: a buffered reader that hashes every
// byte it hands out (lazily, as the buffer is recycled) and knows its
// offset.
//
// Invariant: hashed <= r <= w <= len(buf); buf[hashed:r] is consumed but
// not yet hashed; base is the body offset of buf[0].
type body struct {
	src       io.Reader
	buf       []byte
	r, w      int
	hashed    int
	base      int64
	h         *xxhash.Digest
	srcClosed bool
	// pathScratch holds the node path being read (reused).
	pathScratch []byte
}

func (b *body) off() int64 { return b.base + int64(b.r) }

func (b *body) corrupt(at int64, what string, err error) error {
	reason := what
	var ce *CorruptError
	if errors.As(err, &ce) {
		return ce
	}
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		reason += ": truncated"
		err = nil
	}
	return &CorruptError{Offset: at, Reason: reason, Err: err}
}

// hashSum hashes what is consumed so far and returns the running sum.
func (b *body) hashSum() uint64 {
	b.h.Write(b.buf[b.hashed:b.r])
	b.hashed = b.r
	return b.h.Sum64()
}

// fill makes at least need (<= len(buf)) bytes available, or returns
// io.ErrUnexpectedEOF or the source's error.
func (b *body) fill(need int) error {
	if b.w-b.r >= need {
		return nil
	}
	b.h.Write(b.buf[b.hashed:b.r])
	copy(b.buf, b.buf[b.r:b.w])
	b.base += int64(b.r)
	b.w -= b.r
	b.r, b.hashed = 0, 0
	for b.w < need {
		if b.srcClosed {
			return io.ErrUnexpectedEOF
		}
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if err == io.EOF {
			b.srcClosed = true
		} else if err != nil {
			return err
		}
	}
	return nil
}

// more reports whether any byte follows.
func (b *body) more() (bool, error) {
	err := b.fill(1)
	if err == io.ErrUnexpectedEOF {
		return false, nil
	}
	return err == nil, err
}

func (b *body) byte() (byte, error) {
	if err := b.fill(1); err != nil {
		return 0, err
	}
	c := b.buf[b.r]
	b.r++
	return c, nil
}

// fixed returns the next n (<= len(buf)) bytes, valid until the next read.
func (b *body) fixed(n int) ([]byte, error) {
	if err := b.fill(n); err != nil {
		return nil, err
	}
	out := b.buf[b.r : b.r+n]
	b.r += n
	return out, nil
}

func (b *body) uvarint() (uint64, error) {
	if b.r < b.w {
		if c := b.buf[b.r]; c < 0x80 {
			b.r++
			return uint64(c), nil
		}
	}
	if b.w-b.r >= binary.MaxVarintLen64 {
		v, n := binary.Uvarint(b.buf[b.r:b.w])
		if n <= 0 {
			return 0, errors.New("bad varint")
		}
		b.r += n
		return v, nil
	}
	var v uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		c, err := b.byte()
		if err != nil {
			return 0, err
		}
		if i == binary.MaxVarintLen64-1 && c > 1 {
			return 0, errors.New("bad varint")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("bad varint")
}

func (b *body) varint() (int64, error) {
	u, err := b.uvarint()
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x, err
}

// bytes reads n bytes into a new slice, growing it as bytes arrive so that
// a bogus length costs no more memory than the stream really holds.
func (b *body) bytes(n int) ([]byte, error) {
	out := make([]byte, 0, min(n, len(b.buf)))
	return b.appendN(out, n)
}

func (b *body) appendN(dst []byte, n int) ([]byte, error) {
	for n > 0 {
		if b.r == b.w {
			if err := b.fill(1); err != nil {
				return nil, err
			}
		}
		k := min(n, b.w-b.r)
		dst = append(dst, b.buf[b.r:b.r+k]...)
		b.r += k
		n -= k
	}
	return dst, nil
}

// lenPrefix reads a uvarint length bounded by MaxFieldBytes.
func (b *body) lenPrefix() (int, error) {
	l, err := b.uvarint()
	if err != nil {
		return 0, err
	}
	if l > MaxFieldBytes {
		return 0, fmt.Errorf("length %d above %d", l, MaxFieldBytes)
	}
	return int(l), nil
}

func (b *body) str() (string, error) {
	l, err := b.lenPrefix()
	if err != nil {
		return "", err
	}
	if l <= len(b.buf) {
		s, err := b.fixed(l)
		return string(s), err
	}
	s, err := b.bytes(l)
	return string(s), err
}

func (b *body) appendStr(dst []byte) ([]byte, error) {
	l, err := b.lenPrefix()
	if err != nil {
		return nil, err
	}
	return b.appendN(dst, l)
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
