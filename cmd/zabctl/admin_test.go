package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// TestAdminSnapshotAndPurge takes snapshots and purges on a running zabd
// through zabctl admin (the AdminServer), as an operator would between
// autopurges: five snapshots at five zxids, a purge keeping three, a
// purge keeping two refused; then the server restarts from what is left
// with every acknowledged write, and the log verifies.
func TestAdminSnapshotAndPurge(t *testing.T) {
	p := zktest.StartZabd(t, launch.ZabdOptions{ExtraCfg: map[string]string{
		"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
		"preAllocSize": "64", // 64 KiB segments: the purge has segments to remove
	}, PortKeys: []string{"admin.serverPort"}})
	adminAddr := "127.0.0.1:" + strconv.Itoa(p.Ports["admin.serverPort"])
	c := zktest.Connect(t, p.Addr)
	var written []string
	admin := func(args ...string) (result, map[string]any) {
		t.Helper()
		r := zabctl(t, "", append([]string{"admin", "--admin", adminAddr}, args...)...)
		var out map[string]any
		if r.code != 3 {
			if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
				t.Fatalf("zabctl admin %v: not JSON (exit %d): %v\n%s%s", args, r.code, err, r.stdout, r.stderr)
			}
		}
		return r, out
	}
	for round := range 5 {
		for i := range 200 {
			path := fmt.Sprintf("/r%d-%03d", round, i)
			if _, err := c.Create(path, make([]byte, 100), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
			written = append(written, path)
		}
		r, out := admin("take_snapshot")
		if r.code != 0 || out["error"] != nil || out["file"] == nil {
			t.Fatalf("take_snapshot: exit %d %v %s", r.code, out, r.stderr)
		}
	}
	snaps := func() []string {
		m, _ := filepath.Glob(filepath.Join(p.DataDir, "snapshot", "snapshot.*"))
		return m
	}
	if n := len(snaps()); n != 5 {
		t.Fatalf("%d snapshots after five take_snapshot, want 5: %v", n, snaps())
	}
	segs := func() int {
		m, _ := filepath.Glob(filepath.Join(p.DataDir, "log", "log.*"))
		return len(m)
	}
	before := segs()

	// Below the minimum: refused, nothing removed.
	if r, out := admin("purge", "keep=2"); r.code != 1 || !strings.Contains(fmt.Sprint(out["error"]), "at least 3") {
		t.Errorf("purge keep=2: exit %d %v", r.code, out)
	}
	// A GET (--post left out for a command zabctl does not know changes
	// state) is refused by the server.
	if r, out := admin("--post=false", "server_stats"); r.code != 0 || out["error"] != nil {
		t.Errorf("server_stats: exit %d %v", r.code, out)
	}
	r, out := admin("purge", "keep=3")
	if r.code != 0 || out["error"] != nil {
		t.Fatalf("purge keep=3: exit %d %v %s", r.code, out, r.stderr)
	}
	if removed, _ := out["snapshots_removed"].([]any); len(removed) != 2 || out["snapshots_kept"] != 3.0 || out["log_purged_before"] == nil {
		t.Errorf("purge keep=3 answered %v", out)
	}
	if n := len(snaps()); n != 3 {
		t.Errorf("%d snapshots after the purge, want 3: %v", n, snaps())
	}
	if after := segs(); after >= before {
		t.Errorf("log segments %d before the purge, %d after: none removed", before, after)
	}
	// last_snapshot names the newest.
	if _, out := admin("last_snapshot"); out["zxid"] == "0" || out["error"] != nil {
		t.Errorf("last_snapshot: %v", out)
	}

	c.Close()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if r := zabctl(t, "", "log", "verify", p.DataDir); r.code != 0 {
		t.Errorf("log verify after the purge: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	c = zktest.Connect(t, p.Addr)
	for _, path := range written {
		if ok, _, err := c.Exists(path); err != nil || !ok {
			t.Fatalf("after the purge and a restart, acknowledged %s: exists %v, %v", path, ok, err)
		}
	}
	if r := zabctl(t, "", "admin", "--admin", "127.0.0.1:1", "ruok"); r.code != 3 {
		t.Errorf("no AdminServer there: exit %d, want 3 (%s)", r.code, r.stderr)
	}
}
