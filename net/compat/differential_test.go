package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestDifferential runs every script against a fresh Apache ZooKeeper and a
// fresh zabd and requires equal transcripts. Apache ZooKeeper's transcript
// must also equal the golden file testdata/zk38/<script>.txt (rewritten
// with -update), which is what zabd is held to when only it runs
// (ZABD_COMPAT_ONLY=zabd, e.g. on a machine without Java).
//
// The follower kinds run each script with every session on a follower of
// a fresh 3-member ensemble. zabd's follower is held to Apache
// ZooKeeper's follower when that runs too (ZABD_COMPAT_ONLY lists
// zk-follower), else to the standalone reference as an ensemble member
// shows it (ensembleView). Ports in transcripts of followers are named
// (portNames) so two ensembles compare.
func TestDifferential(t *testing.T) {
	for _, sc := range allScripts() {
		t.Run(sc.name, func(t *testing.T) {
			var ref []string
			if wantZK() {
				ref = transcriptOn(t, zkServer, sc)
				checkGolden(t, sc.name, ref)
			}
			standalone := func() ([]string, string) {
				if ref != nil {
					return ref, "Apache ZooKeeper"
				}
				return readGolden(t, sc.name), "golden " + goldenPath(sc.name)
			}
			if wantZabd() {
				got := transcriptOn(t, zabdServer, sc)
				want, from := standalone()
				if d := transcriptDiff(want, got); d != "" {
					t.Errorf("script %s: zabd differs from %s (-zookeeper +zabd):\n%s", sc.name, from, d)
				}
			}
			var fref []string
			if want("zk-follower") {
				fref = transcriptOn(t, zkFollowerServer, sc)
				w, from := standalone()
				if d := transcriptDiff(ensembleView(w), fref); d != "" {
					t.Errorf("script %s: Apache ZooKeeper's follower differs from %s as ensembleView says a member shows it "+
						"(-expected +zookeeper follower); correct ensembleView:\n%s", sc.name, from, d)
				}
			}
			if want("follower") {
				got := transcriptOn(t, zabdFollowerServer, sc)
				want, from := fref, "an Apache ZooKeeper follower"
				if want == nil {
					w, f := standalone()
					want, from = ensembleView(w), f+" as an ensemble member shows it"
				}
				if d := transcriptDiff(want, got); d != "" {
					if k, ok := knownFollowerDiffs[sc.name]; ok && onlySteps(want, got, k.steps) {
						t.Skipf("KNOWN: %s (script %s, steps %v); zabd's follower differs from %s (-zookeeper +zabd):\n%s", k.problem, sc.name, k.steps, from, d)
					}
					t.Errorf("script %s: zabd's follower differs from %s (-zookeeper +zabd):\n%s", sc.name, from, d)
				}
			}
		})
	}
}

// knownFollowerDiff is a difference of zabd's follower from Apache
// ZooKeeper's that is a known server problem, reported and not yet fixed:
// the script's subtest is skipped naming it, as long as the transcripts
// differ at those steps only.
type knownFollowerDiff struct {
	problem string
	steps   []int
}

// knownFollowerDiffs by script name.
var knownFollowerDiffs = map[string]knownFollowerDiff{}

// onlySteps reports whether want and got differ only in lines of the
// given steps (lines start with the two-digit step number) and in the
// time checks of those steps.
func onlySteps(want, got []string, steps []int) bool {
	allowed := map[string]bool{}
	for _, s := range steps {
		allowed[fmt.Sprintf("%02d ", s)] = true
		allowed[fmt.Sprintf("TIME CHECK step %02d:", s)] = true
	}
	other := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			if len(l) > 3 && allowed[l[:3]] {
				out = append(out, l[:3]) // the step is there; its text may differ
				continue
			}
			if len(l) > 19 && allowed[l[:19]] {
				continue
			}
			out = append(out, l)
		}
		return out
	}
	return cmp.Equal(other(want), other(got))
}

// ensembleView is a standalone server's transcript as a member of a
// 3-member ensemble on 127.0.0.1 shows it (ports named as portNames
// does), as Apache ZooKeeper 3.8 was seen to (ZABD_COMPAT_ONLY=zk-follower
// checks it still is): /zookeeper/config holds the ensemble's dynamic
// config (QuorumVerifier.toString: a server line per member with its role,
// then version=0) instead of nothing, with version -1 and an mtime but
// zxid 0, which the time checks flag. Its dataLength counts the ports as
// 5 digits, which the free ports picked on Linux (its ephemeral range,
// 32768-60999) always are.
func ensembleView(lines []string) []string {
	var cfg strings.Builder
	for i := 1; i <= 3; i++ {
		fmt.Fprintf(&cfg, "server.%d=127.0.0.1:<quorum.%d>:<election.%d>:participant;127.0.0.1:<client.%d>\n", i, i, i, i)
	}
	cfg.WriteString("version=0")
	const portDigits, ports = 5, 9
	dataLen := len(portPlaceholder.ReplaceAllString(cfg.String(), "")) + portDigits*ports
	quoted := strconv.Quote(cfg.String())
	out := make([]string, 0, len(lines)+2)
	var checks []string
	for _, l := range lines {
		if strings.Contains(l, ` "/zookeeper/config" `) && strings.Contains(l, "=> OK") && strings.Contains(l, "stat{") {
			l = strings.Replace(l, "mtime=0 version=0", "mtime=t version=-1", 1)
			l = strings.Replace(l, "dataLength=0 ", fmt.Sprintf("dataLength=%d ", dataLen), 1)
			l = strings.Replace(l, `data=""`, "data="+quoted, 1)
			checks = append(checks, fmt.Sprintf("TIME CHECK step %s: zxid 0 with time t, not 0", l[:2]))
		}
		out = append(out, l)
	}
	return append(out, checks...)
}

// portPlaceholder matches a port name portNames gives.
var portPlaceholder = regexp.MustCompile(`<(client|quorum|election)\.\d+>`)

func transcriptOn(t *testing.T, s server, sc script) []string {
	t.Helper()
	p := s.start(t)
	lines, err := runScript(p.Addr, sc)
	if err != nil {
		t.Fatalf("%s: %v\n%s log tail:\n%s", s.name, err, s.name, p.LogTail(30))
	}
	if e := ensembleOf(p); e != nil {
		names := portNames(e)
		for i, l := range lines {
			for port, name := range names {
				l = strings.ReplaceAll(l, ":"+port, ":"+name)
			}
			lines[i] = l
		}
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
