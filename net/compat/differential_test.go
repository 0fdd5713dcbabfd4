package compat

import (
	"fmt"
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

// transcriptDiff returns a readable line diff of two transcripts ("" if
// equal): lines only in want start with "-", only in got with "+", and
// up to diffContext unchanged lines around each change start with " ".
// Each transcript line begins with its step number and session, so every
// hunk names the step that differs.
func transcriptDiff(want, got []string) string {
	if cmp.Equal(want, got) {
		return ""
	}
	// Longest common subsequence table over lines; transcripts are a few
	// hundred lines, so the quadratic table is small.
	n, m := len(want), len(got)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if want[i] == got[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		tag  byte
		text string
	}
	var all []line
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && want[i] == got[j]:
			all = append(all, line{' ', want[i]})
			i++
			j++
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			all = append(all, line{'+', got[j]})
			j++
		default:
			all = append(all, line{'-', want[i]})
			i++
		}
	}
	const diffContext = 2
	var b strings.Builder
	last := -1
	for k, l := range all {
		if l.tag == ' ' {
			near := false
			for d := -diffContext; d <= diffContext; d++ {
				if k+d >= 0 && k+d < len(all) && all[k+d].tag != ' ' {
					near = true
				}
			}
			if !near {
				continue
			}
		}
		if last >= 0 && k != last+1 {
			b.WriteString("  ...\n")
		}
		fmt.Fprintf(&b, "%c %s\n", l.tag, l.text)
		last = k
	}
	return b.String()
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
