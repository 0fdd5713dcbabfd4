package transport

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/log"
	"zabd/zab/election"
	"zabd/zab/peer"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecode")

// randUint returns values of every magnitude, zero included.
func randUint(r *rand.Rand) uint64 {
	if r.IntN(8) == 0 {
		return 0
	}
	return r.Uint64() >> r.IntN(64)
}

func randBytes(r *rand.Rand, max int) []byte {
	n := r.IntN(max + 1)
	if n == 0 {
		return nil
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randMessage returns a message of type typ with every field random,
// whether or not that type uses it.
func randMessage(r *rand.Rand, typ peer.Type) peer.Message {
	m := peer.Message{
		Type: typ, From: randUint(r), To: randUint(r), Conn: randUint(r),
		Epoch: uint32(randUint(r)), Zxid: log.Zxid(randUint(r)), Prev: log.Zxid(randUint(r)),
		Observer: r.IntN(2) == 0, NewLeaderAck: r.IntN(2) == 0, SyncID: randUint(r),
		Data: randBytes(r, 64),
	}
	for range r.IntN(5) {
		m.Entries = append(m.Entries, peer.Entry{Zxid: log.Zxid(randUint(r)), Data: randBytes(r, 64)})
	}
	if typ == peer.Vote || r.IntN(4) == 0 {
		m.Vote = election.Notification{
			From: election.ID(randUint(r)), To: election.ID(randUint(r)),
			State: election.State(r.IntN(5)), Round: randUint(r),
			Vote: election.Vote{Leader: election.ID(randUint(r)), Zxid: randUint(r), PeerEpoch: uint32(randUint(r))},
		}
	}
	switch r.IntN(3) {
	case 0:
		m.Snapshot = []byte{}
	case 1:
		m.Snapshot = randBytes(r, 256)
	}
	return m
}

// allTypes are the types peer names.
var allTypes = func() (ts []peer.Type) {
	for t := peer.Vote; !strings.HasPrefix(t.String(), "Type("); t++ {
		ts = append(ts, t)
	}
	return ts
}()

// normalize returns m as decoding returns it: empty byte strings and
// entries nil, an empty snapshot []byte{}.
func normalize(m peer.Message) peer.Message {
	if len(m.Data) == 0 {
		m.Data = nil
	}
	if len(m.Entries) == 0 {
		m.Entries = nil
	}
	m.Entries = slices.Clone(m.Entries)
	for i := range m.Entries {
		if len(m.Entries[i].Data) == 0 {
			m.Entries[i].Data = nil
		}
	}
	if b, ok := m.Snapshot.([]byte); ok && len(b) == 0 {
		m.Snapshot = []byte{}
	}
	return m
}

// encode returns a message's body.
func encode(t testing.TB, m peer.Message) []byte {
	head, tail, err := appendMessage(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	return append(head, tail...)
}

func frame(head, tail []byte) []byte {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	writeFrame(w, head, tail)
	w.Flush()
	return buf.Bytes()
}

func TestCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, typ := range allTypes {
		t.Run(typ.String(), func(t *testing.T) {
			for range 500 {
				m := randMessage(r, typ)
				head, tail, err := appendMessage(nil, &m)
				if err != nil {
					t.Fatal(err)
				}
				body, err := readFrame(bufio.NewReader(bytes.NewReader(frame(head, tail))), 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				got, err := decodeMessage(body)
				if err != nil {
					t.Fatalf("%v: %v", m, err)
				}
				if !reflect.DeepEqual(normalize(m), got) {
					t.Fatalf("round trip (-want +got):\n%s", cmp.Diff(normalize(m), got))
				}
			}
		})
	}
}

func TestEncodeBadSnapshot(t *testing.T) {
	m := peer.Message{Type: peer.Snap, Snapshot: "not bytes"}
	if _, _, err := appendMessage(nil, &m); err == nil {
		t.Fatal("a string snapshot encoded")
	}
}

func TestReadFrameBroken(t *testing.T) {
	good := frame(encode(t, peer.Message{Type: peer.Ack, From: 1, To: 2, Zxid: 7, Data: []byte("payload")}), nil)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	huge := binary.BigEndian.AppendUint32(nil, 200<<20)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"torn length", good[:3], io.ErrUnexpectedEOF},
		{"torn body", good[:10], io.ErrUnexpectedEOF},
		{"torn checksum", good[:len(good)-1], io.ErrUnexpectedEOF},
		{"flipped body byte", flip(6), ErrCorrupt},
		{"flipped checksum byte", flip(len(good) - 1), ErrCorrupt},
		{"flipped length byte", flip(3), nil}, // misframed: corrupt or torn
		{"zero-filled tail", append(bytes.Clone(good[:len(good)-8]), make([]byte, 8)...), ErrCorrupt},
		{"all zeroes", make([]byte, 64), ErrCorrupt},
		{"longer than max", binary.BigEndian.AppendUint32(nil, 1<<20+1), ErrTooLarge},
		{"claims 200 MiB, sends 10 bytes", append(huge, make([]byte, 10)...), io.ErrUnexpectedEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			max := 1 << 20
			if strings.HasPrefix(tc.name, "claims") {
				max = 256 << 20
			}
			_, err := readFrame(bufio.NewReader(bytes.NewReader(tc.in)), max)
			switch {
			case err == nil:
				t.Fatal("read a broken frame")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDecodeBroken(t *testing.T) {
	valid := encode(t, peer.Message{Type: peer.Proposal, From: 1, To: 2, Entries: []peer.Entry{{Zxid: 1, Data: []byte("x")}}})
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"type only", []byte{byte(peer.Ack)}},
		{"type zero", append([]byte{0}, valid[1:]...)},
		{"unknown flag", append([]byte{valid[0], 0x80}, valid[2:]...)},
		{"trailing byte", append(bytes.Clone(valid), 0)},
		{"truncated", valid[:len(valid)-1]},
		{"epoch over 32 bits", append([]byte{byte(peer.Ack), 0, 1, 2, 0}, binary.AppendUvarint(nil, 1<<32)...)},
		{"entry count beyond the body", append([]byte{byte(peer.Ack), 0, 1, 2, 0, 0, 0, 0, 0}, binary.AppendUvarint(nil, 1<<60)...)},
		{"data length beyond the body", []byte{byte(peer.Ack), 0, 1, 2, 0, 0, 0, 0, 0, 0, 100, 1}},
		{"overlong varint", append([]byte{byte(peer.Ack), 0}, bytes.Repeat([]byte{0xff}, 11)...)},
		{"vote flag with a zero vote", []byte{byte(peer.Vote), flagVote, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if m, err := decodeMessage(tc.in); err == nil {
				t.Fatalf("decoded %v", m)
			} else if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
	if _, err := decodeMessage(valid); err != nil {
		t.Fatalf("the valid body: %v", err)
	}
}

func TestHandshakeDecode(t *testing.T) {
	good := appendHandshake(nil, electionPort, 3, 1<<40)
	k, from, to, err := decodeHandshake(good)
	if err != nil || k != electionPort || from != 3 || to != 1<<40 {
		t.Fatalf("got %v %d %d %v", k, from, to, err)
	}
	if len(good) > handshakeMax {
		t.Fatalf("handshake of %d bytes, bound %d", len(good), handshakeMax)
	}
	for _, bad := range [][]byte{nil, good[:5], good[:len(good)-1], append(bytes.Clone(good), 0),
		append([]byte("XABT"), good[4:]...), append([]byte("ZABT\x02"), good[5:]...), append([]byte("ZABT\x01\x02"), good[6:]...)} {
		if _, _, _, err := decodeHandshake(bad); !errors.Is(err, ErrHandshake) {
			t.Errorf("%q: got %v, want ErrHandshake", bad, err)
		}
	}
}

// FuzzDecode holds decodeMessage to: no panic, allocation bounded by the
// input (the entry count check), and decode∘encode∘decode = decode.
// Seeds: testdata/fuzz/FuzzDecode (go test -run TestFuzzCorpus -update-corpus).
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeMessage(body)
		if err != nil {
			return
		}
		again, err := decodeMessage(encode(t, m))
		if err != nil {
			t.Fatalf("re-encoding %v: %v", m, err)
		}
		if d := cmp.Diff(m, again); d != "" {
			t.Fatalf("decode(encode(m)) != m (-m +again):\n%s", d)
		}
	})
}

// TestFuzzCorpus checks the committed seed corpus has a valid body of
// every type, and rewrites it with -update-corpus.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	r := rand.New(rand.NewPCG(3, 4))
	if *updateCorpus {
		os.RemoveAll(dir)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		seeds := map[string][]byte{"empty": nil, "garbage": []byte("\x0c\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")}
		for _, typ := range allTypes {
			seeds[strings.ToLower(typ.String())] = encode(t, randMessage(r, typ))
		}
		big := randMessage(r, peer.Proposal)
		big.Entries = make([]peer.Entry, 50)
		for i := range big.Entries {
			big.Entries[i] = peer.Entry{Zxid: log.Zxid(i + 1), Data: randBytes(r, 16)}
		}
		seeds["proposal-50-entries"] = encode(t, big)
		for name, b := range seeds {
			if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range allTypes {
		if _, err := os.Stat(filepath.Join(dir, strings.ToLower(typ.String()))); err != nil {
			t.Errorf("no seed for %v (go test -run TestFuzzCorpus -update-corpus): %v", typ, err)
		}
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(string(raw)), "go test fuzz v1\n[]byte(")
		body, err := strconv.Unquote(strings.TrimSuffix(q, ")"))
		if !ok || err != nil {
			t.Fatalf("%s: not a corpus file: %v", e.Name(), err)
		}
		if _, err := decodeMessage([]byte(body)); (err == nil) != (e.Name() != "empty" && e.Name() != "garbage") {
			t.Errorf("%s: decode: %v", e.Name(), err)
		}
	}
}
