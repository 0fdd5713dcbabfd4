package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/cespare/xxhash/v2"

	"zabd/log"
	"zabd/zab/election"
	"zabd/zab/peer"
)

var (
	// ErrCorrupt: a frame failed its checksum or a body did not decode.
	ErrCorrupt = errors.New("transport: corrupt frame")
	// ErrTooLarge: a frame is longer than MaxMessageBytes.
	ErrTooLarge = errors.New("transport: frame too large")
	// ErrHandshake: a connection did not open with a valid handshake.
	ErrHandshake = errors.New("transport: bad handshake")
)

const (
	magic   = "ZABT"
	version = 1
	// handshakeMax bounds a handshake body: magic, version, kind, two uvarints.
	handshakeMax = 4 + 1 + 1 + 2*binary.MaxVarintLen64
)

const (
	flagObserver = 1 << iota
	flagNewLeaderAck
	flagVote
	flagSnapshot
	flagsKnown = 1<<iota - 1
)

// kind is which port a connection belongs to.
type kind uint8

const (
	quorumPort kind = iota
	electionPort
)

func (k kind) String() string {
	if k == electionPort {
		return "election"
	}
	return "quorum"
}

// appendMessage appends the body of m to dst, all of it but the snapshot
// bytes, which it returns as tail (the body is head followed by tail), so
// that a snapshot is written without being copied.
func appendMessage(dst []byte, m *peer.Message) (head, tail []byte, err error) {
	var flags byte
	if m.Observer {
		flags |= flagObserver
	}
	if m.NewLeaderAck {
		flags |= flagNewLeaderAck
	}
	if m.Vote != (election.Notification{}) {
		flags |= flagVote
	}
	if m.Snapshot != nil {
		b, ok := m.Snapshot.([]byte)
		if !ok {
			return dst, nil, fmt.Errorf("transport: %s: snapshot is a %T, not []byte", m.Type, m.Snapshot)
		}
		flags |= flagSnapshot
		tail = b
	}
	dst = append(dst, byte(m.Type), flags)
	for _, v := range [...]uint64{m.From, m.To, m.Conn, uint64(m.Epoch), uint64(m.Zxid), uint64(m.Prev), m.SyncID} {
		dst = binary.AppendUvarint(dst, v)
	}
	dst = binary.AppendUvarint(dst, uint64(len(m.Entries)))
	for _, e := range m.Entries {
		dst = binary.AppendUvarint(dst, uint64(e.Zxid))
		dst = appendBytes(dst, e.Data)
	}
	dst = appendBytes(dst, m.Data)
	if flags&flagVote != 0 {
		v := &m.Vote
		dst = binary.AppendUvarint(dst, uint64(v.From))
		dst = binary.AppendUvarint(dst, uint64(v.To))
		dst = append(dst, byte(v.State))
		for _, x := range [...]uint64{v.Round, uint64(v.Vote.Leader), v.Vote.Zxid, uint64(v.Vote.PeerEpoch)} {
			dst = binary.AppendUvarint(dst, x)
		}
	}
	if flags&flagSnapshot != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(tail)))
	}
	return dst, tail, nil
}

func appendBytes(dst, b []byte) []byte {
	return append(binary.AppendUvarint(dst, uint64(len(b))), b...)
}

// decoder reads a body; the first error sticks and later reads return zero.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
}

func (d *decoder) byte(what string) byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint32(what string) uint32 {
	v := d.uvarint(what)
	if v > math.MaxUint32 {
		d.fail(what)
		return 0
	}
	return uint32(v)
}

// bytes returns a length-prefixed byte string, aliasing the body (capped,
// so that appending to it never writes over what follows); nil when empty.
func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(what)
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

// decodeMessage decodes a body. The message's byte slices alias body.
// Allocation is bounded by a small multiple of len(body).
func decodeMessage(body []byte) (peer.Message, error) {
	d := decoder{b: body}
	var m peer.Message
	m.Type = peer.Type(d.byte("type"))
	flags := d.byte("flags")
	// A type this build does not name passes: the core ignores it, and a
	// newer member may send one.
	if d.err == nil && m.Type == 0 {
		d.fail("type 0")
	}
	if flags&^flagsKnown != 0 {
		d.fail(fmt.Sprintf("unknown flags %#x", flags))
	}
	m.Observer = flags&flagObserver != 0
	m.NewLeaderAck = flags&flagNewLeaderAck != 0
	m.From = d.uvarint("from")
	m.To = d.uvarint("to")
	m.Conn = d.uvarint("conn")
	m.Epoch = d.uint32("epoch")
	m.Zxid = log.Zxid(d.uvarint("zxid"))
	m.Prev = log.Zxid(d.uvarint("prev"))
	m.SyncID = d.uvarint("sync id")
	// An entry takes two bytes at least: the count cannot exceed half of
	// what is left, so a hostile count cannot make us allocate much.
	if n := d.uvarint("entries"); d.err == nil && n > uint64(len(d.b)/2) {
		d.fail("entry count")
	} else if n > 0 {
		m.Entries = make([]peer.Entry, n)
		for i := range m.Entries {
			m.Entries[i].Zxid = log.Zxid(d.uvarint("entry zxid"))
			m.Entries[i].Data = d.bytes("entry data")
		}
	}
	m.Data = d.bytes("data")
	if flags&flagVote != 0 {
		v := &m.Vote
		v.From = election.ID(d.uvarint("vote from"))
		v.To = election.ID(d.uvarint("vote to"))
		v.State = election.State(d.byte("vote state"))
		v.Round = d.uvarint("vote round")
		v.Vote.Leader = election.ID(d.uvarint("vote leader"))
		v.Vote.Zxid = d.uvarint("vote zxid")
		v.Vote.PeerEpoch = d.uint32("vote peer epoch")
		if d.err == nil && *v == (election.Notification{}) {
			d.fail("empty vote") // the encoder sets the flag only for a non-zero vote
		}
	}
	if flags&flagSnapshot != 0 {
		s := d.bytes("snapshot")
		if s == nil {
			s = []byte{}
		}
		m.Snapshot = s
	}
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return peer.Message{}, d.err
	}
	return m, nil
}

// writeFrame writes one frame whose body is head followed by tail.
func writeFrame(w *bufio.Writer, head, tail []byte) error {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(head)+len(tail)))
	var h xxhash.Digest
	h.Reset()
	h.Write(head)
	h.Write(tail)
	w.Write(hdr[:])
	w.Write(head)
	w.Write(tail)
	_, err := w.Write(binary.BigEndian.AppendUint64(hdr[:0], h.Sum64()))
	return err // a bufio.Writer's error sticks: the last Write reports any
}

// readFrame reads one frame and returns its body, checked. It allocates
// no more than about twice what it has actually received, whatever the
// length prefix claims.
func readFrame(r *bufio.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, n, max)
	}
	total := int(n) + 8
	b := make([]byte, 0, min(total, 1<<20))
	for len(b) < total {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(total-len(b), len(b)))
		}
		k, err := io.ReadFull(r, b[len(b):min(cap(b), total)])
		b = b[:len(b)+k]
		if err != nil {
			return nil, noEOF(err)
		}
	}
	body := b[:n:n]
	if binary.BigEndian.Uint64(b[n:]) != xxhash.Sum64(body) {
		return nil, fmt.Errorf("%w: checksum mismatch in a %d-byte frame", ErrCorrupt, n)
	}
	return body, nil
}

// noEOF turns an EOF inside a frame into ErrUnexpectedEOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func appendHandshake(dst []byte, k kind, from, to peer.ID) []byte {
	dst = append(dst, magic...)
	dst = append(dst, version, byte(k))
	dst = binary.AppendUvarint(dst, from)
	return binary.AppendUvarint(dst, to)
}

func decodeHandshake(body []byte) (k kind, from, to peer.ID, err error) {
	if len(body) < 6 || string(body[:4]) != magic {
		return 0, 0, 0, fmt.Errorf("%w: no magic", ErrHandshake)
	}
	if body[4] != version {
		return 0, 0, 0, fmt.Errorf("%w: version %d, want %d", ErrHandshake, body[4], version)
	}
	d := decoder{b: body[6:]}
	from, to = d.uvarint("from"), d.uvarint("to")
	if d.err != nil || len(d.b) > 0 || body[5] > byte(electionPort) {
		return 0, 0, 0, fmt.Errorf("%w: malformed", ErrHandshake)
	}
	return kind(body[5]), from, to, nil
}
