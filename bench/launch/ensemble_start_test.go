package launch

import (
	"context"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeMemberEnv, set in a test binary's environment, makes it a fake
// ensemble member instead of running tests: it binds the address the
// variable names (exiting with Go's bind error when it is taken, as zabd
// does) and answers srvr with the mode in fakeMemberModeEnv.
const (
	fakeMemberEnv     = "LAUNCH_TEST_FAKE_MEMBER_ADDR"
	fakeMemberModeEnv = "LAUNCH_TEST_FAKE_MEMBER_MODE"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(fakeMemberEnv); addr != "" {
		os.Exit(runFakeMember(addr, os.Getenv(fakeMemberModeEnv)))
	}
	os.Exit(m.Run())
}

func runFakeMember(addr, mode string) int {
	l, err := stdnet.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake member: %v\n", err)
		return 1
	}
	if mode == "exit" {
		fmt.Fprintln(os.Stderr, "fake member: exiting on purpose")
		return 3
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return 0
		}
		buf := make([]byte, 4)
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "srvr" {
			io.WriteString(c, "Zxid: 0x0\nMode: "+mode+"\n")
		}
		c.Close()
	}
}

// fakeMemberCommand runs this test binary as member p: member 1 leads,
// the others follow, and a member whose id is in exiting exits once bound.
func fakeMemberCommand(t *testing.T, exiting ...int) func(p *Process) error {
	self, err := os.Executable() // absolute: members run in their own directories
	if err != nil {
		t.Fatal(err)
	}
	return func(p *Process) error {
		mode := "follower"
		if p.ID == 1 {
			mode = "leader"
		}
		for _, id := range exiting {
			if p.ID == id {
				mode = "exit"
			}
		}
		p.argv = []string{self, "-test.run=^$"}
		p.env = append(os.Environ(), fakeMemberEnv+"="+p.Addr, fakeMemberModeEnv+"="+mode)
		return nil
	}
}

// takePortOnFirstPick makes the next ensemble's first pick of ports give
// member 2's client port to a listener the test holds, and counts picks.
func takePortOnFirstPick(t *testing.T) (held int, picks *int) {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	held = l.Addr().(*stdnet.TCPAddr).Port
	picks = new(int)
	pickPorts = func(n int) ([]int, error) {
		*picks++
		ports, err := FreePorts(n)
		if err == nil && *picks == 1 {
			ports[3] = held // member i's client port is ports[3i-3]
		}
		return ports, err
	}
	t.Cleanup(func() { pickPorts = FreePorts })
	return held, picks
}

// TestEnsembleStartsAgainOnNewPorts: a member that exits because its port
// was taken between the pick and its bind makes the whole ensemble start
// again on new ports, its members' directories emptied; the ensemble
// returned serves with every member.
func TestEnsembleStartsAgainOnNewPorts(t *testing.T) {
	held, picks := takePortOnFirstPick(t)
	dir := t.TempDir()
	e, err := startEnsemble(context.Background(), "fake", 3, dir, false, nil, time.Minute, 5*time.Second, fakeMemberCommand(t))
	if err != nil {
		t.Fatalf("startEnsemble: %v", err)
	}
	defer e.Kill()
	if *picks < 2 {
		t.Errorf("ports picked %d times, want a second pick (the first pick's member 2 could not bind)", *picks)
	}
	for _, p := range e.Members {
		if !p.Running() || p.Port == held {
			t.Errorf("%s on port %d (held %d): running %v", p.Name, p.Port, held, p.Running())
		}
		log, err := os.ReadFile(p.LogPath)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(log), "=== launch: run") != 1 || strings.Contains(string(log), "address already in use") {
			t.Errorf("%s's log holds more than its own run: its directory was not emptied:\n%s", p.Name, log)
		}
	}
	if leader, err := e.WaitServing(context.Background()); err != nil || leader != 1 {
		t.Errorf("WaitServing = %d, %v; want 1", leader, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "2", "data", "myid")); err != nil {
		t.Errorf("member 2's myid after the second layout: %v", err)
	}
}

// TestEnsembleStartFailsWhenAMemberExits: a member that exits during the
// start for any other reason fails it at once, naming the member and its
// log, with no other try. (With a minute of start
// timeout, an error that says the member exited is one that did not wait
// for the timeout.)
func TestEnsembleStartFailsWhenAMemberExits(t *testing.T) {
	picks := 0
	pickPorts = func(n int) ([]int, error) { picks++; return FreePorts(n) }
	t.Cleanup(func() { pickPorts = FreePorts })
	_, err := startEnsemble(context.Background(), "fake", 3, t.TempDir(), false, nil, time.Minute, 5*time.Second, fakeMemberCommand(t, 3))
	if err == nil {
		t.Fatal("startEnsemble succeeded with member 3 exiting")
	}
	for _, want := range []string{"fake.3", "exited during start", "exit status 3", "exiting on purpose"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if picks != 1 || portTaken(err) {
		t.Errorf("%d picks, port taken %v; want one try for an exit that is not a taken port", picks, portTaken(err))
	}
}
