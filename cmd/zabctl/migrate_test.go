package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// migrationWorkload writes what a migration must carry: nested znodes,
// null, empty and binary data, digest, ip and read-only ACLs, sequential,
// container (with a child) and TTL nodes, setData and setACL, deletes,
// a multi, a closed session's ephemeral (gone) and a live session's
// (kept: the returned conn must stay open until the server stops). More
// txns than snapCount, so ZooKeeper rolls snapshots and logs.
func migrationWorkload(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	open := zk.WorldACL(zk.PermAll)
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	c := zktest.Connect(t, addr)
	must(c.Create("/app", nil, 0, open))
	must(c.Create("/app/empty", []byte{}, 0, open))
	must(c.Create("/app/bin", []byte{0, 1, 2, 255}, 0, open))
	must(c.Create("/app/digest", []byte("d"), 0, zk.DigestACL(zk.PermAll, "alice", "pw")))
	must(c.Create("/app/ip", []byte("i"), 0, []zk.ACL{{Perms: zk.PermRead, Scheme: "ip", ID: "127.0.0.1"}, {Perms: zk.PermAll, Scheme: "world", ID: "anyone"}}))
	must(c.Create("/app/ro", []byte("r"), 0, zk.WorldACL(zk.PermRead|zk.PermAdmin)))
	must(c.Create("/app/q", nil, 0, open))
	for i := range 30 {
		must(c.Create("/app/q/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open))
	}
	must(c.CreateContainer("/jobs", nil, zk.FlagContainer, open))
	must(c.Create("/jobs/j1", []byte("job"), 0, open))
	must(c.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, open, time.Hour))
	for i := range 20 {
		must(c.Set("/app", []byte(fmt.Sprintf("v%d", i)), -1))
	}
	must(c.SetACL("/app/ro", zk.WorldACL(zk.PermRead), -1))
	must(c.Create("/gone", nil, 0, open))
	if err := c.Delete("/gone", -1); err != nil {
		t.Fatal(err)
	}
	must(c.Multi(&zk.CreateRequest{Path: "/m", Data: []byte("m"), Acl: open}, &zk.SetDataRequest{Path: "/app/bin", Data: []byte("x"), Version: -1}))
	other := zktest.Connect(t, addr)
	must(other.Create("/short", nil, zk.FlagEphemeral, open))
	other.Close()
	must(c.Create("/live", []byte("e"), zk.FlagEphemeral, open))
	return c
}

// znodeState is what a client sees of every znode.
func znodeState(t *testing.T, addr string) map[string]string {
	t.Helper()
	c := zktest.Connect(t, addr)
	defer c.Close()
	if err := c.AddAuth("digest", []byte("alice:pw")); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := c.Get(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			t.Fatalf("%s acl: %v", p, err)
		}
		owner := "ephemeral"
		if st.EphemeralOwner == 0 {
			owner = "none"
		}
		out[p] = fmt.Sprintf("data=%q czxid=%#x mzxid=%#x pzxid=%#x ctime=%d mtime=%d v=%d cv=%d av=%d owner=%s len=%d kids=%d acl=%v",
			data, st.Czxid, st.Mzxid, st.Pzxid, st.Ctime, st.Mtime, st.Version, st.Cversion, st.Aversion, owner, st.DataLength, st.NumChildren, acl)
		kids, _, err := c.Children(p)
		if err != nil {
			t.Fatalf("%s children: %v", p, err)
		}
		slices.Sort(kids)
		for _, k := range kids {
			walk(strings.TrimSuffix(p, "/") + "/" + k)
		}
	}
	walk("/")
	return out
}

func compareStates(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	bad := 0
	for p, w := range want {
		if g, ok := got[p]; !ok {
			t.Errorf("%s: %s missing (want %s)", what, p, w)
			bad++
		} else if g != w {
			t.Errorf("%s: %s\n got %s\nwant %s", what, p, g, w)
			bad++
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: %s is extra: %s", what, p, g)
			bad++
		}
	}
	if bad == 0 {
		t.Logf("%s: %d znodes agree", what, len(want))
	}
}

var zkExtended = map[string]string{"zookeeper.extendedTypesEnabled": "true"}

// Apache ZooKeeper 3.8 (plain and gzip snapshots, rolled at snapCount 20)
// → import → zabd on native and pebble: every znode the same through a
// client, data, stat and ACL, the live session's ephemeral with them.
func TestImportFromApacheZooKeeper(t *testing.T) {
	for _, tc := range []struct{ name, compression, engine string }{{"plain", "", "native"}, {"gzip", "gz", "pebble"}} {
		t.Run(tc.name, func(t *testing.T) {
			props := map[string]string{"zookeeper.extendedTypesEnabled": "true"}
			if tc.compression != "" {
				props["zookeeper.snapshot.compression.method"] = tc.compression
			}
			ref := zktest.StartApacheZK(t, launch.ZKOptions{SysProps: props, ExtraCfg: map[string]string{"snapCount": "20"}})
			live := migrationWorkload(t, ref.Addr)
			want := znodeState(t, ref.Addr)
			if err := ref.Stop(); err != nil {
				t.Fatal(err)
			}
			live.Close()
			dst := filepath.Join(t.TempDir(), "zabd")
			r := zabctl(t, "", "data", "import-zookeeper", ref.DataDir, dst, "--engine", tc.engine)
			if r.code != 0 || !regexp.MustCompile(`imported \S+ into \S+ \(`+tc.engine+`\): snapshot \S+ \(zxid 0x[0-9a-f]+\) and \d+ txns from \d+ logs; last zxid 0x[0-9a-f]+; \d+ znodes, 1 sessions; verified in`).MatchString(r.stdout) {
				t.Fatalf("import: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			t.Log(strings.TrimSpace(r.stdout))
			p := zktest.StartZabd(t, launch.ZabdOptions{DataDir: dst, Engine: tc.engine})
			compareStates(t, "zabd after import", znodeState(t, p.Addr), want)
		})
	}
}

// zabd → export → Apache ZooKeeper 3.8 starts from it: every znode the
// same, and it takes writes after the exported zxid.
func TestExportToApacheZooKeeper(t *testing.T) {
	p := zktest.StartZabd(t, launch.ZabdOptions{})
	live := migrationWorkload(t, p.Addr)
	want := znodeState(t, p.Addr)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	live.Close()
	zkDir := filepath.Join(t.TempDir(), "zk")
	r := zabctl(t, "", "data", "export-zookeeper", p.DataDir, zkDir)
	if r.code != 0 {
		t.Fatalf("export: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	t.Log(strings.TrimSpace(r.stdout))
	ref := zktest.StartApacheZK(t, launch.ZKOptions{DataDir: zkDir, SysProps: zkExtended})
	compareStates(t, "Apache ZooKeeper after export", znodeState(t, ref.Addr), want)
	c := zktest.Connect(t, ref.Addr)
	st, err := c.Set("/app", []byte("after"), -1)
	if err != nil {
		t.Fatalf("a write on the exported state: %v", err)
	}
	if want := regexp.MustCompile(`mzxid=(0x[0-9a-f]+)`).FindStringSubmatch(want["/m"]); want == nil || fmt.Sprintf("%#x", st.Mzxid) <= want[1] {
		t.Errorf("the write's mzxid %#x is not after the exported state's", st.Mzxid)
	}
	r = zabctl(t, "", "data", "export-zookeeper", p.DataDir, zkDir)
	if r.code != exitUsage || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("export onto a used dir: exit %d %s", r.code, r.stderr)
	}
}
