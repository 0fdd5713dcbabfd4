package compat

import (
	"os/exec"
	"strings"
	"testing"

	"zabd/net/zktest"
)

// zabd --version prints one line (version, commit, Go) and starts nothing.
func TestZabdVersionFlag(t *testing.T) {
	if !wantZabd() {
		t.Skip("ZABD_COMPAT_ONLY excludes zabd")
	}
	out, err := exec.Command(zktest.BuildZabd(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("zabd --version: %v\n%s", err, out)
	}
	if s := string(out); !strings.HasPrefix(s, "zabd 3.8.4-zabd (commit ") || strings.Count(s, "\n") != 1 {
		t.Fatalf("zabd --version printed %q", s)
	}
}
