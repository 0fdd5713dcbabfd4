package enginetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/log"
)

// ErrStopped is what a TruncateStopper's StopAfter should make
// TruncateAfter fail with (wrapped or not): the stand-in for a crash.
var ErrStopped = errors.New("enginetest: truncation stopped as by a crash")

// TruncateStopper is what RunTruncateCrashTests needs from an engine whose
// TruncateAfter makes its cut durable in several steps (badger: one
// deletion transaction per step) and can be told to stop after any of
// them, as a crash right then would.
type TruncateStopper struct {
	// Open opens (creating if needed) the engine in dir, set up so that
	// truncating a hundred records takes several steps (ten or so: each
	// step costs the suite two reopens).
	Open func(t *testing.T, dir string) engine.Engine
	// StopAfter arms e: its next TruncateAfter (and nothing else) fails
	// with ErrStopped once steps of its steps are durable, doing nothing
	// more, as a crash at that moment would.
	StopAfter func(e engine.Engine, steps int)
}

// RunTruncateCrashTests stops a TruncateAfter(z) after 1, 2, 3... durable
// steps until one runs to the end. After every stop it closes the engine,
// reopens the directory and checks that the log is a prefix of the old
// one no shorter than z: contiguous from its first record, never a hole
// (records above z gone while later ones remain). Then it re-issues
// TruncateAfter(z), as a caller must (zab's follower re-syncs on restart
// and the leader sends TRUNC again), and checks that the log ends at z,
// also after one more reopen.
func RunTruncateCrashTests(t *testing.T, h TruncateStopper) {
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		records      int
		purge        log.Zxid // PurgeBefore(purge) first; 0: none
		z            log.Zxid
		wantAtLeast2 bool // the cut must take several steps
	}{
		{"middle", 160, 0, 40, true},
		{"everything", 160, 0, 0, true},
		{"after a purge", 160, 30, 70, true},
		{"last few", 160, 0, 157, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			all := Recs(1, tc.records)
			first := log.Zxid(1)
			for steps := 1; ; steps++ {
				dir := filepath.Join(t.TempDir(), strconv.Itoa(steps))
				e := h.Open(t, dir)
				for i := 0; i < len(all); i += 50 {
					if err := e.Append(ctx, all[i:min(i+50, len(all))]); err != nil {
						t.Fatalf("Append(%v..): %v", all[i].Zxid, err)
					}
				}
				if tc.purge != 0 {
					if err := e.PurgeBefore(tc.purge); err != nil {
						t.Fatalf("PurgeBefore(%v): %v", tc.purge, err)
					}
					if got := ReadAll(t, e, 0); len(got) > 0 {
						first = got[0].Zxid
					}
				}
				h.StopAfter(e, steps)
				err := e.TruncateAfter(tc.z)
				finished := err == nil
				if !finished && !errors.Is(err, ErrStopped) {
					t.Fatalf("TruncateAfter(%v) stopped after step %d: %v, want an error matching the stop", tc.z, steps, err)
				}
				if err := e.Close(); err != nil {
					t.Fatalf("Close after TruncateAfter(%v) stopped after step %d: %v", tc.z, steps, err)
				}
				when := fmt.Sprintf("reopened after TruncateAfter(%v) stopped after step %d", tc.z, steps)
				if finished {
					when = fmt.Sprintf("reopened after TruncateAfter(%v) finished in %d steps", tc.z, steps-1)
				}
				e = h.Open(t, dir)
				last := CheckPrefix(t, e, all, first, tc.z, when)
				if finished && last != tc.z {
					t.Errorf("%s: LastZxid %v, want %v", when, last, tc.z)
				}
				// Re-issue the truncation, as zab does after a restart.
				if err := e.TruncateAfter(tc.z); err != nil {
					t.Fatalf("%s: TruncateAfter(%v) again: %v", when, tc.z, err)
				}
				checkCut(t, e, all, first, tc.z, when+", then re-issued")
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				e = h.Open(t, dir)
				checkCut(t, e, all, first, tc.z, when+", re-issued and reopened")
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if finished {
					if tc.wantAtLeast2 && steps-1 < 2 {
						t.Fatalf("TruncateAfter(%v) of %d records took %d steps: Open must set the engine up so that it takes several", tc.z, tc.records, steps-1)
					}
					return
				}
				if t.Failed() || steps > 10000 {
					return
				}
			}
		})
	}
}

// CheckPrefix checks that e holds a prefix of all from first on, ending at
// or above z (or is empty, if z is below first), and returns its last
// zxid. A hole is reported with the zxids on either side of it.
func CheckPrefix(t testing.TB, e engine.Engine, all []log.Record, first, z log.Zxid, when string) log.Zxid {
	t.Helper()
	got := ReadAll(t, e, 0)
	if len(got) == 0 {
		if z >= first {
			t.Errorf("%s: the log is empty, want at least [%v, %v]", when, first, z)
		}
		if l := e.LastZxid(); l != 0 {
			t.Errorf("%s: empty log, but LastZxid %v", when, l)
		}
		return 0
	}
	if got[0].Zxid != first {
		t.Errorf("%s: hole at the start: first record %v, want %v", when, got[0].Zxid, first)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Zxid != got[i-1].Zxid+1 {
			t.Errorf("%s: hole: %v is followed by %v (%d records, %v..%v)", when, got[i-1].Zxid, got[i].Zxid, len(got), got[0].Zxid, got[len(got)-1].Zxid)
			return got[len(got)-1].Zxid
		}
	}
	last := got[len(got)-1].Zxid
	if last < z || last > all[len(all)-1].Zxid {
		t.Errorf("%s: last record %v, want one in [%v, %v]", when, last, z, all[len(all)-1].Zxid)
	}
	if want := all[first-all[0].Zxid : first-all[0].Zxid+log.Zxid(len(got))]; !cmp.Equal(got, want, cmp.Comparer(recEqual)) {
		t.Errorf("%s: records differ from those appended (first diff: %s)", when, firstDiff(want, got))
	}
	if l := e.LastZxid(); l != last {
		t.Errorf("%s: LastZxid %v, but the last record is %v", when, l, last)
	}
	return last
}

// checkCut checks that e holds exactly all's records in [first, z].
func checkCut(t *testing.T, e engine.Engine, all []log.Record, first, z log.Zxid, when string) {
	t.Helper()
	var want []log.Record
	if z >= first {
		want = all[first-all[0].Zxid : z-all[0].Zxid+1]
	}
	got := ReadAll(t, e, 0)
	if !cmp.Equal(got, want, cmp.Comparer(recEqual)) {
		t.Errorf("%s: got %d records, want [%v, %v] (first diff: %s)", when, len(got), first, z, firstDiff(want, got))
	}
	if l := e.LastZxid(); l != z && !(z < first && l == 0) {
		t.Errorf("%s: LastZxid %v, want %v", when, l, z)
	}
}

// KillHarness configures RunKillDuringTruncate.
type KillHarness struct {
	// Open opens (creating if needed) the engine in dir on the real
	// filesystem. The child process calls it too.
	Open func(t *testing.T, dir string) engine.Engine
	// OnStep, if set, makes e call step after each durable step of its
	// truncation; the child reports each to the parent, which may kill
	// it after a random number of them. Nil: the engine cuts in one step
	// (the kill then comes a random delay after the truncation starts).
	OnStep func(e engine.Engine, step func())
	// Atomic: the engine promises the log before the cut or the cut,
	// never a prefix in between (pebble's one range deletion).
	Atomic bool
	// Records appended before each truncation; default 3000.
	Records int
	// Rounds; default 20 (5 with -short).
	Rounds int
}

const killChildEnv = "ZABD_ENGINETEST_KILL_CHILD"

// RunKillDuringTruncate is a kill -9 test of TruncateAfter: each round it
// re-runs the calling test in a child process (the test binary, selected
// by the caller's test name, with an environment variable set) that
// appends records to a store in a fresh directory, then truncates after a
// random zxid, and kills the child with SIGKILL at a random moment of the
// truncation. The parent then opens the store and checks that it is the
// log before the truncation or a prefix of it no shorter than the cut
// (never a hole), and exactly the cut if the child had reported the
// truncation done; re-issuing the truncation then cuts it.
//
// Call it directly from a top-level test (not a subtest): that test is
// the child's entry point and must do nothing else first.
func RunKillDuringTruncate(t *testing.T, h KillHarness) {
	if h.Records == 0 {
		h.Records = 3000
	}
	if h.Rounds == 0 {
		h.Rounds = 20
		if testing.Short() {
			h.Rounds = 5
		}
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL and inherited file descriptors")
	}
	if spec := os.Getenv(killChildEnv); spec != "" {
		killChild(t, h, spec)
		return
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))
	all := Recs(1, h.Records)
	var uncut, partWay, cut int
	for round := range h.Rounds {
		dir := filepath.Join(t.TempDir(), "store")
		z := log.Zxid(rng.IntN(h.Records))
		// The kill comes after a random number of reported steps (none
		// for a one-step engine) and then a random delay, none in half
		// the rounds.
		killAfterSteps, delay := 0, time.Duration(0)
		if h.OnStep != nil {
			killAfterSteps = rng.IntN(10)
		}
		if rng.IntN(2) == 0 {
			delay = time.Duration(rng.IntN(1000)) * time.Microsecond
		}
		done := runKillRound(t, dir, z, h.Records, killAfterSteps, delay)
		e := h.Open(t, dir)
		when := fmt.Sprintf("round %d (seed %d): killed during TruncateAfter(%v)", round, seed, z)
		if done {
			when = fmt.Sprintf("round %d (seed %d): killed after TruncateAfter(%v) returned", round, seed, z)
		}
		last := CheckPrefix(t, e, all, 1, z, when)
		switch {
		case done && last != z:
			t.Errorf("%s: LastZxid %v, want %v: an acknowledged truncation was undone", when, last, z)
		case last == z:
			cut++
		case last == log.Zxid(h.Records):
			uncut++
		case h.Atomic:
			t.Errorf("%s: LastZxid %v: an atomic truncation was found part done", when, last)
		default:
			partWay++
		}
		if err := e.TruncateAfter(z); err != nil {
			t.Fatalf("%s: TruncateAfter(%v) again: %v", when, z, err)
		}
		checkCut(t, e, all, 1, z, when+", then re-issued")
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
	}
	t.Logf("%d rounds: found the log uncut %d, cut part way %d, cut %d", h.Rounds, uncut, partWay, cut)
}

// runKillRound runs one child and kills it; it reports whether the child
// said its truncation had returned before the kill.
func runKillRound(t *testing.T, dir string, z log.Zxid, records, killAfterSteps int, delay time.Duration) (done bool) {
	t.Helper()
	progR, progW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer progR.Close()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close() // the child blocks reading stdin until killed
	cmd := exec.Command(os.Args[0], "-test.run=^"+regexp.QuoteMeta(t.Name())+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d,%s", killChildEnv, records, z, dir))
	cmd.Stdin = stdinR
	cmd.ExtraFiles = []*os.File{progW} // fd 3
	out := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	progW.Close()
	stdinR.Close()
	sc := bufio.NewScanner(progR)
	steps, started := 0, false
	for sc.Scan() {
		switch line := sc.Text(); line {
		case "truncating":
			started = true
		case "step":
			steps++
		case "done":
			done = true
		default:
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child (dir %s): %s\noutput:\n%s", dir, line, out)
		}
		if done || started && steps >= killAfterSteps {
			break
		}
	}
	if !started {
		cmd.Wait()
		t.Fatalf("child (dir %s) exited before truncating: %v\noutput:\n%s", dir, sc.Err(), out)
	}
	if !done {
		time.Sleep(delay) // a random moment, not a wait for a condition
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatalf("kill child: %v", err)
	}
	err = cmd.Wait()
	if !killedBySIGKILL(err) {
		t.Fatalf("child (dir %s) was not killed by SIGKILL: %v\noutput:\n%s", dir, err, out)
	}
	// A "done" written just before the kill may be unread; it would only
	// tighten the check.
	return done
}

func killedBySIGKILL(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// killChild is the child's side: spec is "records,z,dir".
func killChild(t *testing.T, h KillHarness, spec string) {
	parts := strings.SplitN(spec, ",", 3)
	if len(parts) != 3 {
		t.Fatalf("bad %s=%q", killChildEnv, spec)
	}
	records, err1 := strconv.Atoi(parts[0])
	z, err2 := strconv.ParseUint(parts[1], 10, 64)
	dir := parts[2]
	if err := errors.Join(err1, err2); err != nil {
		t.Fatalf("bad %s=%q: %v", killChildEnv, spec, err)
	}
	prog := os.NewFile(3, "progress")
	say := func(s string) {
		if _, err := io.WriteString(prog, s+"\n"); err != nil {
			os.Exit(3) // the parent is gone
		}
	}
	e := h.Open(t, dir)
	all := Recs(1, records)
	for i := 0; i < len(all); i += 100 {
		if err := e.Append(context.Background(), all[i:min(i+100, len(all))]); err != nil {
			say(fmt.Sprintf("append %v: %v", all[i].Zxid, err))
			return
		}
	}
	if h.OnStep != nil {
		h.OnStep(e, func() { say("step") })
	}
	say("truncating")
	if err := e.TruncateAfter(log.Zxid(z)); err != nil {
		say(fmt.Sprintf("TruncateAfter(%v): %v", log.Zxid(z), err))
		return
	}
	say("done")
	io.Copy(io.Discard, os.Stdin) // until killed, or the parent is gone
	os.Exit(0)
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	max int
	b   []byte
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := min(len(p), l.max-len(l.b))
	l.b = append(l.b, p[:n]...)
	return len(p), nil
}

func (l *limitedBuffer) String() string { return string(l.b) }

// RunTruncateBenchmarks measures TruncateAfter cutting most of a log of
// records=N records of 100 bytes (after its first: N-1 records go); one
// op is one truncation. Each op appends its records in a new epoch, above
// what earlier ops left, so no op scans or rewrites another's keys. It
// reports records/s removed. open returns a new, empty engine on the real
// filesystem in dir.
func RunTruncateBenchmarks(b *testing.B, open func(b *testing.B, dir string) engine.Engine) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			data := make([]byte, 100)
			recs := make([]log.Record, n)
			e := open(b, b.TempDir())
			defer e.Close()
			var total time.Duration
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				for j := range recs {
					recs[j] = log.Record{Zxid: log.MakeZxid(uint32(i+1), uint32(j+1)), Data: data}
				}
				for j := 0; j < n; j += 1000 {
					if err := e.Append(context.Background(), recs[j:min(j+1000, n)]); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				b.StartTimer()
				if err := e.TruncateAfter(recs[0].Zxid); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				total += time.Since(start)
			}
			b.ReportMetric(float64(b.N*(n-1))/total.Seconds(), "records/s")
		})
	}
}
