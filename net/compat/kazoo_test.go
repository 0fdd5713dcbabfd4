package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// debianPython is the interpreter python3-kazoo is installed for; another
// python3 on PATH may not have kazoo.
const debianPython = "/usr/bin/python3"

func requireKazoo(t *testing.T) {
	t.Helper()
	var err error
	if _, serr := os.Stat(debianPython); serr != nil {
		err = fmt.Errorf("%s: %w", debianPython, launch.ErrNotInstalled)
	} else if out, cerr := exec.Command(debianPython, "-c", "import kazoo").CombinedOutput(); cerr != nil {
		err = fmt.Errorf("import kazoo: %v: %s: %w", cerr, strings.TrimSpace(string(out)), launch.ErrNotInstalled)
	}
	zktest.RequireInstalled(t, "python3-kazoo", err)
}

// runPython runs a script from testdata with a timeout; the script prints
// a JSON summary and exits non-zero when its assertions fail.
func runPython(t *testing.T, timeout time.Duration, script string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, debianPython, append([]string{"testdata/" + script}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatalf("%s did not finish within %v:\n%s", script, timeout, out)
	}
	if err != nil {
		t.Fatalf("%s failed (%v):\n%s", script, err, out)
	}
	t.Logf("%s: %s", script, strings.TrimSpace(lastLine(string(out))))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// TestKazooLock: 5 kazoo clients increment a counter 10 times each under
// kazoo's Lock; no lost update, never two holders.
func TestKazooLock(t *testing.T) {
	requireKazoo(t)
	forEachServer(t, func(t *testing.T, p *launch.Process) {
		runPython(t, 150*time.Second, "kazoo_lock.py", p.Addr, "5", "10")
	})
}

// TestKazooElection: 3 kazoo contenders; exactly one leads at a time and
// leadership fails over each time the leader quits.
func TestKazooElection(t *testing.T) {
	requireKazoo(t)
	forEachServer(t, func(t *testing.T, p *launch.Process) {
		runPython(t, 150*time.Second, "kazoo_election.py", p.Addr)
	})
}
