package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer answers ruok with imok and srvr with a fixed text on a loopback
// listener, standing in for a server so FourLetter and readiness polling can
// be tested without Java.
func fakeServer(t *testing.T) string {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4)
			c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := io.ReadFull(c, buf); err == nil {
				switch string(buf) {
				case "ruok":
					io.WriteString(c, "imok")
				case "srvr":
					io.WriteString(c, "Zookeeper version: fake\nMode: standalone\n")
				}
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

func TestFourLetter(t *testing.T) {
	addr := fakeServer(t)
	tests := []struct {
		cmd, want string
	}{
		{"ruok", "imok"},
		{"srvr", "Zookeeper version: fake\nMode: standalone\n"},
		{"xxxx", ""},
	}
	for _, tc := range tests {
		got, err := FourLetter(addr, tc.cmd, 2*time.Second)
		if err != nil || got != tc.want {
			t.Errorf("FourLetter(%s) = %q, %v; want %q, nil", tc.cmd, got, err, tc.want)
		}
	}
	if _, err := FourLetter(addr, "toolong", time.Second); err == nil {
		t.Errorf("FourLetter with a 7-byte word: want error")
	}
	port, _ := FreePort()
	if _, err := FourLetter(fmt.Sprintf("127.0.0.1:%d", port), "ruok", time.Second); err == nil {
		t.Errorf("FourLetter to a closed port: want error")
	}
}

// shProcess builds a Process running a shell script, wired like the real
// ones, with the fake server providing readiness.
func shProcess(t *testing.T, addr, script string) *Process {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	dir := t.TempDir()
	p, err := prepare("fake", dir, "", 0, 3*time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = addr
	p.argv = []string{sh, "-c", script}
	p.env = os.Environ()
	return p
}

func TestProcessLifecycle(t *testing.T) {
	addr := fakeServer(t)
	// exec so that SIGTERM reaches sleep directly and kills it.
	p := shProcess(t, addr, "exec sleep 30")
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !p.Running() || p.PID() == 0 {
		t.Fatalf("after start: Running=%v PID=%d", p.Running(), p.PID())
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.Running() {
		t.Fatalf("Running after Stop")
	}
	if err := p.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	if err := p.Kill(); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("second Kill = %v, want ErrNotRunning", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("Stop of exited process = %v, want nil", err)
	}
	log, err := os.ReadFile(p.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "=== launch: run 1") || !strings.Contains(string(log), "=== launch: run 2") {
		t.Errorf("log lacks the run separator:\n%s", log)
	}
}

func TestProcessOutputCapturedAndWait(t *testing.T) {
	addr := fakeServer(t)
	p := shProcess(t, addr, "echo to-stdout; echo to-stderr >&2; exec sleep 0.5")
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("Wait = %v, want nil (exit 0)", err)
	}
	<-p.Done()
	tail := p.LogTail(2)
	if tail != "to-stdout\nto-stderr" {
		t.Errorf("LogTail(2) = %q, want both streams in order", tail)
	}
}

func TestProcessStopEscalates(t *testing.T) {
	addr := fakeServer(t)
	p := shProcess(t, addr, "trap '' TERM; echo trapped-$((1+1)); while :; do sleep 0.1; done")
	p.stopTimeout = 300 * time.Millisecond
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The fake server is ready before sh has run its trap; SIGTERM must
	// come after it.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.LogTail(5), "trapped-2") {
		if time.Now().After(deadline) {
			t.Fatalf("sh never printed 'trapped-2':\n%s", p.LogTail(5))
		}
		time.Sleep(10 * time.Millisecond)
	}
	err := p.Stop()
	if err == nil || !strings.Contains(err.Error(), "ignored SIGTERM") {
		t.Fatalf("Stop of a TERM-ignoring process = %v, want 'ignored SIGTERM' (exit %v, running %v)\n%s", err, p.exitErr(), p.Running(), p.LogTail(10))
	}
	if p.Running() {
		t.Fatalf("still running after escalated Stop")
	}
}

func TestProcessExitsBeforeReady(t *testing.T) {
	port, _ := FreePort()
	p := shProcess(t, fmt.Sprintf("127.0.0.1:%d", port), "echo boom >&2; exit 3")
	err := p.start(context.Background())
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("start of a process that exits = %v, want ErrNotReady with the log tail", err)
	}
}

func TestProcessNeverReady(t *testing.T) {
	port, _ := FreePort()
	p := shProcess(t, fmt.Sprintf("127.0.0.1:%d", port), "exec sleep 30")
	p.startTimeout = 300 * time.Millisecond
	start := time.Now()
	err := p.start(context.Background())
	if !errors.Is(err, ErrNotReady) {
		t.Fatalf("start = %v, want ErrNotReady", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("start took %v with a 300ms bound", el)
	}
	if p.Running() {
		t.Errorf("process left running after a failed start")
	}
}

func TestStartZabdMissingBinary(t *testing.T) {
	_, err := StartZabd(context.Background(), filepath.Join(t.TempDir(), "nope"), ZabdOptions{Dir: t.TempDir()})
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("StartZabd(missing) = %v, want ErrNotInstalled", err)
	}
}

func TestZooKeeperClassPathOverride(t *testing.T) {
	t.Setenv("ZOOKEEPER_CLASSPATH", "/x/a.jar:/x/b.jar")
	cp, err := ZooKeeperClassPath()
	if err != nil || cp != "/x/a.jar:/x/b.jar" {
		t.Fatalf("ZooKeeperClassPath() = %q, %v", cp, err)
	}
}

func TestClassPathIn(t *testing.T) {
	touch := func(dir string, names ...string) {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	deb := t.TempDir()
	touch(deb, "zookeeper.jar", "zookeeper-jute.jar", "slf4j-simple.jar", "other.jar")
	if got, want := classPathIn(deb), deb+"/zookeeper.jar:"+deb+"/zookeeper-jute.jar:"+deb+"/slf4j-simple.jar"; got != want {
		t.Errorf("debian layout: got %q, want %q", got, want)
	}
	up := t.TempDir()
	touch(up, "zookeeper-3.8.4.jar", "netty-handler-4.1.jar", "logback-classic.jar")
	if got, want := classPathIn(up), up+"/logback-classic.jar:"+up+"/netty-handler-4.1.jar:"+up+"/zookeeper-3.8.4.jar"; got != want {
		t.Errorf("tarball layout: got %q, want %q", got, want)
	}
	if got := classPathIn(t.TempDir()); got != "" {
		t.Errorf("empty dir: got %q, want empty", got)
	}
}

// TestStartApacheZK runs the real server when it is installed.
func TestStartApacheZK(t *testing.T) {
	if err := ZooKeeperInstalled(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have Apache ZooKeeper: %v", err)
		}
		t.Skipf("APACHE ZOOKEEPER NOT INSTALLED (apt-get install zookeeper): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := StartApacheZK(ctx, ZKOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	out, err := FourLetter(p.Addr, "srvr", 2*time.Second)
	if err != nil || !strings.Contains(out, "Mode: standalone") {
		t.Errorf("srvr = %q, %v; want standalone", out, err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v\n%s", err, p.LogTail(20))
	}
	if err := p.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if out, err := FourLetter(p.Addr, "ruok", 2*time.Second); out != "imok" {
		t.Errorf("ruok after restart = %q, %v", out, err)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestProcessExecDoesNotWait(t *testing.T) {
	// Nothing listens on this port, so start() would wait for readiness
	// until its bound; Exec must return at once with the child running.
	port, _ := FreePort()
	p := shProcess(t, fmt.Sprintf("127.0.0.1:%d", port), "exec sleep 30")
	p.startTimeout = 30 * time.Second
	began := time.Now()
	if err := p.Exec(); err != nil {
		t.Fatalf("Exec: %v", err)
	}
	if el := time.Since(began); el > 5*time.Second {
		t.Errorf("Exec took %v; it must not wait for readiness", el)
	}
	if !p.Running() || p.PID() == 0 {
		t.Fatalf("after Exec: Running=%v PID=%d", p.Running(), p.PID())
	}
	if err := p.Exec(); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("second Exec while running = %v, want 'already running'", err)
	}
	done := p.Done()
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
	select {
	case <-done:
	default:
		t.Fatalf("Done not closed after Kill")
	}
	if err := p.Exec(); err != nil {
		t.Fatalf("Exec after the child exited: %v", err)
	}
	if err := p.Kill(); err != nil {
		t.Fatalf("Kill: %v", err)
	}
}

func TestPinArgv(t *testing.T) {
	argv := []string{"/bin/server", "--flag"}
	got, err := pinArgv(argv, "")
	if err != nil || len(got) != 2 {
		t.Fatalf("no CPUs: got %v, %v; want argv unchanged", got, err)
	}
	for _, bad := range []string{"0;rm", "a", "-1", "0 1"} {
		if _, err := pinArgv(argv, bad); err == nil {
			t.Errorf("CPU list %q accepted", bad)
		}
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("taskset (util-linux) not installed")
	}
	got, err = pinArgv(argv, "0")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[1] != "-c" || got[2] != "0" || got[3] != "/bin/server" || got[4] != "--flag" {
		t.Fatalf("pinned argv %q", got)
	}
}

// TestPinnedProcessRunsOnItsCPU starts a child under a CPU list and reads
// the affinity it got from inside it.
func TestPinnedProcessRunsOnItsCPU(t *testing.T) {
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("taskset (util-linux) not installed")
	}
	argv, err := pinArgv([]string{"sh", "-c", "grep Cpus_allowed_list /proc/self/status"}, "0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(argv[0], argv[1:]...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) != 2 || f[1] != "0" {
		t.Fatalf("child's affinity: %q, want CPU 0 only", out)
	}
	if own := OwnCPUs(); own == "" {
		t.Error("OwnCPUs is empty on Linux")
	}
}

func TestCountCPUList(t *testing.T) {
	for list, want := range map[string]int{"0": 1, "0-1": 2, "0-3,8,10-11": 7, "": 0, "x": 0, "3-1": 0, "0-": 0} {
		if got := countCPUList(list); got != want {
			t.Errorf("countCPUList(%q) = %d, want %d", list, got, want)
		}
	}
	if MachineCPUs() < 1 {
		t.Error("MachineCPUs found no CPU")
	}
}
