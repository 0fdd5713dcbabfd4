package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/engine"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
	"zabd/zab"
)

// TestRepairFlag writes znodes, damages a record in the middle of the
// native log and checks: start-up refuses the log naming the damage;
// with --repair it moves the tail aside, says what it cut, and serves the
// znodes written before the damage; another engine refuses --repair.
func TestRepairFlag(t *testing.T) {
	dir := t.TempDir()
	logs := &lockedBuffer{}
	cfg := defaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TickTime = 200 * time.Millisecond
	cfg.SnapCount = 1 << 20 // no snapshot: recovery is the log alone
	cfg.LogSegmentBytes = 64 << 10
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	s, err := start(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := connect(t, s.Addr)
	const n = 20
	for i := 0; i < n; i++ {
		if _, err := c.Create(fmt.Sprintf("/r%02d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A snapshot of the whole tree (all 20 znodes): it starts after the
	// cut the repair will make, so the repair must move it aside, or the
	// restart would restore znodes the repaired log no longer has.
	logDir := filepath.Join(dir, "log")
	takeSnapshotOfLog(t, dir, logDir)

	// Damage the data of the record that created /r10.
	l, _, err := log.Open(vfs.Default, logDir, log.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := l.Iter(0)
	off, target := int64(log.SegmentHeaderBytes), int64(-1)
	for it.Next() {
		if strings.Contains(string(it.Record().Data), "/r10") {
			target = off + log.FrameHeaderBytes
			break
		}
		off += int64(log.FrameHeaderBytes + len(it.Record().Data))
	}
	it.Close()
	names, _ := vfs.Default.List(logDir)
	if target < 0 || len(names) != 1 {
		t.Fatalf("record of /r10 not found (segments %v)", names)
	}
	seg := filepath.Join(logDir, names[0])
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[target] ^= 0xff
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := start(cfg, logger); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("start on a corrupt log: %v, want a corruption error", err)
	}
	other := cfg
	other.Engine, other.Repair = "pebble", true
	if _, err := start(other, logger); err == nil || !strings.Contains(err.Error(), "--repair works on the native engine") {
		t.Fatalf("--repair with pebble: %v", err)
	}
	cfg.Repair = true
	s, err = start(cfg, logger)
	if err != nil {
		t.Fatalf("start --repair: %v\n%s", err, logs)
	}
	defer s.Close()
	if !strings.Contains(logs.String(), "--repair CUT THE LOG") {
		t.Errorf("no loud log line about the cut:\n%s", logs)
	}
	c, _ = connect(t, s.Addr)
	for i := 0; i < n; i++ {
		ok, _, err := c.Exists(fmt.Sprintf("/r%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i < 10) {
			t.Errorf("/r%02d exists = %v after repair, want %v", i, ok, i < 10)
		}
	}
	asides, _ := filepath.Glob(filepath.Join(dir, "repair-*", "*"))
	if len(asides) != 3 { // the cut bytes, REPAIR.txt and the snapshot
		t.Errorf("aside files %v", asides)
	}
	if snaps, _ := filepath.Glob(filepath.Join(dir, engine.SnapshotDirName, "snapshot.*")); len(snaps) != 0 {
		t.Errorf("snapshots past the cut left in place: %v", snaps)
	}
	// Writes go on after the repair.
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("create after repair: %v", err)
	}
}

// takeSnapshotOfLog saves a snapshot of the tree the log in logDir holds.
func takeSnapshotOfLog(t *testing.T, dataDir, logDir string) {
	t.Helper()
	l, _, err := log.Open(vfs.Default, logDir, log.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	it, err := l.Iter(0)
	if err != nil {
		t.Fatal(err)
	}
	tr := tree.New(tree.Config{})
	if _, err := zab.Replay(tr, it); err != nil {
		t.Fatal(err)
	}
	it.Close()
	store, err := engine.OpenSnapshotStore(vfs.Default, filepath.Join(dataDir, engine.SnapshotDirName))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Save(func(w io.Writer) (log.Zxid, error) {
		m, err := snapshot.Write(w, snapshot.Still(tr), snapshot.Options{})
		return m.StartZxid, err
	}); err != nil {
		t.Fatal(err)
	}
}
