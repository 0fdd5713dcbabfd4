package net

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"zabd/tree"
)

// refusingProc is a processor whose Status says writes are refused.
type refusingProc struct {
	heldProc
	why string
}

func (p *refusingProc) Status() Status { return Status{Mode: "standalone", WritesRefused: p.why} }

// While writes are refused, ruok answers nothing (as ZooKeeper when it is
// not serving), isro says "ro", and mntr carries the gauge and the reason;
// otherwise imok, rw and a zero gauge.
func TestFourLetterWordsShowRefusedWrites(t *testing.T) {
	p := &refusingProc{heldProc: heldProc{watches: tree.NewWatches()}}
	s := NewServer(Config{FourLetterWords: []string{"*"}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, p)
	for _, tc := range []struct {
		why                  string
		ruok, isro, mntrLine string
	}{
		{"", "imok", "rw", "zk_writes_refused\t0\n"},
		{"zab: storage failed, not taking writes: fsync: EIO", "", "ro", "zk_writes_refused\t1\nzk_writes_refused_reason\tzab: storage failed, not taking writes: fsync: EIO\n"},
	} {
		p.why = tc.why
		if got := s.fourLetterOutput("ruok"); got != tc.ruok {
			t.Errorf("refused=%q: ruok = %q, want %q", tc.why, got, tc.ruok)
		}
		if got := s.fourLetterOutput("isro"); got != tc.isro {
			t.Errorf("refused=%q: isro = %q, want %q", tc.why, got, tc.isro)
		}
		if got := s.fourLetterOutput("mntr"); !strings.Contains(got, tc.mntrLine) {
			t.Errorf("refused=%q: mntr lacks %q:\n%s", tc.why, tc.mntrLine, got)
		}
	}
}
