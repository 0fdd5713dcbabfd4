package compat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDifferential runs every script against a fresh Apache ZooKeeper and a
// fresh zabd and requires equal transcripts. Apache ZooKeeper's transcript
// must also equal the golden file testdata/zk38/<script>.txt (rewritten
// with -update), which is what zabd is held to when only it runs
// (ZABD_COMPAT_ONLY=zabd, e.g. on a machine without Java).
func TestDifferential(t *testing.T) {
	for _, sc := range allScripts() {
		t.Run(sc.name, func(t *testing.T) {
			var ref []string
			if wantZK() {
				ref = transcriptOn(t, zkServer, sc)
				checkGolden(t, sc.name, ref)
			}
			if wantZabd() {
				got := transcriptOn(t, zabdServer, sc)
				want, from := ref, "Apache ZooKeeper"
				if want == nil {
					want, from = readGolden(t, sc.name), "golden "+goldenPath(sc.name)
				}
				if d := transcriptDiff(want, got); d != "" {
					t.Errorf("script %s: zabd differs from %s (-zookeeper +zabd):\n%s", sc.name, from, d)
				}
			}
		})
	}
}

func transcriptOn(t *testing.T, s server, sc script) []string {
	t.Helper()
	p := s.start(t)
	lines, err := runScript(p.Addr, sc)
	if err != nil {
		t.Fatalf("%s: %v\n%s log tail:\n%s", s.name, err, s.name, p.LogTail(30))
	}
	if err := p.Stop(); err != nil {
		t.Errorf("%s: stop: %v", s.name, err)
	}
	return lines
}

// transcriptDiff returns a readable diff of two transcripts, "" if equal.
func transcriptDiff(want, got []string) string {
	return cmp.Diff(want, got)
}

func goldenPath(name string) string { return filepath.Join("testdata", "zk38", name+".txt") }

func readGolden(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(goldenPath(name))
	if err != nil {
		t.Fatalf("no Apache ZooKeeper run and no golden transcript: %v", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func checkGolden(t *testing.T, name string, lines []string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath(name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := readGolden(t, name)
	if d := transcriptDiff(want, lines); d != "" {
		t.Errorf("script %s: Apache ZooKeeper differs from golden %s (-golden +zookeeper; rerun with -update if ZooKeeper changed):\n%s", name, goldenPath(name), d)
	}
}
