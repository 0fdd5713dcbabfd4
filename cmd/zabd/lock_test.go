package main

import (
	"errors"
	"io"
	"log/slog"
	stdnet "net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/urfave/cli/v2"

	"zabd/engine/datadir"
)

// startCfg starts a server on cfg (validated here) with a silent logger.
func startCfg(t *testing.T, cfg Config) (*server, error) {
	t.Helper()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	return start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func exitCode(err error) int {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// A second server in this process on a held data dir or log dir is refused
// with exitInUse, and the first keeps serving; once the first is closed the
// dir can be opened again.
func TestDataDirLockedWhileServing(t *testing.T) {
	for _, kind := range []string{"native", "pebble", "badger"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			cfg := defaultConfig()
			cfg.ClientAddr = "127.0.0.1:0"
			cfg.DataDir = dir
			cfg.Engine = kind
			first, err := startCfg(t, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			c, _ := connect(t, first.Addr)
			if _, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}

			second := cfg // same dirs, another port
			_, err = startCfg(t, second)
			if exitCode(err) != exitInUse || !strings.Contains(err.Error(), "data dir "+dir+" is in use by pid") {
				t.Fatalf("second server on the data dir: got %v (exit %d), want exit %d naming the holder", err, exitCode(err), exitInUse)
			}
			logOnly := cfg // only the log dir is shared
			logOnly.DataDir = t.TempDir()
			logOnly.DataLogDir = dir
			_, err = startCfg(t, logOnly)
			if exitCode(err) != exitInUse || !strings.Contains(err.Error(), "data log dir "+dir+" is in use") {
				t.Fatalf("second server on the log dir: got %v (exit %d), want exit %d", err, exitCode(err), exitInUse)
			}
			if _, err := c.Create("/b", []byte("y"), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatalf("the first server after the refusals: %v", err)
			}
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			again, err := startCfg(t, cfg)
			if err != nil {
				t.Fatalf("start after the holder closed: %v", err)
			}
			defer again.Close()
			c2, _ := connect(t, again.Addr)
			for _, p := range []string{"/a", "/b"} {
				if _, _, err := c2.Get(p); err != nil {
					t.Fatalf("get %s after restart: %v", p, err)
				}
			}
		})
	}
}

// The client port is bound before storage is opened: a server whose port
// is taken exits with exitListen having created nothing in a new data dir
// but the lock file, and released the lock.
// The same holds for the AdminServer's port and the metrics endpoint's.
func TestPortTakenTouchesNoStorage(t *testing.T) {
	for _, port := range []string{"client", "admin", "metrics"} {
		t.Run(port, func(t *testing.T) {
			l, err := stdnet.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			dir := filepath.Join(t.TempDir(), "data")
			cfg := defaultConfig()
			cfg.ClientAddr = l.Addr().String()
			if port == "admin" {
				cfg.ClientAddr = "127.0.0.1:0"
				h, p, _ := stdnet.SplitHostPort(l.Addr().String())
				cfg.Admin.Enabled, cfg.Admin.Address, cfg.Admin.Port = true, h, p
			}
			if port == "metrics" {
				cfg.ClientAddr = "127.0.0.1:0"
				h, p, _ := stdnet.SplitHostPort(l.Addr().String())
				cfg.Metrics.Enabled, cfg.Metrics.Host, cfg.Metrics.Port = true, h, p
			}
			cfg.DataDir = dir
			_, err = startCfg(t, cfg)
			if exitCode(err) != exitListen {
				t.Fatalf("got %v (exit %d), want exit %d", err, exitCode(err), exitListen)
			}
			if got := listTree(t, dir); len(got) != 1 || got[0] != datadir.LockFile {
				t.Fatalf("data dir holds %q after the refused start, want only %s", got, datadir.LockFile)
			}
			lk, err := datadir.Acquire(dir, datadir.Options{})
			if err != nil {
				t.Fatalf("lock still held after the refused start: %v", err)
			}
			lk.Release()
		})
	}
}

// A TLS key store that cannot be loaded is refused (exit 2) before
// storage is opened, naming the file.
func TestBadKeyStoreTouchesNoStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := defaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TLS.SecureClientAddr = "127.0.0.1:0"
	cfg.TLS.Store.KeyStore = filepath.Join(t.TempDir(), "missing.p12")
	_, err := startCfg(t, cfg)
	if exitCode(err) != exitConfig || !strings.Contains(err.Error(), "missing.p12") {
		t.Fatalf("got %v (exit %d), want exit %d naming the key store", err, exitCode(err), exitConfig)
	}
	if got := listTree(t, dir); len(got) != 1 || got[0] != datadir.LockFile {
		t.Fatalf("data dir holds %q after the refused start, want only %s", got, datadir.LockFile)
	}
}

// A log dir that is the data dir under another name is locked once, not
// refused as held by this very process.
func TestLogDirSameAsDataDir(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Skip(err)
	}
	cfg := defaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.DataLogDir = link
	s, err := startCfg(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
