package compat

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// TestDataDirLock (zabd only), on each storage engine: one zabd owns its
// data dir for its whole life.
//
//   - A second zabd on the same data dir (another port), and one started
//     with exactly the first's command line and zoo.cfg (the common
//     accident), each exit with code 5 naming the first's pid, and touch
//     nothing: the first goes on taking writes across several segment
//     rolls (64 KiB segments), which a second process deleting its
//     preallocated segment used to break.
//   - kill -9 of the holder under load followed at once (the killed
//     process not yet reaped) by a restart on the same dir and port: the
//     restart serves, the dead holder's lock does not outlive it, and
//     every acknowledged create is there. Five rounds.
func TestDataDirLock(t *testing.T) {
	if !wantZabd() {
		t.Skip("ZABD_COMPAT_ONLY excludes zabd")
	}
	for _, kind := range []string{"native", "pebble", "badger"} {
		t.Run(kind, func(t *testing.T) { testDataDirLock(t, kind) })
	}
}

func testDataDirLock(t *testing.T, engine string) {
	const (
		rounds       = 5
		writers      = 4
		killAfter    = 100 // acknowledged creates per round before the kill
		maxPerWriter = 5000
		roundTimeout = 60 * time.Second
	)
	bin := zktest.BuildZabd(t)
	extra := map[string]string{"preAllocSize": "64"} // KiB: native rolls a segment every ~60 creates below
	p := zktest.StartZabd(t, launch.ZabdOptions{Engine: engine, ExtraCfg: extra})
	acked := map[string]bool{}
	create := func(s *rawSession, path string, data string) bool {
		r, err := s.call(opCreate, encCreate(path, data, openACL, modePersistent))
		if err != nil {
			return false
		}
		if r.Err != 0 {
			t.Errorf("create %s: %s", path, codeName(r.Err))
			return false
		}
		return true
	}
	s, err := dialSession(p.Addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	if !create(s, "/lock", "") {
		t.Fatal("create /lock failed")
	}
	s.close()

	// A second zabd on the same dir, then the same command line again.
	free, err := launch.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	other := []string{bin, "--data-dir", p.DataDir, "--engine", engine, "--client-addr", "127.0.0.1:" + strconv.Itoa(free)}
	for _, argv := range [][]string{other, p.Argv()} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 5 {
			t.Fatalf("second zabd %q: got %v, want exit code 5; output:\n%s", argv[1:], err, out)
		}
		if want := fmt.Sprintf("data dir %s is in use by pid %d", p.DataDir, p.PID()); !strings.Contains(string(out), want) {
			t.Fatalf("second zabd %q said %q, want it to say %q", argv[1:], out, want)
		}
	}
	s, err = dialSession(p.Addr, 30000)
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("x", 1000)
	for i := range 300 {
		path := fmt.Sprintf("/lock/after-refusal-%d", i)
		if !create(s, path, data) {
			t.Fatalf("the first zabd stopped taking writes after a second one was refused (create %d); log:\n%s", i, p.LogTail(30))
		}
		acked[path] = true
	}
	s.close()

	for round := range rounds {
		var (
			mu     sync.Mutex
			nAcked atomic.Int64
			killed = make(chan struct{})
			wg     sync.WaitGroup
		)
		deadline := time.Now().Add(roundTimeout)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := dialSession(p.Addr, 30000)
				if err != nil {
					t.Errorf("round %d writer %d: %v", round, w, err)
					return
				}
				defer s.close()
				for i := 0; i < maxPerWriter && time.Now().Before(deadline); i++ {
					path := fmt.Sprintf("/lock/r%d-w%d-%d", round, w, i)
					if !create(s, path, path) {
						return // the server was killed
					}
					mu.Lock()
					acked[path] = true
					mu.Unlock()
					if nAcked.Add(1) == killAfter {
						close(killed)
					}
				}
			}()
		}
		select {
		case <-killed:
		case <-time.After(roundTimeout):
			t.Fatalf("round %d: only %d acks in %v", round, nAcked.Load(), roundTimeout)
		}
		// SIGKILL without waiting for the process to be reaped, then start
		// the next one on the same dir and port at once.
		if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		next := zktest.StartZabd(t, launch.ZabdOptions{Engine: engine, ExtraCfg: extra, DataDir: p.DataDir, Port: p.Port})
		wg.Wait()
		if err := p.Wait(); err == nil {
			t.Fatalf("round %d: the killed zabd exited cleanly", round)
		}
		p = next
		if t.Failed() {
			return
		}
		checkPresent(t, p.Addr, "/lock", acked, fmt.Sprintf("round %d", round))
		t.Logf("round %d: %d acknowledged creates so far, all present", round, len(acked))
	}
}

// checkPresent fails t unless every path in want is a child of parent.
func checkPresent(t *testing.T, addr, parent string, want map[string]bool, what string) {
	t.Helper()
	s, err := dialSession(addr, 30000)
	if err != nil {
		t.Fatalf("%s: connect: %v", what, err)
	}
	defer s.close()
	r, err := s.call(opGetChildren, encPathWatch(parent, false))
	if err != nil || r.Err != 0 {
		t.Fatalf("%s: getChildren %s: %v %s", what, parent, err, codeName(r.Err))
	}
	res, err := decodeReply(opGetChildren, r)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, c := range res.(rChildren).Children {
		present[parent+"/"+c] = true
	}
	var missing []string
	for path := range want {
		if !present[path] {
			missing = append(missing, path)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%s: %d of %d acknowledged creates missing, e.g. %s", what, len(missing), len(want), strings.Join(missing[:min(5, len(missing))], " "))
	}
}
