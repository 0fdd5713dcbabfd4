package buildinfo

import (
	"strings"
	"testing"
)

func TestVersionStrings(t *testing.T) {
	i := Info{Commit: "0123456789ab", Time: "2026-12-04 18:00 UTC", Go: "go1.26.8"}
	if got, want := i.ServerVersion(), "3.8.4-zabd-0123456789ab, built on 2026-12-04 18:00 UTC"; got != want {
		t.Errorf("ServerVersion = %q, want %q", got, want)
	}
	if got, want := i.Line("zabd"), "zabd 3.8.4-zabd (commit 0123456789ab, committed 2026-12-04 18:00 UTC, go1.26.8)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	var none Info
	if got := none.ServerVersion(); got != "3.8.4-zabd" {
		t.Errorf("unknown build: %q", got)
	}
	if got := Read(); !strings.HasPrefix(got.Go, "go") {
		t.Errorf("Read().Go = %q", got.Go)
	}
}
