package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	const idle = "SigQ:\t0/63\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n"
	for _, tc := range []struct {
		name, stat, status string
		want               holderState
	}{
		{"sleeping", "42 (zabd) S 1 42 42 0 -1 4194560 100 0", idle, holderAlive},
		{"running, odd name", "42 (za) (b d) R 1 42 42 0 -1 4194560 100 0", idle, holderAlive},
		{"exiting flag", "42 (zabd) R 1 42 42 0 -1 4194564 100 0", idle, holderExiting},
		{"disk sleep while exiting", "42 (zabd) D 1 42 42 0 -1 4194308 100 0", idle, holderExiting},
		{"zombie", "42 (zabd) Z 1 42 42 0 -1 4227084 100 0", idle, holderGone},
		{"dead", "42 (zabd) X 1 42 42 0 -1 4194560 100 0", idle, holderGone},
		{"SIGKILL pending for the process", "42 (zabd) S 1 42 42 0 -1 4194560 100 0",
			"SigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\n", holderExiting},
		{"SIGKILL pending for the thread", "42 (zabd) S 1 42 42 0 -1 4194560 100 0",
			"SigPnd:\t0000000000000100\nShdPnd:\t0000000000000000\n", holderExiting},
		{"SIGTERM pending only", "42 (zabd) S 1 42 42 0 -1 4194560 100 0",
			"SigPnd:\t0000000000000000\nShdPnd:\t0000000000004000\n", holderAlive},
		{"truncated stat", "42 (zabd) S 1", idle, holderUnknown},
		{"no parenthesis", "garbage", idle, holderUnknown},
	} {
		if got := classify([]byte(tc.stat), []byte(tc.status)); got != tc.want {
			t.Errorf("%s: classify = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestProbeProcess(t *testing.T) {
	if got := probeProcess(os.Getpid()); got != holderAlive {
		t.Fatalf("this process: %v, want alive", got)
	}
	if got := probeProcess(0); got != holderUnknown {
		t.Fatalf("pid 0: %v, want unknown", got)
	}
	// A child that has exited and is not reaped yet is a zombie: gone.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for probeProcess(cmd.Process.Pid) != holderGone {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still %v 10 s after it was started", cmd.Process.Pid, probeProcess(cmd.Process.Pid))
		}
		time.Sleep(time.Millisecond)
	}
}

// lockChildEnv makes the test binary a lock holder (see TestMain).
const lockChildEnv = "DATADIR_TEST_LOCK_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockChildEnv); dir != "" {
		l, err := Acquire(dir, Options{Owner: "test child"})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		bufio.NewReader(os.Stdin).ReadString('\n') // hold until stdin closes or a kill
		l.Release()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startHolder runs a child process that holds dir's lock.
func startHolder(t *testing.T, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockChildEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd
}

// A live holder in another process is refused at once, by pid; a holder
// killed with SIGKILL does not keep the lock: Acquire issued right after
// the kill (the child not yet reaped) succeeds.
func TestLockAcrossProcesses(t *testing.T) {
	for i := range 10 {
		dir := t.TempDir()
		child := startHolder(t, dir)
		_, err := Acquire(dir, Options{})
		var he *HeldError
		if !errors.As(err, &he) || he.PID != child.Process.Pid || he.Owner != "test child" || he.Exiting {
			t.Fatalf("round %d: Acquire on a live holder: %v (%+v), want held by pid %d", i, err, he, child.Process.Pid)
		}
		if err := syscall.Kill(child.Process.Pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		l, err := Acquire(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: Acquire right after kill -9 of the holder: %v", i, err)
		}
		if st := probeProcess(child.Process.Pid); st == holderAlive || st == holderExiting {
			t.Fatalf("round %d: Acquire returned while the killed holder was %v", i, st)
		}
		b, _ := os.ReadFile(l.Path())
		if h := parseHolder(b); h.pid != os.Getpid() {
			t.Fatalf("round %d: lock file names pid %d, want %d", i, h.pid, os.Getpid())
		}
		l.Release()
	}
}
