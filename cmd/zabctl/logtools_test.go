package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/google/go-cmp/cmp"

	"zabd/bench/launch"
	"zabd/engine"
	"zabd/log"
	"zabd/net/zktest"
	"zabd/tools/logread/datadirtest"
)

// TestLogToolsCommandLine runs the log tools in-process against data dirs
// written through the engines: exit codes (0 sound, 1 damage, 2 usage,
// 4 cannot read), flags before or after DATADIR, and the one line that
// says where damage is.
func TestLogToolsCommandLine(t *testing.T) {
	txns := datadirtest.History()
	sound := t.TempDir()
	datadirtest.Write(t, sound, "native", txns, datadirtest.Options{SnapshotsAt: []log.Zxid{datadirtest.Zxid(txns, 4)}})
	damaged := t.TempDir()
	datadirtest.Write(t, damaged, "native", txns, datadirtest.Options{})
	seg := datadirtest.Segments(t, damaged)[1]
	b, _ := os.ReadFile(seg)
	b[130] ^= 1 // inside the multi, the second segment's third record
	os.WriteFile(seg, b, 0o644)
	snap := filepath.Join(sound, "snapshot", "snapshot.0000000100000005")
	notTxn := t.TempDir()
	datadirtest.Write(t, notTxn, "pebble", txns, datadirtest.Options{})
	e, err := engine.Open("pebble", notTxn, engine.Options{Small: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Append(context.Background(), []log.Record{{Zxid: log.MakeZxid(2, 8), Data: []byte("junk")}}); err != nil {
		t.Fatal(err)
	}
	e.Close()

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // regexp, unanchored
		stderr string // regexp, unanchored
	}{
		{"verify sound", []string{"log", "verify", sound}, 0, `(?m)^SOUND$`, `^$`},
		{"verify damaged", []string{"log", "verify", damaged}, exitDamaged,
			`DAMAGED: log/log.0000000100000005 offset 124: checksum mismatch, after zxid 0x100000006 .*\nintact: the log's first 6 txns, 0x100000001 1/1 .. 0x100000006 1/6 \(the last good zxid\)`, `^$`},
		{"dump", []string{"log", "dump", sound}, 0, `(?m)^0x200000004 2/4 .* multi ops=2 .*\n    \[0\] error err=0\(ok\)\n`, `^$`},
		{"dump, flags after DATADIR", []string{"log", "dump", sound, "--json", "--type", "delete", "--from", "2/1", "--to=2/5"}, 0,
			`^\{"zxid":"0x200000005",[^\n]*"type":"delete","path":"/apple"\}\n$`, `^$`},
		{"dump damaged: what is intact, then where it stops", []string{"log", "dump", damaged}, exitDamaged,
			`0x100000006 1/6 [^\n]*\n$`, `log dump: stopped after zxid 0x100000006 \(6 txns read\): log: corrupt segment log.0000000100000005 at offset 124 \(after zxid 0x100000006\): checksum mismatch`},
		{"dump a record that is not a txn", []string{"log", "dump", "--from", "2/7", notTxn}, exitDamaged,
			`^0x200000007 2/7 [^\n]*\n0x200000008 2/8 UNDECODABLE \(tree: corrupt txn at offset 0: unknown format version 106\) size=4B\n$`,
			`log dump: 1 records do not decode as txns, the first zxid 0x200000008 in pebble`},
		{"dump by time", []string{"log", "dump", "--from", "2026-11-22T01:40:15Z", sound}, 0, `^0x200000006 2/6 [^\n]*\n0x200000007 2/7 [^\n]*\n$`, `^$`},
		{"snapshot dump", []string{"snapshot", "dump", snap}, 0, `start zxid 0x100000005 1/5, end zxid 0x100000005 1/5,[^\n]*\nsession 0x1000a2b3c0001 timeout=30000ms\n`, `^$`},
		{"replay to a zxid, printed", []string{"log", "replay", sound, "--to", "1/7", "--print", "--data-limit", "4"}, 0,
			`(?m)^/app\n  data="mult"\.\.\.\(5 bytes\)\n  kind=persistent czxid=0x100000003 mzxid=0x100000007 `,
			`^state after zxid 0x100000007 1/7 stamped 2026-11-22T01:40:06.000Z: \d+ znodes, 2 sessions; from snapshot \S+snapshot.0000000100000005 \(walk 0x100000005..0x100000005\) and 2 txns of the log \(the log goes on after it\); built in \S+\n$`},
		{"replay to a time, JSON", []string{"log", "replay", "--print", "--json", "--to", "2026-11-22T01:40:03.5Z", sound}, 0,
			`(?m)^\{"record":"node","path":"/app/eph","kind":"ephemeral",[^\n]*"data":"ZQ=="\}$`, `^state after zxid 0x100000004 1/4 `},
		{"replay without an output", []string{"log", "replay", sound}, exitUsage, `^$`, `one of --print, --snapshot FILE, --serve HOST:PORT`},
		{"replay past the log", []string{"log", "replay", sound, "--to", "2/50", "--print"}, exitUsage, `^$`, `the log ends at 0x200000007, before 0x200000032`},
		{"replay damaged", []string{"log", "replay", damaged, "--print"}, exitDamaged, `^$`, `checksum mismatch[^\n]*\n\(zabctl log verify `},
		{"diff to the end", []string{"log", "diff", sound, "--from", "1/5"}, 0,
			`^~ / \+child=jobs\n~ /app data=5B->5B version=0->2 [^\n]*\n- /app/eph kind=ephemeral [^\n]*\n\+ /app/m1 [^\n]*\n\+ /app/m1/x [^\n]*\n\+ /jobs kind=container [^\n]*\n\+ /jobs/t kind=ttl [^\n]*\n$`,
			`^from the state after 0x100000005 1/5 to the state after 0x200000007 2/7: 7 znodes differ\n$`},
		{"diff by time, JSON", []string{"log", "diff", sound, "--json", "--from", "2026-11-22T01:40:08Z", "--to", "2026-11-22T01:40:14Z"}, 0,
			`^\{"change":"changed","path":"/","children_added":\["jobs"\],"children_removed":\["apple"\],[^\n]*\n\{"change":"deleted","path":"/apple",[^\n]*\n\{"change":"created","path":"/jobs",[^\n]*\n\{"change":"created","path":"/jobs/t",[^\n]*\n$`,
			`^from the state after 0x100000009 1/9 to the state after 0x200000005 2/5: 4 znodes differ\n$`},
		{"diff without --from", []string{"log", "diff", sound}, exitUsage, `^$`, `--from is needed`},
		{"diff backwards", []string{"log", "diff", sound, "--from", "2/3", "--to", "1/3"}, exitUsage, `^$`, `--to \(0x100000003\) is before --from \(0x200000003\)`},
		{"diff damaged", []string{"log", "diff", damaged, "--from", "1/2"}, exitDamaged, `^$`, `checksum mismatch`},
		{"no DATADIR", []string{"log", "dump"}, exitUsage, `^$`, `log dump takes DATADIR \(got 0 arguments\)`},
		{"bad --from", []string{"log", "dump", sound, "--from", "yesterday"}, exitUsage, `^$`, `--from "yesterday" is not a zxid`},
		{"bad --type", []string{"log", "dump", "--type", "creat", sound}, exitUsage, `^$`, `unknown txn type "creat"`},
		{"unknown flag after DATADIR", []string{"log", "verify", sound, "--bogus"}, exitUsage, `^$`, `unknown flag --bogus`},
		{"not a data dir", []string{"log", "verify", t.TempDir()}, exitCannotRead, `^$`, `not a zabd data dir`},
		{"missing snapshot file", []string{"snapshot", "dump", snap + "x"}, exitCannotRead, `^$`, `no such file`},
		{"damaged snapshot file", []string{"snapshot", "dump", filepath.Join(damaged, "ENGINE")}, exitDamaged, `^$`, `snapshot: corrupt`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := zabctl(t, "", tc.args...)
			if r.code != tc.code || !regexp.MustCompile(tc.stdout).MatchString(r.stdout) || !regexp.MustCompile(tc.stderr).MatchString(r.stderr) {
				t.Errorf("zabctl %s: exit %d, want %d\nstdout:\n%s\nwant match %s\nstderr:\n%s\nwant match %s",
					strings.Join(tc.args, " "), r.code, tc.code, r.stdout, tc.stdout, r.stderr, tc.stderr)
			}
		})
	}
}

// TestLogToolsBesideARunningServer starts zabd (built with go build) on
// each engine, writes znodes through go-zookeeper, and runs the tools on
// its data dir while it runs: native and pebble read a consistent prefix
// holding every acknowledged write and say so; badger is refused in one
// line. The data dir's files are the server's alone: the tools create no
// file there (the server may change its own meanwhile, so only new names
// are looked for).
func TestLogToolsBesideARunningServer(t *testing.T) {
	for _, kind := range []string{"native", "pebble", "badger"} {
		t.Run(kind, func(t *testing.T) {
			p := zktest.StartZabd(t, launch.ZabdOptions{Engine: kind})
			c := zktest.Connect(t, p.Addr)
			const n = 20
			for i := range n {
				if _, err := c.Create(fmt.Sprintf("/live-%02d", i), []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.Multi(&zk.CreateRequest{Path: "/live-m", Data: []byte("m"), Acl: zk.WorldACL(zk.PermAll)},
				&zk.SetDataRequest{Path: "/live-00", Data: []byte("w"), Version: -1}); err != nil {
				t.Fatal(err)
			}
			before := fileNames(t, p.DataDir)

			dump := zabctl(t, "", "log", "dump", "--json", "--path", "/live-", p.DataDir)
			verify := zabctl(t, "", "log", "verify", p.DataDir)
			replay := zabctl(t, "", "log", "replay", "--print", p.DataDir)
			if kind == "badger" {
				for _, r := range []result{dump, verify, replay} {
					if r.code != exitCannotRead || !strings.Contains(r.stderr+r.stdout, "badger locks its directory while a server runs, so it cannot be read beside it: stop the server, or copy the data dir while it is stopped and read the copy") ||
						strings.Contains(r.stderr, "goroutine") {
						t.Errorf("badger beside its server: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
					}
				}
			} else {
				if dump.code != 0 || !strings.Contains(dump.stderr, "is held by pid") || !strings.Contains(dump.stderr, "read a consistent prefix of the log, up to zxid") {
					t.Errorf("dump: exit %d, stderr:\n%s", dump.code, dump.stderr)
				}
				var paths []string
				for _, l := range strings.Split(strings.TrimSpace(dump.stdout), "\n") {
					var j struct {
						Type, Path string
						Ops        []struct{ Type, Path string }
					}
					if err := json.Unmarshal([]byte(l), &j); err != nil {
						t.Fatalf("%v: %s", err, l)
					}
					if j.Type == "multi" {
						paths = append(paths, "multi:"+j.Ops[0].Path+","+j.Ops[1].Path)
					} else {
						paths = append(paths, j.Type+":"+j.Path)
					}
				}
				var want []string
				for i := range n {
					want = append(want, fmt.Sprintf("create:/live-%02d", i))
				}
				want = append(want, "multi:/live-m,/live-00")
				if d := cmp.Diff(want, paths); d != "" {
					t.Errorf("dumped txns (-want +got):\n%s", d)
				}
				if replay.code != 0 || !strings.Contains(replay.stdout, "/live-m\n  data=\"m\"\n") ||
					!strings.Contains(replay.stdout, "/live-00\n  data=\"w\"\n") || !strings.Contains(replay.stderr, "read a consistent prefix of the log") {
					t.Errorf("replay: exit %d\nstdout:\n%s\nstderr:\n%s", replay.code, replay.stdout, replay.stderr)
				}
				// A consistent copy of the live dir: its state as a
				// snapshot in a new data dir, started with another engine.
				copyDir := filepath.Join(t.TempDir(), "data")
				if err := os.MkdirAll(filepath.Join(copyDir, "snapshot"), 0o755); err != nil {
					t.Fatal(err)
				}
				if r := zabctl(t, "", "log", "replay", p.DataDir, "--snapshot", filepath.Join(copyDir, "snapshot")); r.code != 0 {
					t.Fatalf("replay --snapshot of the live dir: exit %d\n%s", r.code, r.stderr)
				}
				other := map[string]string{"native": "pebble", "pebble": "native"}[kind]
				cp := zktest.StartZabd(t, launch.ZabdOptions{DataDir: copyDir, Engine: other})
				cc := zktest.Connect(t, cp.Addr)
				for path, want := range map[string]string{"/live-m": "m", "/live-00": "w", "/live-19": "v"} {
					if got, _, err := cc.Get(path); err != nil || string(got) != want {
						t.Errorf("the copy started on %s: %s = %q %v, want %q", other, path, got, err, want)
					}
				}
				if verify.code != 0 || !regexp.MustCompile(`(?m)^live: held by pid \d+ \(zabd, clients on 127\.0\.0\.1:\d+\); read a consistent prefix of the log, up to zxid 0x\w+$`).MatchString(verify.stdout) ||
					!strings.Contains(verify.stdout, "\nSOUND\n") {
					t.Errorf("verify: exit %d\n%s%s", verify.code, verify.stdout, verify.stderr)
				}
			}
			for name := range fileNames(t, p.DataDir) {
				if !before[name] && !serverFile(kind, name) {
					t.Errorf("a file appeared in the data dir while the tools ran: %s", name)
				}
			}
			// The server goes on serving, and its log with it.
			if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// fileNames lists the files under dir by path relative to it. The
// server changes its own files meanwhile: one removed between the listing
// of its directory and the look at it is left out.
func fileNames(t *testing.T, dir string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// serverFile: files the running server itself may create meanwhile (a
// pebble WAL or table, a prepared native segment).
func serverFile(kind, name string) bool {
	switch kind {
	case "native":
		return strings.HasPrefix(name, "log/prealloc.") || strings.HasPrefix(name, "log/log.")
	case "pebble":
		return strings.HasPrefix(name, "pebble/")
	}
	return false
}
