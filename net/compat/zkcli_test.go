package compat

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// findZkCli returns Apache ZooKeeper's command-line client script.
func findZkCli() (string, error) {
	cands := []string{"/usr/share/zookeeper/bin/zkCli.sh"}
	if h := os.Getenv("ZOOKEEPER_HOME"); h != "" {
		cands = append([]string{filepath.Join(h, "bin", "zkCli.sh")}, cands...)
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", fmt.Errorf("zkCli.sh in %s: %w", strings.Join(cands, ", "), launch.ErrNotInstalled)
}

// interactive drives a line-oriented program through its stdin and reads
// its combined output.
// Concurrency: mu guards out; the reader goroutine appends, expect reads.
type interactive struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	mu    sync.Mutex
	out   bytes.Buffer
	pos   int           // output consumed by expect so far
	grew  chan struct{} // token when out grows
	done  chan struct{} // closed when the program exits
}

func startInteractive(t *testing.T, name string, argv ...string) *interactive {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	// Own process group: zkCli.sh runs java as a child, so ending it means
	// signalling the group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	it := &interactive{t: t, name: name, cmd: cmd, stdin: in, grew: make(chan struct{}, 1), done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start %v: %v", name, argv, err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pr.Read(buf)
			it.mu.Lock()
			it.out.Write(buf[:n])
			it.mu.Unlock()
			select {
			case it.grew <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		cmd.Wait()
		pw.Close()
		close(it.done)
	}()
	t.Cleanup(func() {
		select {
		case <-it.done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-it.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", name, it.output())
		}
	})
	return it
}

func (it *interactive) output() string {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.out.String()
}

func (it *interactive) send(line string) {
	it.t.Helper()
	if _, err := io.WriteString(it.stdin, line+"\n"); err != nil {
		it.t.Fatalf("%s: write %q: %v", it.name, line, err)
	}
}

// expect waits up to d for want to appear in output not yet consumed, and
// consumes output up to the end of it.
func (it *interactive) expect(want string, d time.Duration) {
	it.t.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		it.mu.Lock()
		s := it.out.String()[it.pos:]
		if i := strings.Index(s, want); i >= 0 {
			it.pos += i + len(want)
			it.mu.Unlock()
			return
		}
		it.mu.Unlock()
		select {
		case <-it.grew:
		case <-it.done:
			// One last look at what was written before exit.
			if strings.Contains(it.output()[it.pos:], want) {
				continue
			}
			it.t.Fatalf("%s exited before printing %q; output after the last match:\n%s", it.name, want, it.output()[it.pos:])
		case <-t.C:
			it.t.Fatalf("%s: no %q within %v; output after the last match:\n%s", it.name, want, d, it.output()[it.pos:])
		}
	}
}

func (it *interactive) waitExit(d time.Duration) {
	it.t.Helper()
	select {
	case <-it.done:
	case <-time.After(d):
		it.t.Fatalf("%s did not exit within %v", it.name, d)
	}
}

// TestZkCliLock plays the lock hand-off with two Debian zkCli.sh clients:
// A takes the ephemeral lock, B finds it taken and watches it, A quits,
// B sees NodeDeleted and takes the lock.
func TestZkCliLock(t *testing.T) {
	forEachServer(t, func(t *testing.T, p *launch.Process) {
		cli, err := findZkCli()
		zktest.RequireInstalled(t, "zookeeper", err)
		const d = 30 * time.Second
		connected := "WatchedEvent state:SyncConnected type:None path:null"
		a := startInteractive(t, "zkCli A", cli, "-server", p.Addr)
		a.expect(connected, d)
		a.send("create -e /lock")
		a.expect("Created /lock", d)

		b := startInteractive(t, "zkCli B", cli, "-server", p.Addr)
		b.expect(connected, d)
		b.send("create -e /lock")
		b.expect("Node already exists: /lock", d)
		b.send("stat -w /lock")
		b.expect("numChildren = 0", d)

		a.send("quit")
		a.waitExit(d)
		b.expect("WatchedEvent state:SyncConnected type:NodeDeleted path:/lock", d)
		b.send("create -e /lock")
		b.expect("Created /lock", d)
		b.send("quit")
		b.waitExit(d)
	})
}
