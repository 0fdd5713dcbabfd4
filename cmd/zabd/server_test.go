package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	stdnet "net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// startTest runs a standalone server in-process on a free loopback port.
func startTest(t *testing.T, dir string) *server {
	t.Helper()
	cfg := defaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TickTime = 200 * time.Millisecond
	cfg.FourLetterWords = []string{"*"}
	cfg.ContainerCheckInterval = 100 * time.Millisecond
	cfg.ExtendedTypesEnabled = true
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	s, err := start(cfg, logger)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return s
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func connect(t *testing.T, addr string) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, 2*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for c.State() != zk.StateHasSession {
		select {
		case <-ev:
		case <-deadline:
			t.Fatalf("no session after 5s (state %v)", c.State())
		}
	}
	t.Cleanup(c.Close)
	return c, ev
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

func TestBasicOpsAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := startTest(t, dir)
	c, _ := connect(t, s.Addr)
	if _, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNodeExists) {
		t.Fatalf("second create: got %v, want node exists", err)
	}
	seq, err := c.Create("/a/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil || seq != "/a/s-0000000000" {
		t.Fatalf("sequential create: got %q, %v", seq, err)
	}
	st, err := c.Set("/a", []byte("yy"), 0)
	if err != nil || st.Version != 1 || st.DataLength != 2 {
		t.Fatalf("set: %+v %v", st, err)
	}
	if _, err := c.Set("/a", []byte("z"), 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("stale set: got %v", err)
	}
	kids, _, err := c.Children("/")
	sort.Strings(kids)
	if err != nil || fmt.Sprint(kids) != "[a zookeeper]" {
		t.Fatalf("children of /: %v %v", kids, err)
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = startTest(t, dir)
	defer s.Close()
	c2, _ := connect(t, s.Addr)
	data, st, err := c2.Get("/a")
	if err != nil || string(data) != "yy" || st.Version != 1 || st.NumChildren != 1 {
		t.Fatalf("after restart: %q %+v %v", data, st, err)
	}
	seq, err = c2.Create("/a/s-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil || seq != "/a/s-0000000001" {
		t.Fatalf("sequential create after restart: got %q, %v", seq, err)
	}
}

func TestWatchBeforeReply(t *testing.T) {
	s := startTest(t, t.TempDir())
	defer s.Close()
	a, _ := connect(t, s.Addr)
	b, _ := connect(t, s.Addr)
	if _, err := a.Create("/w", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, ch, err := b.GetW("/w")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Set("/w", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDataChanged || ev.Path != "/w" {
			t.Fatalf("got %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no watch event within 5s")
	}
}

func TestEphemeralsDieWithSession(t *testing.T) {
	s := startTest(t, t.TempDir())
	defer s.Close()
	a, _ := connect(t, s.Addr)
	b, _ := connect(t, s.Addr)
	if _, err := a.Create("/e", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create("/e/child", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
		t.Fatalf("child of ephemeral: got %v", err)
	}
	ok, _, ch, err := b.ExistsW("/e")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	a.Close()
	select {
	case ev := <-ch:
		if ev.Type != zk.EventNodeDeleted {
			t.Fatalf("got %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ephemeral not deleted within 5s of close")
	}
}

func TestConcurrentCreatesDurable(t *testing.T) {
	dir := t.TempDir()
	s := startTest(t, dir)
	const clients, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := 0; i < clients; i++ {
		c, _ := connect(t, s.Addr)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if _, err := c.Create(fmt.Sprintf("/c%d-%d", i, j), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
					errs <- err
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = startTest(t, dir)
	defer s.Close()
	c, _ := connect(t, s.Addr)
	kids, _, err := c.Children("/")
	if err != nil || len(kids) != clients*each+1 {
		t.Fatalf("after restart: %d children, %v", len(kids), err)
	}
}

func TestFourLetterWords(t *testing.T) {
	s := startTest(t, t.TempDir())
	defer s.Close()
	for _, tc := range []struct{ word, want string }{
		{"ruok", "imok"},
		{"isro", "rw"},
		{"srvr", "Mode: standalone"},
		{"mntr", "zk_znode_count\t"},
		{"wchs", "Total watches:"},
	} {
		nc, err := stdnet.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write([]byte(tc.word))
		out, _ := io.ReadAll(nc)
		nc.Close()
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%s: got %q, want it to contain %q", tc.word, out, tc.want)
		}
	}
}

func TestContainerAndTTLReaped(t *testing.T) {
	s := startTest(t, t.TempDir()) // container check every 100ms, TTL enabled
	defer s.Close()
	c, _ := connect(t, s.Addr)
	if _, err := c.CreateContainer("/box", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/box/item", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/box/item", -1); err != nil {
		t.Fatal(err)
	}
	// Both go once the reaper sees them: wait for the deletions as events.
	for _, p := range []string{"/box", "/ttl"} {
		ok, _, ch, err := c.ExistsW(p)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		select {
		case ev := <-ch:
			if ev.Type != zk.EventNodeDeleted {
				t.Fatalf("%s: got %+v, want NodeDeleted", p, ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s not reaped within 10s", p)
		}
	}
}

func TestMaxClientCnxnsPerAddress(t *testing.T) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.MaxClientCnxns = 2
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	s, err := start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var conns []stdnet.Conn
	for i := 0; i < 3; i++ {
		nc, err := stdnet.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		conns = append(conns, nc)
	}
	// The third is closed by the server without a word.
	conns[2].SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := conns[2].Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("third connection from one address: read %d, %v; want it closed", n, err)
	}
	// The first two still work: ruok on them.
	for _, nc := range conns[:2] {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		nc.Write([]byte("ruok"))
		if out, _ := io.ReadAll(nc); string(out) != "imok" {
			t.Fatalf("ruok on an accepted connection: %q", out)
		}
	}
}
