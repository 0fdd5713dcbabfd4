package member

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"

	"zabd/tree"
)

// What a learner forwards to its leader (peer.Forward's data).
const (
	kindWrite = 1 // a client's write, createSession or closeSession
	kindTouch = 2 // sessions the learner's clients kept alive since the last
	// kindClaim: a session re-attached to this learner; the leader makes
	// the learner the session's owner, so writes still arriving through
	// the member the client left are refused SessionMoved.
	kindClaim = 3
)

// envelope is a forwarded request.
type envelope struct {
	Kind    uint8        `json:"k"`
	Session int64        `json:"s,omitempty"`
	Req     tree.Request `json:"r,omitempty"`
	Touches []int64      `json:"t,omitempty"`
}

// The binary form: the byte envelopeV2, the kind, then for a write the
// session and the request, for a touch the sessions, all as varints and
// length-prefixed strings and bytes (length -1: nil, so nil and empty
// znode data stay apart). A request carries what the leader's prep reads
// of a write: op, cxid, path, data, ACL, mode, TTL, version, session
// timeout, the session's identities, and multi's sub-requests. Members
// of the build before it sent JSON (first byte '{'), still decoded so an
// ensemble can be restarted member by member.
//
// envelopeV3 is V2 with the client's address (a string) after a write's
// request; it is sent only for a request that has one (createSession), so
// every other request stays readable by a member of the build before.
const (
	envelopeV2 = 2
	envelopeV3 = 3
)

// maxEnvelopeDepth bounds nested sub-requests (multi inside multi is
// refused by prep; one level is all a valid request has).
const maxEnvelopeDepth = 2

func encodeEnvelope(e envelope) []byte {
	b := make([]byte, 0, 64+len(e.Req.Path)+len(e.Req.Data)+8*len(e.Touches)+len(e.Req.Client))
	v := byte(envelopeV2)
	if e.Kind == kindWrite && e.Req.Client != "" {
		v = envelopeV3
	}
	b = append(b, v, e.Kind)
	switch e.Kind {
	case kindTouch:
		b = binary.AppendVarint(b, int64(len(e.Touches)))
		for _, s := range e.Touches {
			b = binary.AppendVarint(b, s)
		}
	case kindClaim:
		b = binary.AppendVarint(b, e.Session)
	default:
		b = binary.AppendVarint(b, e.Session)
		b = appendRequest(b, &e.Req)
		if v == envelopeV3 {
			b = appendString(b, e.Req.Client)
		}
	}
	return b
}

func appendRequest(b []byte, r *tree.Request) []byte {
	b = binary.AppendVarint(b, int64(r.Op))
	b = binary.AppendVarint(b, int64(r.Cxid))
	b = appendString(b, r.Path)
	b = appendBytes(b, r.Data)
	if r.ACL == nil {
		b = binary.AppendVarint(b, -1)
	} else {
		b = binary.AppendVarint(b, int64(len(r.ACL)))
		for _, a := range r.ACL {
			b = binary.AppendVarint(b, int64(a.Perms))
			b = appendString(b, a.ID.Scheme)
			b = appendString(b, a.ID.ID)
		}
	}
	b = binary.AppendVarint(b, int64(r.Mode))
	b = binary.AppendVarint(b, r.TTL)
	b = binary.AppendVarint(b, int64(r.Version))
	b = binary.AppendVarint(b, int64(r.SessionTimeout))
	if r.Auth == nil {
		b = binary.AppendVarint(b, -1)
	} else {
		b = binary.AppendVarint(b, int64(len(r.Auth)))
		for _, id := range r.Auth {
			b = appendString(b, id.Scheme)
			b = appendString(b, id.ID)
		}
	}
	if r.Ops == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(r.Ops)))
	for i := range r.Ops {
		b = appendRequest(b, &r.Ops[i])
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	if p == nil {
		return binary.AppendVarint(b, -1)
	}
	b = binary.AppendVarint(b, int64(len(p)))
	return append(b, p...)
}

func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if len(b) > 0 && b[0] == '{' {
		// A pointer of its own: &e would put every envelope on the heap.
		j := new(envelope)
		if err := json.Unmarshal(b, j); err != nil {
			return e, fmt.Errorf("member: a forwarded request that does not decode: %w", err)
		}
		e = *j
	} else {
		d := envDecoder{b: b}
		v := d.byte()
		if v != envelopeV2 && v != envelopeV3 && d.err == nil {
			return e, fmt.Errorf("member: a forwarded request of unknown format %d", v)
		}
		e.Kind = d.byte()
		switch e.Kind {
		case kindTouch:
			n := d.count(1)
			for i := 0; i < n && d.err == nil; i++ {
				e.Touches = append(e.Touches, d.varint())
			}
		case kindWrite:
			e.Session = d.varint()
			e.Req = d.request(0)
			if v == envelopeV3 {
				e.Req.Client = d.string()
			}
		case kindClaim:
			e.Session = d.varint()
		}
		if d.err == nil && len(d.b) > 0 {
			d.err = fmt.Errorf("%d bytes after the request", len(d.b))
		}
		if d.err != nil {
			return envelope{}, fmt.Errorf("member: a forwarded request that does not decode (%d bytes): %w", len(b), d.err)
		}
	}
	if e.Kind != kindWrite && e.Kind != kindTouch && e.Kind != kindClaim {
		return e, fmt.Errorf("member: a forwarded request of unknown kind %d", e.Kind)
	}
	return e, nil
}

var errEnvelopeShort = errors.New("cut short")

// envDecoder reads the binary form; the first error sticks and later
// reads return zero values.
type envDecoder struct {
	b   []byte
	err error
}

func (d *envDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *envDecoder) byte() byte {
	if len(d.b) < 1 {
		d.fail(errEnvelopeShort)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *envDecoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(errEnvelopeShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *envDecoder) int32() int32 {
	v := d.varint()
	if int64(int32(v)) != v {
		d.fail(fmt.Errorf("%d does not fit 32 bits", v))
		return 0
	}
	return int32(v)
}

// count reads a length of items at least minBytes long each (-1 for nil
// is the caller's to allow): no length may promise more than remains.
func (d *envDecoder) count(minBytes int) int {
	n := d.varint()
	if n < 0 || n > int64(len(d.b)/minBytes) {
		d.fail(fmt.Errorf("length %d with %d bytes left", n, len(d.b)))
		return 0
	}
	return int(n)
}

// nilOrCount reads a length where -1 means nil.
func (d *envDecoder) nilOrCount(minBytes int) (int, bool) {
	if v, n := binary.Varint(d.b); n > 0 && v == -1 {
		d.b = d.b[n:]
		return 0, true
	}
	return d.count(minBytes), false
}

func (d *envDecoder) string() string {
	n, ok := binary.Uvarint(d.b)
	if ok <= 0 || n > uint64(len(d.b)-ok) {
		d.fail(errEnvelopeShort)
		return ""
	}
	s := string(d.b[ok : ok+int(n)])
	d.b = d.b[ok+int(n):]
	return s
}

// pathAndData reads a string then bytes (string, bytes) into one
// allocation, the string first: the tree keeps a znode's path and value
// that way (a create's or a set's apply then copies neither again), and
// a write costs one allocation for both instead of two.
func (d *envDecoder) pathAndData() (string, []byte) {
	n, ok := binary.Uvarint(d.b)
	if ok <= 0 || n > uint64(len(d.b)-ok) {
		d.fail(errEnvelopeShort)
		return "", nil
	}
	path := d.b[ok : ok+int(n)]
	d.b = d.b[ok+int(n):]
	m, isNil := d.nilOrCount(1)
	if d.err != nil {
		return "", nil
	}
	if isNil || m == 0 {
		var data []byte
		if !isNil {
			data = []byte{}
		}
		return string(path), data
	}
	joined := make([]byte, len(path)+m)
	copy(joined, path)
	copy(joined[len(path):], d.b[:m])
	d.b = d.b[m:]
	return unsafe.String(unsafe.SliceData(joined), len(path)), joined[len(path):len(joined):len(joined)]
}

func (d *envDecoder) request(depth int) tree.Request {
	var r tree.Request
	r.Op = tree.Op(d.int32())
	r.Cxid = d.int32()
	r.Path, r.Data = d.pathAndData()
	if n, isNil := d.nilOrCount(3); !isNil {
		r.ACL = make([]tree.ACL, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			r.ACL = append(r.ACL, tree.ACL{Perms: d.int32(), ID: tree.Id{Scheme: d.string(), ID: d.string()}})
		}
	}
	r.Mode = tree.CreateMode(d.int32())
	r.TTL = d.varint()
	r.Version = d.int32()
	r.SessionTimeout = d.int32()
	if n, isNil := d.nilOrCount(2); !isNil {
		r.Auth = make([]tree.Id, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			r.Auth = append(r.Auth, tree.Id{Scheme: d.string(), ID: d.string()})
		}
	}
	if n, isNil := d.nilOrCount(12); !isNil {
		if depth+1 >= maxEnvelopeDepth && n > 0 {
			d.fail(errors.New("sub-requests nested too deep"))
			return r
		}
		r.Ops = make([]tree.Request, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			r.Ops = append(r.Ops, d.request(depth+1))
		}
	}
	return r
}
