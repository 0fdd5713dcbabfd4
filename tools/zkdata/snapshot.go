package zkdata

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/klauspost/compress/snappy"

	"zabd/log"
	"zabd/tree"
)

// File header magics ("ZKSN", "ZKLG") and the one format version there is.
const (
	snapMagic   int32 = 0x5A4B534E
	logMagic    int32 = 0x5A4B4C47
	fileVersion int32 = 2
	// openACLID is the ACL cache's id for OPEN_ACL_UNSAFE, never stored
	// in the cache itself.
	openACLID int64 = -1
)

// SnapshotNode is one znode as an Apache ZooKeeper snapshot holds it: the
// persisted stat (cversion counts creates, ephemeralOwner is the
// persisted encoding: session, container marker or TTL), data and ACL.
type SnapshotNode struct {
	Path string // "/" for the root (stored as "")
	Node tree.Node
}

// SnapshotInfo is what a snapshot says besides its nodes.
type SnapshotInfo struct {
	Zxid     log.Zxid // from the file name: the last txn applied when it began
	DBID     int64
	Sessions map[int64]int32 // id -> timeout ms
	Nodes    int
	// Digest is set when the snapshot carries ZooKeeper's tree digest
	// (3.6+): its zxid.
	DigestZxid log.Zxid
}

// snapshotOpener opens a snapshot file's decompressed stream by its name's
// extension, as ZooKeeper's SnapStream does: none (CHECKED), .gz (GZIP),
// .snappy (snappy-java's stream).
func openSnapshotStream(name string, r io.Reader) (io.Reader, error) {
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, &CorruptError{File: name, Reason: "not a gzip stream", Err: err}
		}
		return zr, nil
	case strings.HasSuffix(name, ".snappy"):
		return newSnappyJavaReader(name, r)
	}
	return r, nil
}

// ReadSnapshot reads a ZooKeeper snapshot stream (its file name names its
// zxid and compression), checking the file header and the Adler32 seal,
// and calls fn with each node in the stream's order (parents before
// children). It returns the sessions and counts.
func ReadSnapshot(name string, r io.Reader, fn func(SnapshotNode) error) (SnapshotInfo, error) {
	var info SnapshotInfo
	z, ok := ParseName(filepath.Base(name), "snapshot")
	if !ok {
		return info, fmt.Errorf("zkdata: %s is not named as a ZooKeeper snapshot (snapshot.<hex zxid>)", name)
	}
	info.Zxid = z
	src, err := openSnapshotStream(name, r)
	if err != nil {
		return info, err
	}
	sum := adler32.New()
	d := newReader(name, src, sum)
	if m := d.int("magic"); d.err == nil && m != snapMagic {
		d.fail(fmt.Sprintf("magic %#x is not a snapshot's (%#x)", m, snapMagic), nil)
	}
	if v := d.int("version"); d.err == nil && v != fileVersion {
		d.fail(fmt.Sprintf("format version %d (only %d exists)", v, fileVersion), nil)
	}
	info.DBID = d.long("dbid")
	n := d.int("session count")
	if d.err == nil && (n < 0 || n > maxField) {
		d.fail(fmt.Sprintf("session count %d", n), nil)
	}
	info.Sessions = make(map[int64]int32, min(max(n, 0), 1024))
	for i := int32(0); i < n && d.err == nil; i++ {
		id := d.long("session id")
		info.Sessions[id] = d.int("session timeout")
	}
	acls := map[int64][]tree.ACL{}
	count := d.int("acl cache size")
	if d.err == nil && (count < 0 || count > maxField) {
		d.fail(fmt.Sprintf("acl cache size %d", count), nil)
	}
	for i := int32(0); i < count && d.err == nil; i++ {
		id := d.long("acl id")
		acls[id] = d.aclList()
	}
	for d.err == nil {
		at := d.off
		path := d.string("path")
		if d.err != nil || path == "/" {
			break
		}
		var nd tree.Node
		nd.Data = d.buffer("data")
		aclID := d.long("acl")
		nd.Czxid = d.long("czxid")
		nd.Mzxid = d.long("mzxid")
		nd.Ctime = d.long("ctime")
		nd.Mtime = d.long("mtime")
		nd.Version = d.int("version")
		nd.Cversion = d.int("cversion")
		nd.Aversion = d.int("aversion")
		owner := d.long("ephemeralOwner")
		nd.Pzxid = d.long("pzxid")
		if d.err != nil {
			break
		}
		switch {
		case aclID == openACLID:
			nd.ACL = tree.OpenACLUnsafe
		case acls[aclID] != nil:
			nd.ACL = acls[aclID]
		default:
			d.err = &CorruptError{File: name, Offset: at, Reason: fmt.Sprintf("node %q refers to ACL %d, which the ACL cache does not hold", path, aclID)}
			continue
		}
		nd.Kind, nd.Owner, nd.TTL = tree.KindFromOwner(owner, true)
		if path == "" {
			path = "/"
		}
		info.Nodes++
		if err := fn(SnapshotNode{Path: path, Node: nd}); err != nil {
			return info, err
		}
	}
	if d.err != nil {
		return info, d.err
	}
	if !d.seal("the nodes") {
		return info, d.err
	}
	// What may follow, told apart by size (each section sealed): 3.6+
	// the tree digest (33 bytes), 3.9 the last processed zxid (21), both
	// (54), or nothing (3.5, or digests off).
	rest, err := io.ReadAll(io.LimitReader(d.r, 55))
	if err != nil {
		return info, fmt.Errorf("zkdata: reading %s: %w", name, err)
	}
	tail := newReader(name, bytes.NewReader(rest), d.sum)
	tail.off = d.off
	switch len(rest) {
	case 0:
	case 33, 54:
		info.DigestZxid = log.Zxid(tail.long("digest zxid"))
		tail.int("digest version")
		tail.long("digest")
		if tail.seal("the digest") && len(rest) == 54 {
			tail.long("last processed zxid")
			tail.seal("the last processed zxid")
		}
	case 21:
		tail.long("last processed zxid")
		tail.seal("the last processed zxid")
	default:
		return info, &CorruptError{File: name, Offset: d.off, Reason: fmt.Sprintf("%d bytes after the nodes' seal: not a digest (33), a last zxid (21) or both (54)", len(rest))}
	}
	return info, tail.err
}

// aclList reads a vector of ACL records.
func (d *reader) aclList() []tree.ACL {
	n, null := d.length("acl vector")
	if null || d.err != nil {
		return nil
	}
	out := make([]tree.ACL, 0, min(n, 64))
	for range n {
		perms := d.int("acl perms")
		scheme := d.string("acl scheme")
		id := d.string("acl id")
		if d.err != nil {
			return nil
		}
		out = append(out, tree.ACL{Perms: perms, ID: tree.Id{Scheme: scheme, ID: id}})
	}
	return out
}

// seal checks a seal: the Adler32 of every byte before it, then the string
// "/".
func (d *reader) seal(what string) bool {
	want := int64(d.sum.Sum32())
	got := d.long("checksum after " + what)
	slash := d.string("seal after " + what)
	if d.err != nil {
		return false
	}
	if got != want || slash != "/" {
		d.fail(fmt.Sprintf("checksum after %s is %#x, the stream's Adler32 is %#x", what, got, want), nil)
		return false
	}
	return true
}

// ParseName reads the zxid of a file named prefix.<hex zxid> (a snapshot
// may end in .gz or .snappy).
func ParseName(name, prefix string) (log.Zxid, bool) {
	rest, ok := strings.CutPrefix(name, prefix+".")
	if !ok {
		return 0, false
	}
	rest = strings.TrimSuffix(strings.TrimSuffix(rest, ".gz"), ".snappy")
	v, err := strconv.ParseUint(rest, 16, 64)
	if err != nil {
		return 0, false
	}
	return log.Zxid(v), true
}

// SnapshotWriter is what WriteSnapshot needs of a tree.
type SnapshotWriter struct {
	Zxid     log.Zxid // names the file: the last txn the state holds
	Sessions map[int64]int32
	// Walk calls fn with every node, parents before children.
	Walk func(fn func(path string, n *tree.Node) bool)
}

// WriteSnapshot writes an uncompressed ZooKeeper snapshot (what 3.8 writes
// by default) of s to w: header (dbid 0), sessions, the ACL cache, every
// node with its persisted stat, and the Adler32 seal. It ends there, as
// snapshots before 3.6 do; ZooKeeper reads the optional digest only if
// present.
func WriteSnapshot(w io.Writer, s SnapshotWriter) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	sum := adler32.New()
	out := io.MultiWriter(bw, sum)
	var jw writer
	flush := func() error {
		_, err := out.Write(jw.b)
		jw.b = jw.b[:0]
		return err
	}
	jw.int(snapMagic)
	jw.int(fileVersion)
	jw.long(0)
	ids := make([]int64, 0, len(s.Sessions))
	for id := range s.Sessions {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	jw.int(int32(len(ids)))
	for _, id := range ids {
		jw.long(id)
		jw.int(s.Sessions[id])
	}
	// The ACL cache: every distinct ACL list but the open one (-1).
	type entry struct {
		id  int64
		acl []tree.ACL
	}
	var cache []entry
	index := map[string]int64{}
	key := func(acl []tree.ACL) string {
		var b strings.Builder
		for _, a := range acl {
			b.WriteString(strconv.Itoa(int(a.Perms)))
			b.WriteByte(0)
			b.WriteString(a.ID.Scheme)
			b.WriteByte(0)
			b.WriteString(a.ID.ID)
			b.WriteByte(0)
		}
		return b.String()
	}
	openKey := key(tree.OpenACLUnsafe)
	s.Walk(func(_ string, n *tree.Node) bool {
		k := key(n.ACL)
		if _, ok := index[k]; !ok && k != openKey {
			index[k] = int64(len(cache) + 1)
			cache = append(cache, entry{int64(len(cache) + 1), n.ACL})
		}
		return true
	})
	jw.int(int32(len(cache)))
	for _, e := range cache {
		jw.long(e.id)
		jw.int(int32(len(e.acl)))
		for _, a := range e.acl {
			jw.int(a.Perms)
			jw.string(a.ID.Scheme)
			jw.string(a.ID.ID)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	var werr error
	s.Walk(func(path string, n *tree.Node) bool {
		if path == "/" {
			path = ""
		}
		jw.string(path)
		jw.buffer(n.Data)
		if k := key(n.ACL); k == openKey {
			jw.long(openACLID)
		} else {
			jw.long(index[k])
		}
		jw.long(n.Czxid)
		jw.long(n.Mzxid)
		jw.long(n.Ctime)
		jw.long(n.Mtime)
		jw.int(n.Version)
		jw.int(n.Cversion)
		jw.int(n.Aversion)
		jw.long(n.EphemeralOwner())
		jw.long(n.Pzxid)
		if len(jw.b) > 64<<10 {
			werr = flush()
		}
		return werr == nil
	})
	if werr != nil {
		return werr
	}
	jw.string("/")
	if err := flush(); err != nil {
		return err
	}
	jw.long(int64(sum.Sum32()))
	jw.string("/")
	if _, err := bw.Write(jw.b); err != nil {
		return err
	}
	return bw.Flush()
}

// snappy-java's stream (SnappyOutputStream): an 8-byte magic, two ints
// (version, compatible version), then blocks, each an int length and a
// raw snappy block.
var snappyJavaMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

type snappyJavaReader struct {
	name string
	r    *bufio.Reader
	buf  []byte
	off  int64
	cbuf []byte
}

func newSnappyJavaReader(name string, r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	hdr := make([]byte, 16)
	if _, err := io.ReadFull(br, hdr); err != nil || string(hdr[:8]) != string(snappyJavaMagic) {
		return nil, &CorruptError{File: name, Reason: "not a snappy-java stream (magic)", Err: err}
	}
	return &snappyJavaReader{name: name, r: br, off: 16}, nil
}

func (s *snappyJavaReader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		var l [4]byte
		if _, err := io.ReadFull(s.r, l[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return 0, io.EOF
			}
			return 0, &CorruptError{File: s.name, Offset: s.off, Reason: "truncated snappy block length", Err: err}
		}
		n := binary.BigEndian.Uint32(l[:])
		if n > maxField {
			return 0, &CorruptError{File: s.name, Offset: s.off, Reason: fmt.Sprintf("snappy block of %d bytes", n)}
		}
		if cap(s.cbuf) < int(n) {
			s.cbuf = make([]byte, n)
		}
		c := s.cbuf[:n]
		if _, err := io.ReadFull(s.r, c); err != nil {
			return 0, &CorruptError{File: s.name, Offset: s.off + 4, Reason: "truncated snappy block", Err: err}
		}
		out, err := snappy.Decode(nil, c)
		if err != nil {
			return 0, &CorruptError{File: s.name, Offset: s.off + 4, Reason: "bad snappy block", Err: err}
		}
		s.off += 4 + int64(n)
		s.buf = out
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}
