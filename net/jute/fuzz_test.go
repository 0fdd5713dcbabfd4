package jute

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"unsafe"

	"zabd/tree"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the golden seed files under testdata/fuzz")

// The fuzz targets get the golden cases as seeds via f.Add, and the same
// seeds are committed under testdata/fuzz/<Target>/golden-* (written by
// TestWriteFuzzSeeds -update-seeds) next to entries the fuzzer found.

func FuzzReadFrame(f *testing.F) {
	for _, tc := range requestCases() {
		f.Add(AppendFrame(nil, hx(tc.wire)))
	}
	f.Add(hx("ffffffff"))
	f.Add(hx("7fffffff 00"))
	f.Add([]byte("ruok"))
	const maxLen = 1 << 12
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, err := ReadFrame(bytes.NewReader(data), maxLen, nil)
		if err != nil {
			if !errors.Is(err, ErrTooLarge) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			if errors.Is(err, ErrTooLarge) {
				if n := int32(uint32(data[0])<<24 | uint32(data[1])<<16 | uint32(data[2])<<8 | uint32(data[3])); n >= 0 && n <= maxLen {
					t.Fatalf("length %d within limit reported as too large", n)
				}
			}
			return
		}
		if len(frame) > maxLen {
			t.Fatalf("frame of %d bytes above limit %d", len(frame), maxLen)
		}
		if got := AppendFrame(nil, frame); !bytes.Equal(got, data[:len(got)]) {
			t.Fatalf("re-framed %x is not a prefix of the input %x", got, data)
		}
		// ReadFirstFrame agrees unless the input starts with a 4lw.
		frame2, word, err := ReadFirstFrame(bytes.NewReader(data), maxLen, nil)
		if _, isWord := IsFourLetterWord(data); isWord {
			if word == "" || frame2 != nil || err != nil {
				t.Fatalf("ReadFirstFrame missed four-letter word: %q %v", word, err)
			}
		} else if err != nil || !bytes.Equal(frame, frame2) {
			t.Fatalf("ReadFirstFrame disagrees: %x, %v", frame2, err)
		}
	})
}

func FuzzDecodeConnectRequest(f *testing.F) {
	for _, tc := range connectRequestCases() {
		f.Add(hx(tc.wire))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeConnectRequest(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(r.Passwd) > len(data) {
			t.Fatalf("passwd of %d bytes from %d input bytes", len(r.Passwd), len(data))
		}
		again := AppendConnectRequest(nil, r)
		r2, err := DecodeConnectRequest(again)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", again, err)
		}
		if d := cmpExact(r, r2); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// maxRequestAllocFactor bounds the bytes DecodeRequest may allocate per input
// byte: the worst case is a multi of minimal check ops (17 input bytes each,
// one tree.Request each, append's doubling on top).
var maxRequestAllocFactor = 2*int(unsafe.Sizeof(tree.Request{}))/17 + 16

func FuzzDecodeRequest(f *testing.F) {
	for _, tc := range requestCases() {
		f.Add(hx(tc.wire))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var h RequestHeader
		var req tree.Request
		var err error
		allocated := allocatedBytes(1, func() { h, req, err = DecodeRequest(data) })
		if limit := uint64(64<<10 + maxRequestAllocFactor*len(data)); allocated > limit {
			t.Fatalf("decoding %d bytes allocated %d bytes (limit %d)", len(data), allocated, limit)
		}
		if err != nil {
			switch {
			case errors.Is(err, ErrMalformed), errors.Is(err, ErrUnknownOp), errors.Is(err, ErrTooLarge):
			default:
				t.Fatalf("unexpected error kind: %v", err)
			}
			if len(data) >= 8 {
				d := NewDecoder(data)
				if want := (RequestHeader{Xid: d.Int(), Op: tree.Op(d.Int())}); h != want {
					t.Fatalf("header %+v not returned with error (got %+v)", want, h)
				}
			}
			return
		}
		if req.Op != h.Op {
			t.Fatalf("request op %v, header op %v", req.Op, h.Op)
		}
		again := AppendRequest(nil, h, req)
		h2, req2, err := DecodeRequest(again)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", again, err)
		}
		if h2 != h {
			t.Fatalf("header round trip: %+v then %+v", h, h2)
		}
		if d := cmpExact(req, req2); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}

// replyOps are the ops FuzzDecodeReply picks from (by index, so that the
// fuzzer does not waste time on unknown ops).
var replyOps = []tree.Op{
	tree.OpCreate, tree.OpDelete, tree.OpExists, tree.OpGetData, tree.OpSetData, tree.OpGetACL,
	tree.OpSetACL, tree.OpGetChildren, tree.OpSync, tree.OpPing, tree.OpGetChildren2, tree.OpCheck,
	tree.OpMulti, tree.OpCreate2, tree.OpReconfig, tree.OpCheckWatches, tree.OpRemoveWatches,
	tree.OpCreateContainer, tree.OpDeleteContainer, tree.OpCreateTTL, tree.OpMultiRead, tree.OpAuth,
	tree.OpSetWatches, tree.OpSASL, tree.OpGetEphemerals, tree.OpGetAllChildrenNumber,
	tree.OpSetWatches2, tree.OpAddWatch, tree.OpWhoAmI, tree.OpCloseSession,
}

// replyOpIndex returns op's index in replyOps, or false for ops with no
// reply record (unknown ops).
func replyOpIndex(op tree.Op) (uint8, bool) {
	for i, o := range replyOps {
		if o == op {
			return uint8(i), true
		}
	}
	return 0, false
}

func FuzzDecodeReply(f *testing.F) {
	for _, tc := range replyCases() {
		if i, ok := replyOpIndex(tc.op); ok {
			f.Add(hx(tc.wire), i)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, opIndex uint8) {
		op := replyOps[int(opIndex)%len(replyOps)]
		h, res, err := DecodeReply(data, op)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		// AppendReply normalizes (failed multis, nil vectors, auth zxid);
		// after one pass through it the encoding is a fixed point.
		b2 := AppendReply(nil, h.Xid, h.Zxid, op, res)
		h2, res2, err := DecodeReply(b2, op)
		if err != nil {
			t.Fatalf("re-decode of %x: %v", b2, err)
		}
		if b3 := AppendReply(nil, h2.Xid, h2.Zxid, op, res2); !bytes.Equal(b2, b3) {
			t.Fatalf("encoding is not a fixed point:\n%x\n%x", b2, b3)
		}
	})
}

// TestWriteFuzzSeeds writes the golden cases as seed corpus files when run
// with -update-seeds; otherwise it checks that the committed golden seeds
// are up to date.
func TestWriteFuzzSeeds(t *testing.T) {
	files := map[string]string{}
	add := func(target, name string, args ...any) {
		s := "go test fuzz v1\n"
		for _, a := range args {
			switch v := a.(type) {
			case []byte:
				s += fmt.Sprintf("[]byte(%q)\n", v)
			case uint8:
				s += fmt.Sprintf("byte(%q)\n", v)
			}
		}
		files[filepath.Join("testdata", "fuzz", target, "golden-"+seedName(name))] = s
	}
	for _, tc := range requestCases() {
		add("FuzzDecodeRequest", tc.name, hx(tc.wire))
		add("FuzzReadFrame", tc.name, AppendFrame(nil, hx(tc.wire)))
	}
	for _, tc := range connectRequestCases() {
		add("FuzzDecodeConnectRequest", tc.name, hx(tc.wire))
	}
	for _, tc := range replyCases() {
		if i, ok := replyOpIndex(tc.op); ok {
			add("FuzzDecodeReply", tc.name, hx(tc.wire), i)
		}
	}
	for path, content := range files {
		if *updateSeeds {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("missing seed (run go test -run TestWriteFuzzSeeds -update-seeds): %v", err)
			continue
		}
		if string(got) != content {
			t.Errorf("%s is stale (run go test -run TestWriteFuzzSeeds -update-seeds)", path)
		}
	}
}

var nonWord = regexp.MustCompile(`[^a-zA-Z0-9]+`)

func seedName(name string) string { return nonWord.ReplaceAllString(name, "-") }
