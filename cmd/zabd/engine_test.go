package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func startEngine(t *testing.T, dir, kind string) (*server, error) {
	t.Helper()
	cfg := defaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TickTime = 200 * time.Millisecond
	cfg.Engine = kind
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	return start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// TestEngines runs a server on each engine: writes survive a restart, and
// the data dir then refuses the other engines with a message naming both.
func TestEngines(t *testing.T) {
	kinds := []string{"native", "pebble", "badger"}
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			s, err := startEngine(t, dir, kind)
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			c, _ := connect(t, s.Addr)
			for _, p := range []string{"/a", "/a/b", "/c"} {
				if _, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			for _, other := range kinds {
				if other == kind {
					continue
				}
				_, err := startEngine(t, dir, other)
				want := "data dir " + dir + " was written by engine " + kind + "; zabd was started with --engine " + other
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("start with %s on a %s dir: got %v, want an error saying %q", other, kind, err, want)
				}
			}
			s, err = startEngine(t, dir, kind)
			if err != nil {
				t.Fatalf("restart: %v", err)
			}
			defer s.Close()
			c2, _ := connect(t, s.Addr)
			for _, p := range []string{"/a", "/a/b", "/c"} {
				if data, _, err := c2.Get(p); err != nil || string(data) != p {
					t.Errorf("after restart %s: got %q, %v", p, data, err)
				}
			}
		})
	}
}

func TestEngineFlagValidated(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Engine = "rocksdb"
	err := cfg.validate()
	if err == nil || !strings.Contains(err.Error(), `engine "rocksdb" is not available (this build has: badger, native, pebble)`) {
		t.Errorf("validate with engine rocksdb: got %v", err)
	}
}
