package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"

	"zabd/engine"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
)

// lockedBuffer collects a server's log lines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startSnapTest is startTest with tiny snapshot and segment settings, its
// log lines collected in logs.
func startSnapTest(t *testing.T, dir string, logs *lockedBuffer) *server {
	t.Helper()
	return startSnapEngine(t, dir, "native", logs)
}

func startSnapEngine(t *testing.T, dir, kind string, logs *lockedBuffer) *server {
	t.Helper()
	return startSnapConfig(t, dir, kind, logs, nil)
}

// startSnapConfig is startSnapEngine with the configuration changed by
// modify (when not nil) before it is validated.
func startSnapConfig(t *testing.T, dir, kind string, logs *lockedBuffer, modify func(*Config)) *server {
	t.Helper()
	cfg := defaultConfig()
	cfg.Engine = kind
	cfg.ClientAddr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.TickTime = 200 * time.Millisecond
	cfg.FourLetterWords = []string{"*"}
	cfg.SnapCount = 40
	// snapCount alone (ZooKeeper's rule): the tests count background
	// snapshots, which the default share would space by how long each
	// took, and so by how fast the writes came.
	cfg.SnapSharePercent = 100
	cfg.SnapRetainCount = 3
	cfg.PurgeInterval = time.Hour // on: purge after every snapshot
	cfg.LogSegmentBytes = 4 << 10
	if modify != nil {
		modify(&cfg)
	}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	s, err := start(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs)
	}
	return s
}

func describeServer(s *server) string {
	var out string
	s.svc.WithTree(func(t *tree.Tree) { out = t.DescribeTree() })
	return out
}

func segments(t *testing.T, dir string) []uint64 {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, e := range ents {
		if hex, ok := strings.CutPrefix(e.Name(), "log."); ok {
			z, err := strconv.ParseUint(hex, 16, 64)
			if err == nil {
				out = append(out, z)
			}
		}
	}
	return out
}

// TestSnapshotRecoveryAndRetention: with a tiny snapCount, writes trigger
// background snapshots; retention keeps 3 snapshots and purges the log
// segments before the oldest; a restart restores the newest snapshot plus
// the log tail to exactly the tree it left (every znode and stat, data,
// ACLs, open sessions and their ephemerals); and a damaged newest snapshot
// makes the next restart fall back to an older one, with the same result.
func TestSnapshotRecoveryAndRetention(t *testing.T) {
	dir := t.TempDir()
	logs := &lockedBuffer{}
	s := startSnapTest(t, dir, logs)
	c, _ := connect(t, s.Addr)
	// A session that stays open across the restart, with ephemerals.
	e, _, err := zk.Connect([]string{s.Addr}, 4*time.Second, zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := 0; i < 50 && e.State() != zk.StateHasSession; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	acl := zk.WorldACL(zk.PermAll)
	if _, err := c.Create("/d", nil, 0, acl); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/empty", []byte{}, 0, zk.DigestACL(zk.PermRead, "u", "p")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := e.Create(fmt.Sprintf("/d/eph%d", i), []byte("e"), zk.FlagEphemeral, acl); err != nil {
			t.Fatal(err)
		}
	}
	const n = 400
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("/d/n%04d", i)
		if _, err := c.Create(p, []byte(strings.Repeat("v", i%50)), 0, acl); err != nil {
			t.Fatal(err)
		}
		switch i % 5 {
		case 3:
			if _, err := c.Set(p, []byte("changed"), 0); err != nil {
				t.Fatal(err)
			}
		case 4:
			if err := c.Delete(fmt.Sprintf("/d/n%04d", i-1), -1); err != nil {
				t.Fatal(err)
			}
		}
		if i == n/2 {
			if _, err := c.Create("/d/seq-", nil, zk.FlagSequence, acl); err != nil {
				t.Fatal(err)
			}
		}
	}
	// ~560 txns at thresholds of 20 to 40 asked for many snapshots in the
	// background; take one more now (it waits for one in progress) so the
	// newest covers almost everything.
	if _, err := s.snap.TakeSnapshot(s.svc.WithTree); err != nil {
		t.Fatal(err)
	}
	st := s.snap.Stats()
	if st.Snapshots < 4 || st.Failures != 0 || st.Purges != st.Snapshots {
		t.Fatalf("snapshotter stats %+v: want several background snapshots, each followed by a purge", st)
	}
	snaps, err := engine.OpenSnapshotStore(vfs.Default, filepath.Join(dir, engine.SnapshotDirName))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := snaps.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 3 {
		t.Fatalf("%d snapshots kept, want 3 (autopurge.snapRetainCount)", len(infos))
	}
	oldest := uint64(infos[2].StartZxid)
	segs := segments(t, dir)
	if len(segs) == 0 || segs[0] > oldest+1 {
		t.Fatalf("log segments start at %#x, after the oldest kept snapshot %#x + 1: records it needs were purged", segs, oldest)
	}
	if segs[0] == 1<<32|1 {
		t.Errorf("no log segment purged (segments %x, oldest kept snapshot %#x)", segs, oldest)
	}
	if !strings.Contains(logs.String(), "snapshot: saved") || !strings.Contains(logs.String(), "purge: done") {
		t.Errorf("no snapshot/purge log lines:\n%s", logs)
	}

	// Writes after the last snapshot: the log tail replayed on restart.
	for i := 0; i < 5; i++ {
		if _, err := c.Create(fmt.Sprintf("/tail%d", i), []byte("t"), 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	// The zk.Conn of e stays open: its session must survive the restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := describeServer(s) // the tree as the server left it
	if !strings.Contains(want, "/d/eph0 ephemeral") {
		t.Fatalf("ephemeral missing before the restart:\n%s", want)
	}

	restart := func(step string) {
		t.Helper()
		logs := &lockedBuffer{}
		s := startSnapTest(t, dir, logs)
		got := describeServer(s)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("%s: restored tree differs (-before +after):\n%s", step, diff)
		}
		if l := firstLine(logs.String(), "restored snapshot"); !strings.Contains(l, engine.SnapshotDirName+"/snapshot.") {
			t.Errorf("%s: no snapshot restored:\n%s", step, logs)
		}
		// Writes go on in a new epoch.
		c2, _ := connect(t, s.Addr)
		if _, err := c2.Create("/after-"+step, nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		c2.Close()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		want = describeServer(s)
		if !strings.Contains(want, "/after-"+step+" ") {
			t.Fatalf("%s: write after restart lost", step)
		}
		t.Logf("%s: %s", step, firstLine(logs.String(), "recovered"))
	}
	restart("restart")

	// Damage the newest snapshot: the next start falls back to an older one.
	infos, err = snaps.List()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(infos[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(infos[0].Path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	logs = &lockedBuffer{}
	s = startSnapTest(t, dir, logs)
	if diff := cmp.Diff(want, describeServer(s)); diff != "" {
		t.Fatalf("after falling back to an older snapshot the tree differs (-want +got):\n%s", diff)
	}
	if !strings.Contains(logs.String(), "skipping an unreadable snapshot") || !strings.Contains(logs.String(), infos[0].Path) {
		t.Errorf("no log line about the damaged snapshot %s:\n%s", infos[0].Path, logs)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotRecoveryEachEngine: the snapshot store and retention work
// the same over every engine (snapshots live beside the engine's data).
func TestSnapshotRecoveryEachEngine(t *testing.T) {
	for _, kind := range []string{"pebble", "badger"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			s := startSnapEngine(t, dir, kind, &lockedBuffer{})
			c, _ := connect(t, s.Addr)
			for i := 0; i < 150; i++ {
				if _, err := c.Create(fmt.Sprintf("/n%03d", i), []byte{byte(i)}, 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 3; i++ {
				if _, err := s.snap.TakeSnapshot(s.svc.WithTree); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Create(fmt.Sprintf("/tail%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			want := describeServer(s)
			logs := &lockedBuffer{}
			s = startSnapEngine(t, dir, kind, logs)
			defer s.Close()
			if diff := cmp.Diff(want, describeServer(s)); diff != "" {
				t.Fatalf("restored tree differs (-before +after):\n%s", diff)
			}
			if !strings.Contains(logs.String(), "restored snapshot") {
				t.Errorf("no snapshot restored:\n%s", logs)
			}
			if infos, err := os.ReadDir(filepath.Join(dir, engine.SnapshotDirName)); err != nil || len(infos) != 3 {
				t.Errorf("snapshot dir holds %d files (%v), want 3", len(infos), err)
			}
		})
	}
}

// snapshotCodecs maps each snapshot file in dir to the codec its header
// names.
func snapshotCodecs(t *testing.T, dir string) map[string]snapshot.Codec {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, engine.SnapshotDirName))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]snapshot.Codec{}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(dir, engine.SnapshotDirName, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		m, err := snapshot.ReadMeta(f, fi.Size())
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = m.Codec
	}
	return out
}

// TestSnapshotCodecChange: snapshotCodec says how new snapshots are
// stored; a server started with another codec restores the snapshots
// already there and writes its own with the codec it was given, so the
// codec can be changed across a restart with nothing else to do.
func TestSnapshotCodecChange(t *testing.T) {
	dir := t.TempDir()
	withCodec := func(codec snapshot.Codec) func(*Config) {
		return func(c *Config) { c.SnapshotCodec = codec }
	}
	s := startSnapConfig(t, dir, "native", &lockedBuffer{}, withCodec(snapshot.CodecZstd))
	c, _ := connect(t, s.Addr)
	for i := 0; i < 120; i++ {
		if _, err := c.Create(fmt.Sprintf("/z%03d", i), bytes.Repeat([]byte{byte(i)}, i), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.snap.TakeSnapshot(s.svc.WithTree); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := describeServer(s)
	zstdFiles := snapshotCodecs(t, dir)
	if len(zstdFiles) == 0 {
		t.Fatal("no snapshot written")
	}
	for name, codec := range zstdFiles {
		if codec != snapshot.CodecZstd {
			t.Errorf("%s stored with %v, want zstd", name, codec)
		}
	}

	for _, codec := range []snapshot.Codec{snapshot.CodecS2, snapshot.CodecNone} {
		logs := &lockedBuffer{}
		s = startSnapConfig(t, dir, "native", logs, withCodec(codec))
		if diff := cmp.Diff(want, describeServer(s)); diff != "" {
			t.Fatalf("tree restored under %v differs (-before +after):\n%s", codec, diff)
		}
		if !strings.Contains(logs.String(), "restored snapshot") {
			t.Errorf("no snapshot restored under %v:\n%s", codec, logs)
		}
		// A write first, so the new snapshot starts at a zxid of its own.
		c, _ := connect(t, s.Addr)
		if _, err := c.Create("/after-"+codec.String(), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		c.Close()
		info, err := s.snap.TakeSnapshot(s.svc.WithTree)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		want = describeServer(s)
		got := snapshotCodecs(t, dir)
		name := filepath.Base(info.Path)
		if got[name] != codec {
			t.Errorf("snapshot %s taken under %v stored with %v", name, codec, got[name])
		}
	}
	// The newest snapshot is now uncompressed; the tree restores from it.
	logs := &lockedBuffer{}
	s = startSnapConfig(t, dir, "native", logs, nil)
	defer s.Close()
	if diff := cmp.Diff(want, describeServer(s)); diff != "" {
		t.Fatalf("tree restored from the uncompressed snapshot differs (-before +after):\n%s", diff)
	}
}

func firstLine(s, substr string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

func TestSnapshotConfigKeys(t *testing.T) {
	rows := []struct {
		name, cfg string
		want      [5]any // SnapCount, SnapRetainCount, PurgeInterval, SnapSharePercent, SnapshotCodec
		wantErr   string
	}{
		{"defaults", "", [5]any{100000, 3, time.Duration(0), 25, snapshot.CodecS2}, ""},
		{"set", "snapCount=5000\nautopurge.snapRetainCount=5\nautopurge.purgeInterval=24\nsnapSharePercent=100\nsnapshotCodec=zstd\n", [5]any{5000, 5, 24 * time.Hour, 100, snapshot.CodecZstd}, ""},
		{"uncompressed snapshots", "snapshotCodec=none\n", [5]any{100000, 3, time.Duration(0), 25, snapshot.CodecNone}, ""},
		{"unknown codec", "snapshotCodec=lz4\n", [5]any{}, `unknown codec "lz4"`},
		{"codec names are lower case", "snapshotCodec=S2\n", [5]any{}, `unknown codec "S2"`},
		{"retain below the minimum is raised to 3", "autopurge.snapRetainCount=1\n", [5]any{100000, 3, time.Duration(0), 25, snapshot.CodecS2}, ""},
		{"negative interval is off", "autopurge.purgeInterval=-1\n", [5]any{100000, 3, time.Duration(0), 25, snapshot.CodecS2}, ""},
		{"bad snapCount", "snapCount=x\n", [5]any{}, "snapCount"},
		{"snapCount too small", "snapCount=1\n", [5]any{}, "at least 2"},
		{"share of 0", "snapSharePercent=0\n", [5]any{}, "snapSharePercent must be in [1, 100]"},
		{"share above 100", "snapSharePercent=101\n", [5]any{}, "snapSharePercent must be in [1, 100]"},
	}
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			c := defaultConfig()
			err := parseZooCfg(strings.NewReader(tc.cfg), "zoo.cfg", &c, slog.New(slog.DiscardHandler))
			if err == nil {
				err = c.validate()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := [5]any{c.SnapCount, c.SnapRetainCount, c.PurgeInterval, c.SnapSharePercent, c.SnapshotCodec}; got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
