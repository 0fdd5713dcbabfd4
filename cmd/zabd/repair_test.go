package main

import (
	"bytes"
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
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/snapshot/snapshottest"
	"zabd/tree"
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

	damageRecordOf(t, logDir, "/r10")

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
	if _, err := datadir.Replay(tr, it); err != nil {
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

// damageRecordOf flips a data byte of the record (in the log's only
// segment) whose txn names path.
func damageRecordOf(t *testing.T, logDir, path string) {
	t.Helper()
	l, _, err := log.Open(vfs.Default, logDir, log.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	it, _ := l.Iter(0)
	off, target := int64(log.SegmentHeaderBytes), int64(-1)
	for it.Next() {
		if strings.Contains(string(it.Record().Data), path) {
			target = off + log.FrameHeaderBytes
			break
		}
		off += int64(log.FrameHeaderBytes + len(it.Record().Data))
	}
	it.Close()
	l.Close()
	names, _ := vfs.Default.List(logDir)
	if target < 0 || len(names) != 1 {
		t.Fatalf("record of %s not found (segments %v)", path, names)
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
}

// logTxns returns the txns of the log in logDir, in zxid order.
func logTxns(t *testing.T, logDir string) []tree.Txn {
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
	defer it.Close()
	var out []tree.Txn
	for it.Next() {
		txn, err := tree.DecodeTxn(it.Record().Data)
		if err != nil {
			t.Fatalf("txn at %v: %v", it.Record().Zxid, err)
		}
		out = append(out, txn)
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// saveWalk saves a snapshot of the log's tree whose walk began at zxid
// start and ended at end: the tree holds the txns <= start when the walk
// begins (first chunk: "/" and one node), and those in (start, end] are
// applied before the rest of it, as the applier does during a fuzzy
// snapshot. So nodes those txns created after the walk's position are in
// the snapshot. With v1 it is stored as a format version 1 file (no end
// zxid).
func saveWalk(t *testing.T, store *engine.SnapshotStore, txns []tree.Txn, start, end log.Zxid, v1 bool) engine.SnapshotInfo {
	t.Helper()
	tr := tree.New(tree.Config{})
	apply := func(from, to log.Zxid) {
		for _, txn := range txns {
			if z := log.Zxid(txn.Zxid); z > from && z <= to {
				tr.Apply(txn)
			}
		}
	}
	apply(0, start)
	calls := 0
	src := func(fn func(*tree.Tree)) {
		if calls++; calls == 2 {
			apply(start, end)
		}
		fn(tr)
	}
	var buf bytes.Buffer
	m, err := snapshot.Write(&buf, src, snapshot.Options{ChunkNodes: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.StartZxid != start || m.EndZxid != end {
		t.Fatalf("wrote a snapshot of [%v, %v], want [%v, %v]", m.StartZxid, m.EndZxid, start, end)
	}
	file := buf.Bytes()
	if v1 {
		if file, err = snapshottest.Version1(file); err != nil {
			t.Fatal(err)
		}
	}
	info, err := store.Save(func(w io.Writer) (log.Zxid, error) {
		_, err := w.Write(file)
		return start, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestRepairMovesUnusableSnapshots: --repair cuts the log just before the
// damaged create of /r10, so it keeps the txns up to K, /r09's create. A
// snapshot can stand for the state at K only if its walk began and ended
// at or before K. One whose walk straddles K holds nodes created after
// it; one of format version 1 does not say where its walk ended; one that
// starts after K holds them too. Those are moved aside with the reason
// logged; the others stay, and the server restores the newest of them and
// serves exactly /r00../r09.
func TestRepairMovesUnusableSnapshots(t *testing.T) {
	dir := t.TempDir()
	logs := &lockedBuffer{}
	cfg := defaultConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TickTime = 200 * time.Millisecond
	cfg.SnapCount = 1 << 20 // only the snapshots the test writes
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

	logDir := filepath.Join(dir, "log")
	txns := logTxns(t, logDir)
	created := map[string]log.Zxid{}
	for _, txn := range txns {
		if txn.Type == tree.OpCreate {
			created[txn.Path] = log.Zxid(txn.Zxid)
		}
	}
	cut := created["/r09"]
	snapDir := filepath.Join(dir, engine.SnapshotDirName)
	store, err := engine.OpenSnapshotStore(vfs.Default, snapDir)
	if err != nil {
		t.Fatal(err)
	}
	rows := []struct {
		name       string
		start, end string // the walk began and ended at these nodes' creates
		v1         bool
		wantReason string // "": kept
	}{
		{"ends before the cut", "/r02", "/r04", false, ""},
		{"ends at the cut", "/r05", "/r09", false, ""},
		{"version 1, still walk before the cut", "/r06", "/r06", true, "format version 1"},
		{"straddles the cut", "/r07", "/r15", false, "ended at zxid " + created["/r15"].String() + ", after the cut"},
		{"starts after the cut", "/r12", "/r19", false, "starts after the cut"},
	}
	infos := make([]engine.SnapshotInfo, len(rows))
	for i, tc := range rows {
		infos[i] = saveWalk(t, store, txns, created[tc.start], created[tc.end], tc.v1)
	}
	damageRecordOf(t, logDir, "/r10")

	cfg.Repair = true
	s, err = start(cfg, logger)
	if err != nil {
		t.Fatalf("start --repair: %v\n%s", err, logs)
	}
	defer s.Close()
	asides, _ := filepath.Glob(filepath.Join(dir, "repair-*"))
	if len(asides) != 1 {
		t.Fatalf("repair dirs %v, want one", asides)
	}
	out := logs.String()
	if !strings.Contains(out, "kept_through_zxid="+cut.String()) {
		t.Fatalf("the repair did not cut at %v (/r09's create):\n%s", cut, out)
	}
	for i, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			name := filepath.Base(infos[i].Path)
			_, inPlace := os.Stat(infos[i].Path)
			_, moved := os.Stat(filepath.Join(asides[0], name))
			if wantKept := tc.wantReason == ""; (inPlace == nil) != wantKept || (moved == nil) == wantKept {
				t.Errorf("%s of [%s, %s] against a cut at %v: in place %v, moved aside %v; want kept %v",
					name, tc.start, tc.end, cut, inPlace == nil, moved == nil, wantKept)
			}
			if tc.wantReason == "" {
				return
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, "moved aside a snapshot") && strings.Contains(line, name) {
					if !strings.Contains(line, tc.wantReason) {
						t.Errorf("log line %q does not say %q", line, tc.wantReason)
					}
					return
				}
			}
			t.Errorf("no log line about moving %s aside:\n%s", name, out)
		})
	}
	// The newest usable snapshot is the one restored.
	if want := "file=" + infos[1].Path; !strings.Contains(out, "restored snapshot") || !strings.Contains(out, want) {
		t.Errorf("want the snapshot ending at the cut restored (%s):\n%s", want, out)
	}
	c, _ = connect(t, s.Addr)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/r%02d", i)
		ok, _, err := c.Exists(p)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i < 10) {
			t.Errorf("%s exists = %v after the repair, want %v (the log was cut after /r09)", p, ok, i < 10)
		}
	}
}
