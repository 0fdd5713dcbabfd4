package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	stdnet "net"

	"zabd/net/zktest"
)

// ensemble is a set of real zabd processes on loopback, each a member.
type ensemble struct {
	t       *testing.T
	bin     string
	dir     string
	n       int
	client  []string // client addresses, index i = server i+1
	procs   []*exec.Cmd
	exited  []chan struct{}
	cfgText []string
}

// freePorts reserves n distinct free loopback ports (closed again: a
// small window for another process to take one, as every such test has).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ls []stdnet.Listener
	var ports []int
	for i := 0; i < n; i++ {
		l, err := stdnet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*stdnet.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func newEnsemble(t *testing.T, n int, extra string) *ensemble {
	e := &ensemble{t: t, bin: zktest.BuildZabd(t), dir: t.TempDir(), n: n,
		procs: make([]*exec.Cmd, n), exited: make([]chan struct{}, n)}
	ports := freePorts(t, 3*n)
	var servers []string
	for i := 0; i < n; i++ {
		e.client = append(e.client, fmt.Sprintf("127.0.0.1:%d", ports[3*i]))
		servers = append(servers, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d", i+1, ports[3*i+1], ports[3*i+2], ports[3*i]))
	}
	for i := 0; i < n; i++ {
		d := filepath.Join(e.dir, fmt.Sprint(i+1))
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(d, "data", "myid"), []byte(fmt.Sprintln(i+1)), 0o644)
		cfg := fmt.Sprintf("tickTime=200\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n%s\n%s\n",
			filepath.Join(d, "data"), ports[3*i], strings.Join(servers, "\n"), extra)
		os.WriteFile(filepath.Join(d, "zoo.cfg"), []byte(cfg), 0o644)
	}
	for i := 1; i <= n; i++ {
		e.start(i)
	}
	t.Cleanup(func() {
		for i := 1; i <= n; i++ {
			e.kill(i)
		}
	})
	return e
}

// start starts server i (1-based).
func (e *ensemble) start(i int) {
	d := filepath.Join(e.dir, fmt.Sprint(i))
	f, err := os.OpenFile(filepath.Join(d, "zabd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.bin, filepath.Join(d, "zoo.cfg"))
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	f.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	e.procs[i-1], e.exited[i-1] = cmd, done
}

// kill kills server i with SIGKILL and waits for it to be gone.
func (e *ensemble) kill(i int) {
	if c := e.procs[i-1]; c != nil {
		c.Process.Kill()
		<-e.exited[i-1]
		e.procs[i-1] = nil
	}
}

func (e *ensemble) signal(i int, sig syscall.Signal) {
	if c := e.procs[i-1]; c != nil {
		c.Process.Signal(sig)
	}
}

func (e *ensemble) logTail(i int) string {
	b, _ := os.ReadFile(filepath.Join(e.dir, fmt.Sprint(i), "zabd.log"))
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// mode is server i's srvr Mode ("" when it does not serve).
func (e *ensemble) mode(i int) string {
	out := fourLetter(e.t, e.client[i-1], "srvr")
	for _, l := range strings.Split(out, "\n") {
		if m, ok := strings.CutPrefix(l, "Mode: "); ok {
			return strings.TrimSpace(m)
		}
	}
	return ""
}

// waitModes waits until the running servers all serve, one leading, and
// returns the leader's number.
func (e *ensemble) waitModes(timeout time.Duration) int {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		leader, serving, running := 0, 0, 0
		for i := 1; i <= e.n; i++ {
			if e.procs[i-1] == nil {
				continue
			}
			running++
			switch e.mode(i) {
			case "leader":
				leader = i
				serving++
			case "follower", "observer":
				serving++
			}
		}
		if leader != 0 && serving == running {
			return leader
		}
		if time.Now().After(deadline) {
			for i := 1; i <= e.n; i++ {
				e.t.Logf("server %d (mode %q):\n%s", i, e.mode(i), e.logTail(i))
			}
			e.t.Fatalf("no leader served by all %d running servers within %v", running, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writer creates znodes through one server until stop is closed, recording
// the ones acknowledged. Errors (connection loss during a failover) are
// expected; the client library reconnects to the server list.
type writer struct {
	mu    sync.Mutex
	acked []string
}

func (w *writer) run(t *testing.T, servers []string, prefix string, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	c, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		p := fmt.Sprintf("%s-%06d", prefix, i)
		if _, err := c.Create(p, []byte("x"), 0, zk.WorldACL(zk.PermAll)); err == nil {
			w.mu.Lock()
			w.acked = append(w.acked, p)
			w.mu.Unlock()
		} else if !errors.Is(err, zk.ErrConnectionClosed) && !errors.Is(err, zk.ErrNoServer) && !errors.Is(err, zk.ErrSessionExpired) &&
			!errors.Is(err, zk.ErrSessionMoved) && !errors.Is(err, zk.ErrNodeExists) {
			// A retried create may find its own earlier attempt.
			t.Logf("create %s: %v", p, err)
			time.Sleep(10 * time.Millisecond)
		}
		if i >= 100000 {
			return // bounded
		}
	}
}

// checkAll verifies every acknowledged path on every running server
// (each read after a sync, through that server).
func (e *ensemble) checkAll(paths []string) {
	e.t.Helper()
	for i := 1; i <= e.n; i++ {
		if e.procs[i-1] == nil {
			continue
		}
		c := zktest.Connect(e.t, e.client[i-1])
		if _, err := c.Sync("/"); err != nil {
			e.t.Fatalf("server %d: sync: %v", i, err)
		}
		children, _, err := c.Children("/")
		if err != nil {
			e.t.Fatalf("server %d: %v", i, err)
		}
		have := map[string]bool{}
		for _, ch := range children {
			have["/"+ch] = true
		}
		missing := 0
		for _, p := range paths {
			if !have[p] {
				missing++
				if missing < 5 {
					e.t.Errorf("server %d lacks acknowledged %s", i, p)
				}
			}
		}
		if missing > 0 {
			e.t.Fatalf("server %d lacks %d of %d acknowledged creates", i, missing, len(paths))
		}
		c.Close()
	}
}

func TestEnsembleKillLeaderUnderLoad(t *testing.T) {
	e := newEnsemble(t, 3, "")
	leader := e.waitModes(30 * time.Second)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ws := make([]*writer, 3)
	for i := range ws {
		ws[i] = &writer{}
		// Each writer starts on a different server and may move.
		servers := append(append([]string(nil), e.client[i:]...), e.client[:i]...)
		wg.Add(1)
		go ws[i].run(t, servers, fmt.Sprintf("/w%d", i), stop, &wg)
	}
	time.Sleep(500 * time.Millisecond)
	killedAt := time.Now()
	e.kill(leader)
	newLeader := e.waitModes(30 * time.Second)
	t.Logf("leader %d killed; %d leads after %v", leader, newLeader, time.Since(killedAt).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	e.start(leader)
	e.waitModes(30 * time.Second)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	var all []string
	for _, w := range ws {
		all = append(all, w.acked...)
	}
	if len(all) == 0 {
		t.Fatal("no write acknowledged")
	}
	t.Logf("%d creates acknowledged", len(all))
	e.checkAll(all)
}
