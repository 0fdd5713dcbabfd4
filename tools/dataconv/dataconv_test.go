package dataconv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zabd/engine"
	_ "zabd/engine/badger"
	_ "zabd/engine/pebble"
	"zabd/log"
	"zabd/tools/logread"
	"zabd/tools/logread/datadirtest"
	"zabd/tools/logtool"
)

var kinds = []string{"native", "pebble", "badger"}

// Every engine to every engine: the same records, snapshots and markers,
// the same tree at every zxid of the history, and the same dump but for
// where records sit.
func TestConvertEveryEngineToEveryEngine(t *testing.T) {
	txns := datadirtest.History()
	for _, from := range kinds {
		srcDir := t.TempDir()
		datadirtest.Write(t, srcDir, from, txns, datadirtest.Options{
			SnapshotsAt:  []log.Zxid{datadirtest.Zxid(txns, 4), datadirtest.Zxid(txns, 12)},
			CurrentEpoch: 3, PurgedBelow: datadirtest.Zxid(txns, 1)})
		src, err := logread.Open(srcDir, logread.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range kinds {
			t.Run(from+"→"+to, func(t *testing.T) {
				dst := filepath.Join(t.TempDir(), "new")
				var progressed int
				res, err := Convert(src, dst, Options{Kind: to, Progress: func(n int, _ log.Zxid) { progressed = n }})
				if err != nil {
					t.Fatal(err)
				}
				last := datadirtest.Zxid(txns, len(txns)-1)
				if res.Records != len(txns) || res.First != datadirtest.Zxid(txns, 0) || res.Last != last || progressed != len(txns) ||
					len(res.Snapshots) != 2 || len(res.Skipped) != 0 || strings.Join(res.Markers, ",") != "currentEpoch,logPurgedBelow" {
					t.Fatalf("result %+v (progress %d)", res, progressed)
				}
				b, err := os.ReadFile(filepath.Join(dst, engine.MarkerFile))
				if err != nil || strings.TrimSpace(string(b)) != to {
					t.Fatalf("ENGINE marker %q %v, want %s", b, err, to)
				}
				d, err := logread.Open(dst, logread.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for i := range txns {
					z := datadirtest.Zxid(txns, i)
					a, _, err1 := logtool.Replay(src, logtool.ReplayOptions{To: logtool.Bound{Zxid: z}})
					b, _, err2 := logtool.Replay(d, logtool.ReplayOptions{To: logtool.Bound{Zxid: z}})
					if errors.Is(err1, logtool.ErrBeforeHistory) && errors.Is(err2, logtool.ErrBeforeHistory) {
						continue // purged below, in both
					}
					if err1 != nil || err2 != nil || a.DescribeTree() != b.DescribeTree() {
						t.Fatalf("at %v: source and copy differ (%v, %v)", z, err1, err2)
					}
				}
				if got, want := dumpWithoutPlaces(t, d), dumpWithoutPlaces(t, src); got != want {
					t.Fatalf("dump of the copy:\n%s\nof the source:\n%s", got, want)
				}
				m, err := d.Markers()
				if err != nil || m.CurrentEpoch != 3 || m.PurgedBelow != datadirtest.Zxid(txns, 1) {
					t.Fatalf("markers of the copy %+v %v", m, err)
				}
				if rep := logtool.Verify(d, logtool.VerifyOptions{}); !rep.Sound() {
					var b bytes.Buffer
					rep.WriteText(&b)
					t.Fatalf("verify of the copy:\n%s", b.String())
				}
			})
		}
	}
}

func dumpWithoutPlaces(t *testing.T, d *logread.DataDir) string {
	t.Helper()
	var b bytes.Buffer
	if _, err := logtool.Dump(&b, d, logtool.DumpOptions{}); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		if i := strings.Index(l, " at="); i >= 0 {
			l = l[:i]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// A destination with anything in it is refused, and left as it was.
func TestConvertRefusesANonEmptyDestination(t *testing.T) {
	srcDir := t.TempDir()
	datadirtest.Write(t, srcDir, "native", datadirtest.History(), datadirtest.Options{})
	src, err := logread.Open(srcDir, logread.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if err := os.WriteFile(filepath.Join(dst, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Convert(src, dst, Options{Kind: "pebble"}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("got %v, want ErrNotEmpty", err)
	}
	ents, _ := os.ReadDir(dst)
	if len(ents) != 1 {
		t.Fatalf("the destination was touched: %d entries", len(ents))
	}
}
