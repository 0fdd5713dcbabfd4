package zktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"zabd/bench/launch"
)

// startTimeout bounds how long a helper waits for a server to be ready.
const startTimeout = 60 * time.Second

// InCI reports whether the CI environment variable says we run in CI,
// where missing tools are failures, not skips.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequireInstalled skips t loudly when err reports a missing program
// (launch.ErrNotInstalled), naming pkg as what to install; under CI=true it
// fails t instead. Other errors fail t.
func RequireInstalled(t testing.TB, pkg string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if !errors.Is(err, launch.ErrNotInstalled) {
		t.Fatalf("zktest: %v", err)
	}
	msg := fmt.Sprintf("%s IS NOT INSTALLED (apt-get install %s): %v", strings.ToUpper(pkg), pkg, err)
	if InCI() {
		t.Fatalf("zktest: CI=true and %s", msg)
	}
	t.Log("########## " + msg + " — SKIPPING ##########")
	t.Skip(msg)
}

// StartApacheZK starts Apache ZooKeeper for the length of t (see
// launch.StartApacheZK; Dir defaults to a new t.TempDir()). It skips t
// loudly when ZooKeeper is not installed, or fails it when CI=true.
func StartApacheZK(t testing.TB, o launch.ZKOptions) *launch.Process {
	t.Helper()
	RequireInstalled(t, "zookeeper", launch.ZooKeeperInstalled())
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = startTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()
	p, err := launch.StartApacheZK(ctx, o)
	RequireInstalled(t, "zookeeper", err)
	stopAtCleanup(t, p)
	return p
}

// StartZabd builds zabd (once per test binary) and starts it for the length
// of t (see launch.StartZabd; Dir defaults to a new t.TempDir()).
func StartZabd(t testing.TB, o launch.ZabdOptions) *launch.Process {
	t.Helper()
	bin := BuildZabd(t)
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = startTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()
	p, err := launch.StartZabd(ctx, bin, o)
	if err != nil {
		t.Fatalf("zktest: %v", err)
	}
	stopAtCleanup(t, p)
	return p
}

func stopAtCleanup(t testing.TB, p *launch.Process) {
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("zktest: stopping %s: %v", p.Name, err)
		}
		if t.Failed() {
			t.Logf("zktest: %s log %s, last lines:\n%s", p.Name, p.LogPath, p.LogTail(60))
		}
	})
}
