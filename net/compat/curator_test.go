package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// curatorClassPath lists the jars CuratorSmoke compiles and runs against
// (Debian's libcurator-recipes-java; the jars' manifests pull in guava and
// slf4j).
func curatorClassPath() (string, error) {
	var cp []string
	for _, j := range []string{"curator-recipes.jar", "curator-framework.jar", "curator-client.jar", "zookeeper.jar", "zookeeper-jute.jar"} {
		p := filepath.Join("/usr/share/java", j)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s: %w", p, launch.ErrNotInstalled)
		}
		cp = append(cp, p)
	}
	return strings.Join(cp, ":"), nil
}

// TestCuratorMutex: 4 Curator clients increment a counter 10 times each
// under InterProcessMutex (testdata/CuratorSmoke.java, compiled here).
func TestCuratorMutex(t *testing.T) {
	cp, err := curatorClassPath()
	zktest.RequireInstalled(t, "libcurator-recipes-java", err)
	javac, err := exec.LookPath("javac")
	if err != nil {
		err = fmt.Errorf("javac: %w", launch.ErrNotInstalled)
	}
	zktest.RequireInstalled(t, "default-jdk-headless", err)
	java, err := launch.FindJava()
	zktest.RequireInstalled(t, "default-jre-headless", err)
	classes := t.TempDir()
	if out, err := exec.Command(javac, "-d", classes, "-cp", cp, "testdata/CuratorSmoke.java").CombinedOutput(); err != nil {
		t.Fatalf("javac CuratorSmoke.java: %v\n%s", err, out)
	}
	forEachServer(t, func(t *testing.T, p *launch.Process) {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, java, "-cp", classes+":"+cp, "CuratorSmoke", p.Addr, "4", "10")
		cmd.WaitDelay = 5 * time.Second
		out, err := cmd.CombinedOutput()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("CuratorSmoke did not finish in time:\n%s", out)
		}
		if err != nil {
			t.Fatalf("CuratorSmoke failed (%v):\n%s", err, out)
		}
		t.Logf("CuratorSmoke: %s", lastLine(string(out)))
	})
}
