package compat

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeRun builds a run whose observations carry the given stats, as if a
// server had answered getData with them.
func fakeRun(owner int64, stats ...stat) *run {
	now := time.Now()
	rs := &run{owners: map[int64]int{owner: 0}, start: now, end: now}
	for i, st := range stats {
		rs.obs = append(rs.obs, obs{step: i, desc: "getData", res: rData{Data: []byte("x"), Stat: st}})
	}
	return rs
}

func TestNormalizerRanksZxidsPerRun(t *testing.T) {
	ms := time.Now().UnixMilli()
	a := fakeRun(0x100,
		stat{Czxid: 5, Mzxid: 9, Pzxid: 5, Ctime: ms, Mtime: ms + 1, EphemeralOwner: 0x100},
		stat{Czxid: 9, Mzxid: 9, Pzxid: 9, Ctime: ms + 1, Mtime: ms + 1})
	// Same order, different values (another server, other zxid counter,
	// other session id, other clock): equal transcripts.
	b := fakeRun(0x7777,
		stat{Czxid: 0x100000001, Mzxid: 0x100000007, Pzxid: 0x100000001, Ctime: ms + 3, Mtime: ms + 3, EphemeralOwner: 0x7777},
		stat{Czxid: 0x100000007, Mzxid: 0x100000007, Pzxid: 0x100000007, Ctime: ms + 4, Mtime: ms + 4})
	if d := transcriptDiff(a.transcript(), b.transcript()); d != "" {
		t.Errorf("order-equal runs differ:\n%s", d)
	}
	// Swapped order of the second node's czxid: must differ.
	c := fakeRun(0x100,
		stat{Czxid: 5, Mzxid: 9, Pzxid: 5, Ctime: ms, Mtime: ms + 1, EphemeralOwner: 0x100},
		stat{Czxid: 4, Mzxid: 9, Pzxid: 9, Ctime: ms, Mtime: ms + 1})
	if d := transcriptDiff(a.transcript(), c.transcript()); d == "" {
		t.Errorf("runs with a different zxid order compare equal")
	}
	// A foreign ephemeral owner is printed as is, not as a session name.
	got := fakeRun(0x1, stat{Czxid: 1, Mzxid: 1, Pzxid: 1, Ctime: ms, Mtime: ms, EphemeralOwner: -1 << 63}).transcript()
	if !strings.Contains(got[0], "owner=0x8000000000000000") {
		t.Errorf("container owner not printed raw: %q", got[0])
	}
}

func TestTimeChecks(t *testing.T) {
	ms := time.Now().UnixMilli()
	tests := []struct {
		name string
		st   []stat
		want []string // substrings of violation lines, in order
	}{
		{name: "fine", st: []stat{{Czxid: 1, Mzxid: 2, Ctime: ms, Mtime: ms + 1}}},
		{name: "ctime after mtime", st: []stat{{Czxid: 1, Mzxid: 2, Ctime: ms + 1, Mtime: ms}}, want: []string{"ctime", "zxid 0x2 has time"}},
		{name: "zero zxid with time", st: []stat{{Czxid: 0, Mzxid: 0, Ctime: ms, Mtime: ms}}, want: []string{"zxid 0 with time", "zxid 0 with time"}},
		{name: "time outside run", st: []stat{{Czxid: 1, Mzxid: 1, Ctime: 1000, Mtime: 1000}}, want: []string{"outside the run", "outside the run"}},
		{name: "later zxid earlier time", st: []stat{{Czxid: 1, Mzxid: 1, Ctime: ms, Mtime: ms}, {Czxid: 2, Mzxid: 2, Ctime: ms - 1, Mtime: ms - 1}}, want: []string{"has time"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fakeRun(0, tc.st...).timeChecks()
			if len(got) != len(tc.want) {
				t.Fatalf("timeChecks = %q, want %d lines matching %q", got, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("line %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

func TestDecodeRejectsTrailingBytes(t *testing.T) {
	var e enc
	e.str("/a")
	e.i32(7) // not part of CreateResponse
	if _, err := decodeReply(opCreate, reply{Body: e.b}); err == nil {
		t.Fatalf("decodeReply accepted trailing bytes")
	}
	if _, err := decodeReply(opGetData, reply{Body: []byte{0, 0}}); err == nil {
		t.Fatalf("decodeReply accepted a truncated body")
	}
}

// TestDiffMachineryZKvsZK runs one script on two fresh Apache ZooKeepers:
// the transcripts must be equal (normalisation hides zxid values, session
// ids and times), and a script changed in one step must show up in the
// diff, named by step.
func TestDiffMachineryZKvsZK(t *testing.T) {
	if !wantZK() {
		t.Skip("ZABD_COMPAT_ONLY excludes Apache ZooKeeper")
	}
	sc := script{name: "machinery", steps: []step{
		create(0, "/x", "1", modePersistent),
		create(1, "/x/e", "", modeEphemeralSeq),
		get(0, "/x", true),
		set(1, "/x", "2", 0),
		flush(0),
		children2(0, "/x", false),
	}}
	a := transcriptOn(t, zkServer, sc)
	b := transcriptOn(t, zkServer, sc)
	if d := transcriptDiff(a, b); d != "" {
		t.Fatalf("two Apache ZooKeepers differ on the same script:\n%s", d)
	}
	injected := script{name: sc.name, steps: append([]step(nil), sc.steps...)}
	injected.steps[3] = set(1, "/x", "2", 5) // BadVersion instead of OK, no event
	c := transcriptOn(t, zkServer, injected)
	d := transcriptDiff(a, c)
	if d == "" {
		t.Fatalf("injected difference not reported")
	}
	for _, want := range []string{`03 s1 setData "/x" "2" v=`, "BadVersion", "NodeDataChanged"} {
		if !strings.Contains(d, want) {
			t.Errorf("diff does not mention %q:\n%s", want, d)
		}
	}
	t.Logf("injected difference reported as:\n%s", d)
	if cmp.Equal(a, c) {
		t.Errorf("cmp.Equal says equal")
	}
}
