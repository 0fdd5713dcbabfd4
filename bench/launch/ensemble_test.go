package launch

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseSrvr(t *testing.T) {
	tests := []struct {
		name, out string
		want      ServerStatus
	}{
		{"zookeeper follower", "Zookeeper version: 3.8.4\nLatency min/avg/max: 0/0.0/0\nZxid: 0x3000013f4\nMode: follower\nNode count: 5070\n",
			ServerStatus{Mode: "follower", Zxid: 0x3000013f4, NodeCount: 5070}},
		{"zookeeper not serving", "This ZooKeeper instance is not currently serving requests\n", ServerStatus{Zxid: -1, NodeCount: -1}},
		{"zabd member without a role", "Zookeeper version: 3.8.4-zabd\nZxid: 0x100000001\nMode: \nNode count: 5\n",
			ServerStatus{Zxid: 0x100000001, NodeCount: 5}},
		{"standalone", "Mode: standalone\nZxid: 0x0\n", ServerStatus{Mode: "standalone", Zxid: 0, NodeCount: -1}},
		{"garbage", "Zxid: zz\nNode count: x\n", ServerStatus{Zxid: -1, NodeCount: -1}},
	}
	for _, tc := range tests {
		if got := ParseSrvr(tc.out); got != tc.want {
			t.Errorf("%s: ParseSrvr = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseProcStatCPU(t *testing.T) {
	tests := []struct {
		line    string
		want    time.Duration
		wantErr bool
	}{
		{"1234 (java) S 1 1234 1234 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 40 0 100 0 0", 1750 * time.Millisecond, false},
		{"99 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 7 3 0 0", 100 * time.Millisecond, false},
		{"99 (x) R 1 2", 0, true},
		{"99 x R 1 2 3 4 5 6 7 8 9 10 7 3", 0, true},
		{"99 (x) R 1 2 3 4 5 6 7 8 9 10 -7 3 0", 0, true},
	}
	for _, tc := range tests {
		got, err := parseProcStatCPU(tc.line)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parseProcStatCPU(%q) = %v, %v; want %v, error %v", tc.line, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestProcessCPUTime(t *testing.T) {
	addr := fakeServer(t)
	// A second of busy shell, then sleep: the child has used CPU.
	p := shProcess(t, addr, "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec sleep 30")
	if err := p.start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := p.CPUTime()
		if err != nil {
			t.Fatalf("CPUTime: %v", err)
		}
		if d > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPUTime still 0 after a busy loop")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.CPUTime(); !errors.Is(err, ErrNotRunning) {
		t.Errorf("CPUTime after Kill = %v, want ErrNotRunning", err)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := FreePorts(9)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 9 distinct", ports)
		}
		seen[p] = true
	}
}

func TestLayoutEnsemble(t *testing.T) {
	dir := t.TempDir()
	e, err := layoutEnsemble("zabd", dir, 3, true, map[string]string{"tickTime": "200", "syncLimit": ""}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Members) != 3 || len(e.QuorumPorts) != 3 || len(e.ElectionPorts) != 3 {
		t.Fatalf("ensemble %+v", e)
	}
	for i, p := range e.Members {
		id := i + 1
		if p.ID != id || p.Name != fmt.Sprintf("zabd.%d", id) || p.Dir != filepath.Join(dir, fmt.Sprint(id)) {
			t.Errorf("member %d: %+v", id, p)
		}
		myid, err := os.ReadFile(filepath.Join(p.DataDir, "myid"))
		if err != nil || string(myid) != fmt.Sprintf("%d\n", id) {
			t.Errorf("member %d myid %q, %v", id, myid, err)
		}
		cfg, err := os.ReadFile(p.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			want := fmt.Sprintf("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", j+1, e.QuorumPorts[j], e.ElectionPorts[j], e.Members[j].Port)
			if !strings.Contains(string(cfg), want) {
				t.Errorf("member %d zoo.cfg lacks %q:\n%s", id, want, cfg)
			}
		}
		for _, want := range []string{"tickTime=200\n", "initLimit=10\n", "forceSync=yes\n", fmt.Sprintf("clientPort=%d\n", p.Port)} {
			if !strings.Contains(string(cfg), want) {
				t.Errorf("member %d zoo.cfg lacks %q:\n%s", id, want, cfg)
			}
		}
		if strings.Contains(string(cfg), "syncLimit") {
			t.Errorf("member %d zoo.cfg keeps syncLimit, which ExtraCfg removed:\n%s", id, cfg)
		}
	}
	if _, err := layoutEnsemble("zabd", dir, 0, false, nil, 0, 0); err == nil {
		t.Errorf("ensemble of 0: no error")
	}
}

// fakeMember answers srvr with "Mode: <mode>" (mode "" : not serving, as
// ZooKeeper says it), changeable while it runs.
type fakeMember struct {
	addr string
	mode atomic.Value
}

func newFakeMember(t *testing.T, mode string) *fakeMember {
	t.Helper()
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMember{addr: l.Addr().String()}
	m.mode.Store(mode)
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
			if _, err := io.ReadFull(c, buf); err == nil && string(buf) == "srvr" {
				if mode := m.mode.Load().(string); mode == "" {
					io.WriteString(c, "This ZooKeeper instance is not currently serving requests\n")
				} else {
					io.WriteString(c, "Zxid: 0x5\nMode: "+mode+"\n")
				}
			}
			c.Close()
		}
	}()
	return m
}

// fakeEnsemble is an Ensemble whose members are sleeping shells (so they
// run) answered for by fake members.
func fakeEnsemble(t *testing.T, modes ...string) (*Ensemble, []*fakeMember) {
	t.Helper()
	e := &Ensemble{Name: "fake"}
	var fms []*fakeMember
	for i, mode := range modes {
		fm := newFakeMember(t, mode)
		p := shProcess(t, fm.addr, "exec sleep 60")
		p.ID, p.Name, p.ready = i+1, fmt.Sprintf("fake.%d", i+1), probeMember
		if _, err := p.spawn(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Kill() })
		e.Members = append(e.Members, p)
		fms = append(fms, fm)
	}
	return e, fms
}

func TestWaitServing(t *testing.T) {
	e, fms := fakeEnsemble(t, "follower", "", "leader")
	// Member 2 serves a little later.
	time.AfterFunc(150*time.Millisecond, func() { fms[1].mode.Store("follower") })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leader, err := e.WaitServing(ctx)
	if err != nil || leader != 3 {
		t.Fatalf("WaitServing = %d, %v; want 3", leader, err)
	}
	if got := e.Leader(); got != 3 {
		t.Errorf("Leader = %d, want 3", got)
	}
	if got := e.Followers(); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("Followers = %v, want [1 2]", got)
	}
	// The leader killed: the survivors are waited for, not the dead.
	if err := e.Member(3).Kill(); err != nil {
		t.Fatal(err)
	}
	fms[0].mode.Store("")
	time.AfterFunc(100*time.Millisecond, func() { fms[1].mode.Store("leader"); fms[0].mode.Store("follower") })
	if leader, err := e.WaitServing(ctx); err != nil || leader != 2 {
		t.Fatalf("after the kill: WaitServing = %d, %v; want 2", leader, err)
	}
	// Two members claiming to lead is not an ensemble serving.
	fms[0].mode.Store("leader")
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	_, err = e.WaitServing(short)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "2 leading") || !strings.Contains(err.Error(), "fake.3 at") ||
		!strings.Contains(err.Error(), "not running") {
		t.Errorf("two leaders: err = %v, want ErrNotReady naming each member", err)
	}
}

func TestMemberRestartWaitsForItsRole(t *testing.T) {
	e, fms := fakeEnsemble(t, "leader", "")
	p := e.Member(2)
	p.startTimeout = 5 * time.Second
	if err := p.Kill(); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(200*time.Millisecond, func() { fms[1].mode.Store("follower") })
	began := time.Now()
	if err := p.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if el := time.Since(began); el < 150*time.Millisecond {
		t.Errorf("Restart returned after %v, before the member served", el)
	}
}

// TestZKEnsemble runs a real Apache ZooKeeper ensemble when it is
// installed: it serves with one leader, survives its leader's kill, and
// the killed member rejoins. Its first pick of ports gives member 2 a port
// that is taken, so it also shows that ZooKeeper's exit on a taken port
// (a BindException) is recognized and the ensemble started again.
func TestZKEnsemble(t *testing.T) {
	if err := ZooKeeperInstalled(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must have Apache ZooKeeper: %v", err)
		}
		t.Skipf("APACHE ZOOKEEPER NOT INSTALLED (apt-get install zookeeper): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	held, picks := takePortOnFirstPick(t)
	e, err := StartZKEnsemble(ctx, 3, ZKOptions{Dir: t.TempDir(), ExtraCfg: map[string]string{"tickTime": "200"}, StartTimeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Kill()
	if *picks < 2 || e.Member(2).Port == held {
		t.Errorf("ports picked %d times, member 2 on %d (held %d); want a second pick after member 2 found its port taken", *picks, e.Member(2).Port, held)
	}
	leader := e.Leader()
	if leader == 0 || len(e.Followers()) != 2 {
		t.Fatalf("leader %d followers %v", leader, e.Followers())
	}
	if cpu, err := e.CPUTimes(); err != nil || cpu[0] <= 0 {
		t.Errorf("CPUTimes = %v, %v; want each JVM's CPU", cpu, err)
	}
	if err := e.Member(leader).Kill(); err != nil {
		t.Fatal(err)
	}
	next, err := e.WaitServing(ctx)
	if err != nil || next == leader || next == 0 {
		t.Fatalf("after killing leader %d: WaitServing = %d, %v", leader, next, err)
	}
	if err := e.Member(leader).Restart(ctx); err != nil {
		t.Fatalf("restarting member %d: %v", leader, err)
	}
	if st, err := Srvr(e.Member(leader).Addr, 2*time.Second); err != nil || st.Mode != "follower" {
		t.Errorf("restarted member: %+v, %v; want a follower", st, err)
	}
	if err := e.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
}
