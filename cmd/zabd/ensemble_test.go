package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	stdnet "net"

	"zabd/engine"
	"zabd/net/zktest"
)

// ensemble is a set of real zabd processes on loopback, each a member.
// Its methods are called from the test's goroutine only.
type ensemble struct {
	t      *testing.T
	bin    string
	dir    string
	n      int
	client []string // client addresses, index i = server i+1
	procs  []*exec.Cmd
	exited []chan struct{}
	paused []bool // SIGSTOPped: not asked for its mode
	began  time.Time
}

// logf logs with the time since the ensemble was made.
func (e *ensemble) logf(format string, args ...any) {
	e.t.Helper()
	e.t.Logf("%6.2fs: %s", time.Since(e.began).Seconds(), fmt.Sprintf(format, args...))
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

// newEnsemble writes n members' zoo.cfg (tickTime 200, extra appended)
// and myid and starts them all. At cleanup every process is killed, and
// the test fails if one exited on its own or a log shows a data race or a
// panic.
func newEnsemble(t *testing.T, n int, extra string) *ensemble {
	return newEnsembleEach(t, n, func(int) string { return extra })
}

// newEnsembleEach is newEnsemble with server i's own extra lines.
func newEnsembleEach(t *testing.T, n int, extra func(i int) string) *ensemble {
	t0 := time.Now()
	e := &ensemble{t: t, bin: zktest.BuildZabd(t), dir: t.TempDir(), n: n,
		procs: make([]*exec.Cmd, n), exited: make([]chan struct{}, n), paused: make([]bool, n), began: time.Now()}
	e.logf("built in %v", time.Since(t0))
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
			filepath.Join(d, "data"), ports[3*i], strings.Join(servers, "\n"), extra(i+1))
		os.WriteFile(filepath.Join(d, "zoo.cfg"), []byte(cfg), 0o644)
	}
	for i := 1; i <= n; i++ {
		e.start(i)
	}
	t.Cleanup(func() {
		e.logf("cleanup")
		defer e.logf("cleaned up")
		for i := 1; i <= n; i++ {
			if e.procs[i-1] != nil {
				select {
				case <-e.exited[i-1]:
					t.Errorf("server %d exited on its own:\n%s", i, e.logTail(i))
				default:
				}
			}
			e.kill(i)
		}
		for i := 1; i <= n; i++ {
			if s := e.logTrouble(i); s != "" {
				t.Errorf("server %d's log:\n%s", i, s)
			}
		}
	})
	return e
}

// dataDir is server i's data dir.
func (e *ensemble) dataDir(i int) string { return filepath.Join(e.dir, fmt.Sprint(i), "data") }

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
	e.procs[i-1], e.exited[i-1], e.paused[i-1] = cmd, done, false
}

// kill kills server i with SIGKILL (stopped or not) and waits for it to be
// gone.
func (e *ensemble) kill(i int) {
	if c := e.procs[i-1]; c != nil {
		c.Process.Kill()
		<-e.exited[i-1]
		e.procs[i-1], e.paused[i-1] = nil, false
	}
}

func (e *ensemble) signal(i int, sig syscall.Signal) {
	if c := e.procs[i-1]; c != nil {
		c.Process.Signal(sig)
	}
}

// pause stops server i with SIGSTOP and returns once every thread of it
// has stopped (the signal is delivered asynchronously: a thread may run
// on for a moment and, say, log a proposal); resume continues it.
func (e *ensemble) pause(i int) {
	e.signal(i, syscall.SIGSTOP)
	e.paused[i-1] = true
	c := e.procs[i-1]
	if c == nil {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for !allThreadsStopped(c.Process.Pid) {
		if time.Now().After(deadline) {
			e.t.Fatalf("server %d (pid %d) not stopped 10s after SIGSTOP", i, c.Process.Pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// allThreadsStopped says whether every thread of pid is in state T
// (stopped) per /proc/<pid>/task/*/stat.
func allThreadsStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		// The state follows the parenthesized command name.
		k := strings.LastIndexByte(string(b), ')')
		if k < 0 || k+2 >= len(b) || (b[k+2] != 'T' && b[k+2] != 't') {
			return false
		}
	}
	return true
}

func (e *ensemble) resume(i int) {
	e.signal(i, syscall.SIGCONT)
	e.paused[i-1] = false
}

// up says whether server i runs and is not paused.
func (e *ensemble) up(i int) bool { return e.procs[i-1] != nil && !e.paused[i-1] }

// log is server i's whole log (every run appended).
func (e *ensemble) log(i int) string {
	b, _ := os.ReadFile(filepath.Join(e.dir, fmt.Sprint(i), "zabd.log"))
	return string(b)
}

// logSize is the log's length now, for logSince.
func (e *ensemble) logSize(i int) int { return len(e.log(i)) }

// logSince is what server i logged after logSize returned from.
func (e *ensemble) logSince(i, from int) string {
	s := e.log(i)
	if from > len(s) {
		return ""
	}
	return s[from:]
}

func (e *ensemble) logTail(i int) string {
	lines := strings.Split(strings.TrimSpace(e.log(i)), "\n")
	return strings.Join(lines[max(0, len(lines)-25):], "\n")
}

// logTrouble returns the lines around the first data race report, panic
// or fatal runtime error in server i's log ("" if none).
func (e *ensemble) logTrouble(i int) string {
	lines := strings.Split(e.log(i), "\n")
	for k, l := range lines {
		if strings.Contains(l, "WARNING: DATA RACE") {
			end := k + 1
			for end < len(lines) && !strings.HasPrefix(lines[end], "==================") {
				end++
			}
			return strings.Join(lines[k:min(end, len(lines))], "\n")
		}
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return strings.Join(lines[max(0, k-5):min(len(lines), k+60)], "\n")
		}
	}
	return ""
}

// checkAlive fails the test if a server exited that was not killed.
func (e *ensemble) checkAlive() {
	e.t.Helper()
	for i := 1; i <= e.n; i++ {
		if e.procs[i-1] == nil {
			continue
		}
		select {
		case <-e.exited[i-1]:
			e.procs[i-1] = nil
			e.t.Fatalf("server %d exited on its own:\n%s", i, e.logTail(i))
		default:
		}
	}
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

// dumpModes logs every server's mode and log tail.
func (e *ensemble) dumpModes() {
	for i := 1; i <= e.n; i++ {
		m := "(killed)"
		switch {
		case e.paused[i-1]:
			m = "(paused)"
		case e.procs[i-1] != nil:
			m = fmt.Sprintf("%q", e.mode(i))
		}
		e.t.Logf("server %d, mode %s:\n%s", i, m, e.logTail(i))
	}
}

// waitModes waits until the servers that run and are not paused all
// serve, exactly one of them leading, and returns the leader's number.
func (e *ensemble) waitModes(timeout time.Duration) int {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		e.checkAlive()
		leader, leaders, serving, up := 0, 0, 0, 0
		for i := 1; i <= e.n; i++ {
			if !e.up(i) {
				continue
			}
			up++
			switch e.mode(i) {
			case "leader":
				leader = i
				leaders++
				serving++
			case "follower", "observer":
				serving++
			}
		}
		if leaders == 1 && serving == up {
			return leader
		}
		if time.Now().After(deadline) {
			e.dumpModes()
			e.t.Fatalf("no single leader served by all %d running servers within %v", up, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// connect returns a client of server i alone with a session (nil and the
// error if none within 15 s). The caller closes it.
func (e *ensemble) connect(i int) (*zk.Conn, error) {
	return connectTo([]string{e.client[i-1]}, 15*time.Second)
}

func connectTo(servers []string, wait time.Duration) (*zk.Conn, error) {
	c, ev, err := zkConnect(servers, true)
	if err != nil {
		return nil, err
	}
	go func() {
		for range ev {
		}
	}()
	deadline := time.Now().Add(wait)
	for c.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			c.Close()
			return nil, fmt.Errorf("no session with %v within %v (state %v)", servers, wait, c.State())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return c, nil
}

// fastHosts is the client library's host provider (servers shuffled,
// tried in turn) without its 1 s pause once every server was tried: it
// pauses 20 ms instead, so a failover's measured time is the ensemble's
// more than the client's back-off. (ZooKeeper's Java client pauses 1 s
// too; a real client sees up to that much more.)
type fastHosts struct {
	inOrder    bool // try the servers in the order given, not shuffled
	mu         sync.Mutex
	servers    []string
	curr, last int
}

func (h *fastHosts) Init(servers []string) error {
	h.servers = slices.Clone(servers)
	h.curr, h.last = -1, -1
	if h.inOrder {
		return nil
	}
	rand.Shuffle(len(h.servers), func(i, j int) { h.servers[i], h.servers[j] = h.servers[j], h.servers[i] })
	h.curr, h.last = -1, -1
	return nil
}

func (h *fastHosts) Len() int { return len(h.servers) }

func (h *fastHosts) Next() (string, bool) {
	h.mu.Lock()
	h.curr = (h.curr + 1) % len(h.servers)
	wrapped := h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	s := h.servers[h.curr]
	h.mu.Unlock()
	if wrapped {
		time.Sleep(20 * time.Millisecond)
	}
	return s, false
}

func (h *fastHosts) Connected() {
	h.mu.Lock()
	h.last = h.curr
	h.mu.Unlock()
}

// handshakeTimeout bounds a client's wait for the answer to its connect
// request. The client library waits 10 x its read timeout (27 s with a
// 4 s session) there, so a client that tries a SIGSTOPped member would
// stall for that long; ZooKeeper's Java client waits sessionTimeout /
// servers (1.3 s here).
const handshakeTimeout = 1500 * time.Millisecond

// handshakeConn caps the read deadlines the client sets until the first
// bytes arrive (the connect response) to handshakeTimeout from now.
type handshakeConn struct {
	stdnet.Conn
	read atomic.Bool
}

func (c *handshakeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

func (c *handshakeConn) SetReadDeadline(t time.Time) error {
	if !c.read.Load() && !t.IsZero() {
		t = minTime(t, time.Now().Add(handshakeTimeout))
	}
	return c.Conn.SetReadDeadline(t)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func dialShort(network, address string, timeout time.Duration) (stdnet.Conn, error) {
	c, err := stdnet.DialTimeout(network, address, timeout)
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: c}, nil
}

// zkConnect is zk.Connect with a 4 s session, no log, fastHosts and
// dialShort.
func zkConnect(servers []string, inOrder bool) (*zk.Conn, <-chan zk.Event, error) {
	return zk.Connect(servers, 4*time.Second, zk.WithLogger(quiet{}), zk.WithHostProvider(&fastHosts{inOrder: inOrder}),
		zk.WithDialer(dialShort))
}

// ack is one acknowledged create: its path, when it was sent and when
// its answer came.
type ack struct {
	path       string
	start, end time.Time
}

// load is a set of writers creating znodes through the ensemble until
// stopped, recording the ones acknowledged. Writer w creates
// /<prefix><w>/b<k>/n<seq> (k = seq/1000, parents made on the way) through
// a client of every server, the list shuffled by the client library, which
// moves to another server when its own fails. Errors (connection loss
// during a failover) are expected.
type load struct {
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	acks []ack
	errs map[string]int // failed creates by error
}

// startLoad starts writers writers, each pausing pace between creates.
func (e *ensemble) startLoad(prefix string, writers int, pace time.Duration) *load {
	l := &load{stop: make(chan struct{}), errs: map[string]int{}}
	for w := 0; w < writers; w++ {
		l.wg.Add(1)
		go l.run(e.t, e.client, fmt.Sprintf("/%s%d", prefix, w), pace)
	}
	return l
}

// maxCreates bounds each writer.
const maxCreates = 1_000_000

func (l *load) run(t *testing.T, servers []string, top string, pace time.Duration) {
	defer l.wg.Done()
	c, _, err := zkConnect(servers, false)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	acl := zk.WorldACL(zk.PermAll)
	for seq := 0; seq < maxCreates; seq++ {
		select {
		case <-l.stop:
			return
		default:
		}
		p := fmt.Sprintf("%s/b%03d/n%06d", top, seq/1000, seq)
		start := time.Now()
		_, err := c.Create(p, []byte("x"), 0, acl)
		if errors.Is(err, zk.ErrNoNode) {
			// The parents: made once each, by this writer alone.
			for _, q := range []string{top, path.Dir(p)} {
				if _, err := c.Create(q, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
					break
				}
			}
			start = time.Now()
			_, err = c.Create(p, []byte("x"), 0, acl)
		}
		if err != nil {
			l.mu.Lock()
			l.errs[err.Error()]++
			l.mu.Unlock()
		}
		switch {
		case err == nil:
			end := time.Now()
			l.mu.Lock()
			l.acks = append(l.acks, ack{p, start, end})
			l.mu.Unlock()
		case errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) || errors.Is(err, zk.ErrSessionExpired) ||
			errors.Is(err, zk.ErrSessionMoved) || errors.Is(err, zk.ErrNoNode):
			// A failover; ErrNoNode: a parent's create was lost in one.
		default:
			t.Logf("create %s: %v", p, err)
			time.Sleep(10 * time.Millisecond)
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
}

// acked returns the paths acknowledged so far, from the from-th on, and
// the count, for the next call's from.
func (l *load) acked(from int) ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ps []string
	for _, a := range l.acks[min(from, len(l.acks)):] {
		ps = append(ps, a.path)
	}
	return ps, len(l.acks)
}

// firstAckAfter waits until a create sent at t0 or later is acknowledged
// and returns how long after t0 its answer came.
func (l *load) firstAckAfter(t *testing.T, t0 time.Time, timeout time.Duration) time.Duration {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		l.mu.Lock()
		var first time.Time
		for k := len(l.acks) - 1; k >= 0 && !l.acks[k].end.Before(t0); k-- {
			if a := l.acks[k]; !a.start.Before(t0) && (first.IsZero() || a.end.Before(first)) {
				first = a.end
			}
		}
		l.mu.Unlock()
		if !first.IsZero() {
			return first.Sub(t0)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no create sent after %v acknowledged within %v", t0.Format("15:04:05.000"), timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// count is the number of creates acknowledged so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// waitCount waits until at least n creates are acknowledged.
func (l *load) waitCount(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for l.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d creates acknowledged within %v, waiting for %d", l.count(), timeout, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish stops the writers and returns every acknowledged path.
func (l *load) finish() []string {
	close(l.stop)
	l.wg.Wait()
	ps, _ := l.acked(0)
	return ps
}

// checkAll verifies every acknowledged path on every server that runs and
// is not paused: a sync through that server, then the children of each
// parent read there.
func (e *ensemble) checkAll(paths []string) {
	e.t.Helper()
	byParent := map[string][]string{}
	for _, p := range paths {
		byParent[path.Dir(p)] = append(byParent[path.Dir(p)], path.Base(p))
	}
	for i := 1; i <= e.n; i++ {
		if !e.up(i) {
			continue
		}
		c, err := e.connect(i)
		if err != nil {
			e.dumpModes()
			e.t.Fatalf("server %d: %v", i, err)
		}
		if _, err := c.Sync("/"); err != nil {
			c.Close()
			e.t.Fatalf("server %d: sync: %v", i, err)
		}
		missing := 0
		for dir, names := range byParent {
			children, _, err := c.Children(dir)
			if err != nil && !errors.Is(err, zk.ErrNoNode) {
				c.Close()
				e.t.Fatalf("server %d: children of %s: %v", i, dir, err)
			}
			have := map[string]bool{}
			for _, ch := range children {
				have[ch] = true
			}
			for _, name := range names {
				if !have[name] {
					missing++
					if missing < 5 {
						e.t.Errorf("server %d lacks acknowledged %s/%s", i, dir, name)
					}
				}
			}
		}
		c.Close()
		if missing > 0 {
			e.dumpModes()
			e.t.Fatalf("server %d lacks %d of %d acknowledged creates", i, missing, len(paths))
		}
	}
}

// names returns every path of server i's tree down to depth levels below
// the root (/zookeeper excluded), read after a sync through it.
func (e *ensemble) names(i, depth int) []string {
	e.t.Helper()
	c, err := e.connect(i)
	if err != nil {
		e.t.Fatalf("server %d: %v", i, err)
	}
	defer c.Close()
	if _, err := c.Sync("/"); err != nil {
		e.t.Fatalf("server %d: sync: %v", i, err)
	}
	var out []string
	var walk func(dir string, d int)
	walk = func(dir string, d int) {
		children, _, err := c.Children(dir)
		if err != nil {
			e.t.Fatalf("server %d: children of %s: %v", i, dir, err)
		}
		for _, ch := range children {
			p := path.Join(dir, ch)
			if p == "/zookeeper" {
				continue
			}
			out = append(out, p)
			if d > 1 {
				walk(p, d-1)
			}
		}
	}
	walk("/", depth)
	slices.Sort(out)
	return out
}

// checkSame verifies that the servers that run and are not paused hold
// the same paths down to depth levels.
func (e *ensemble) checkSame(depth int) {
	e.t.Helper()
	var first []string
	firstID := 0
	for i := 1; i <= e.n; i++ {
		if !e.up(i) {
			continue
		}
		ns := e.names(i, depth)
		if firstID == 0 {
			first, firstID = ns, i
			continue
		}
		if !slices.Equal(ns, first) {
			a, b := setDiff(first, ns), setDiff(ns, first)
			e.t.Fatalf("servers %d and %d differ: %d paths only on %d (%v), %d only on %d (%v)",
				firstID, i, len(a), firstID, a[:min(5, len(a))], len(b), i, b[:min(5, len(b))])
		}
	}
}

// setDiff is a - b for sorted a and b.
func setDiff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if _, ok := slices.BinarySearch(b, s); !ok {
			out = append(out, s)
		}
	}
	return out
}

// failovers collects the kill-to-first-acknowledged-write times of every
// test in this run, for the median the last test logs.
var failovers struct {
	mu sync.Mutex
	d  []time.Duration
}

func recordFailover(d time.Duration) {
	failovers.mu.Lock()
	failovers.d = append(failovers.d, d)
	failovers.mu.Unlock()
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestEnsembleKillLeaderUnderLoad(t *testing.T) {
	e := newEnsemble(t, 3, "")
	leader := e.waitModes(30 * time.Second)
	e.logf("leader %d", leader)
	l := e.startLoad("w", 3, 0)
	l.waitCount(t, 300, 30*time.Second)
	killedAt := time.Now()
	e.kill(leader)
	newLeader := e.waitModes(30 * time.Second)
	elected := time.Since(killedAt)
	failover := l.firstAckAfter(t, killedAt, 30*time.Second)
	recordFailover(failover)
	e.logf("leader %d killed; %d leads after %v; first write acknowledged after %v", leader, newLeader,
		elected.Round(time.Millisecond), failover.Round(time.Millisecond))
	e.start(leader)
	e.waitModes(30 * time.Second)
	e.logf("%d back", leader)
	l.firstAckAfter(t, time.Now(), 30*time.Second)
	all := l.finish()
	e.logf("%d creates acknowledged", len(all))
	e.checkAll(all)
	e.checkSame(3)
	e.logf("checked")
}

// Members on the pebble and badger engines (whose appends, as native's,
// run off the member loop through the engine's group commit): writes
// under load survive a killed leader, and the members end with one
// history.
func TestEnsembleOnOtherEngines(t *testing.T) {
	for _, eng := range []string{"pebble", "badger"} {
		t.Run(eng, func(t *testing.T) {
			e := newEnsemble(t, 3, "engine="+eng)
			leader := e.waitModes(30 * time.Second)
			l := e.startLoad("w", 3, 0)
			l.waitCount(t, 200, 30*time.Second)
			killedAt := time.Now()
			e.kill(leader)
			e.waitModes(30 * time.Second)
			l.firstAckAfter(t, killedAt, 30*time.Second)
			e.start(leader)
			e.waitModes(30 * time.Second)
			l.firstAckAfter(t, time.Now(), 30*time.Second)
			all := l.finish()
			e.logf("%s: %d creates acknowledged", eng, len(all))
			e.checkAll(all)
			e.checkSame(3)
			for i := 1; i <= 3; i++ {
				b, err := os.ReadFile(filepath.Join(e.dir, fmt.Sprint(i), "data", engine.MarkerFile))
				if err != nil || strings.TrimSpace(string(b)) != eng {
					t.Errorf("member %d's data dir names engine %q (%v), want %s", i, b, err, eng)
				}
			}
		})
	}
}
