package jute

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"zabd/tree"
)

// hx turns a hand-written hex dump into bytes. Spaces, newlines and '|'
// (used to separate fields) are ignored.
func hx(s string) []byte {
	s = strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("bad hex in test: " + err.Error())
	}
	return b
}

// Hand-computed fragments used by the golden tables.
const (
	hPathA   = "00000002 2f61"                                                     // ustring "/a"
	hPathB   = "00000002 2f62"                                                     // ustring "/b"
	hOpenACL = "00000001 | 0000001f | 00000005 776f726c64 | 00000006 616e796f6e65" // [{31, world:anyone}]
	// testStat below: 1..11 in field order.
	hStat = "0000000000000001 0000000000000002 0000000000000003 0000000000000004 " +
		"00000005 00000006 00000007 0000000000000008 00000009 0000000a 000000000000000b"
	hNull = "ffffffff"
)

var testStat = tree.Stat{
	Czxid: 1, Mzxid: 2, Ctime: 3, Mtime: 4, Version: 5, Cversion: 6, Aversion: 7,
	EphemeralOwner: 8, DataLength: 9, NumChildren: 10, Pzxid: 11,
}

func statp(s tree.Stat) *tree.Stat { return &s }

func diffBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if string(got) != string(want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

// cmpExact compares keeping nil and empty slices apart.
func cmpExact(want, got any) string { return cmp.Diff(want, got) }
