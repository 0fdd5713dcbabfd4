package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// auditScenario does, through go-zookeeper, what an audit must report:
// creates of every mode ZooKeeper names (a failure among them), addauth,
// setData, setAcl, a multi that succeeds and one that fails, writes
// refused NoAuth and NoNode, and two sessions closing with one ephemeral
// each (ZooKeeper lists a session's ephemerals in hash order; one each
// keeps the comparison exact).
func auditScenario(t *testing.T, addr string) {
	t.Helper()
	open := zk.WorldACL(zk.PermAll)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want, err error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Fatalf("got %v, want %v", err, want)
		}
	}
	s1 := zktest.Connect(t, addr)
	s2 := zktest.Connect(t, addr)
	_, err := s1.Create("/a", []byte("x"), 0, open)
	must(err)
	_, err = s1.Create("/a", []byte("x"), 0, open)
	expect(zk.ErrNodeExists, err)
	_, err = s1.Create("/a/e", nil, zk.FlagEphemeral, open)
	must(err)
	_, err = s1.Create("/a/s-", nil, zk.FlagSequence, open)
	must(err)
	_, err = s1.CreateContainer("/cont", nil, zk.FlagContainer, open)
	must(err)
	_, err = s1.Create("/cont/c", nil, 0, open)
	must(err)
	must(s1.AddAuth("digest", []byte("alice:pw")))
	_, err = s1.Set("/a", []byte("y"), -1)
	must(err)
	alice := zk.DigestACL(zk.PermAll, "alice", "pw")
	_, err = s1.SetACL("/a", append(alice, zk.WorldACL(zk.PermRead)...), -1)
	must(err)
	_, err = s1.SetACL("/nope", alice, -1)
	expect(zk.ErrNoNode, err)
	_, err = s1.Create("/prot", nil, 0, alice)
	must(err)
	_, err = s1.Multi(&zk.CreateRequest{Path: "/m1", Acl: open}, &zk.SetDataRequest{Path: "/a", Data: []byte("z"), Version: -1},
		&zk.CheckVersionRequest{Path: "/a", Version: 2}, &zk.DeleteRequest{Path: "/m1", Version: -1})
	must(err)
	_, err = s1.Multi(&zk.CreateRequest{Path: "/m2", Acl: open}, &zk.CreateRequest{Path: "/a", Acl: open})
	if err == nil {
		t.Fatal("a multi creating /a again succeeded")
	}
	_, err = s2.Create("/a/es-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	expect(zk.ErrNoAuth, err) // /a is alice's now, read-only to others
	es, err := s2.Create("/es-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	must(err)
	_, err = s2.Set("/prot", []byte("no"), -1)
	expect(zk.ErrNoAuth, err)
	expect(zk.ErrNoNode, s2.Delete("/nope", -1))
	s2.Close()
	// s2's close (and its ephemeral's deletion) is durable before s1's:
	// a delete of a node only s2 had made is answered after it.
	waitGone(t, s1, es)
	must(s1.Delete("/a/s-0000000001", -1))
	s1.Close()
}

func waitGone(t *testing.T, c *zk.Conn, path string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		ok, _, err := c.Exists(path)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still there 20 s after its session closed", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// auditLine picks the key=value part of an audit log line (ZooKeeper's
// slf4j-simple layout or zabctl's) and writes its sessions as s1, s2, ...
// by first appearance, the only thing that differs between two servers.
var (
	auditKV      = regexp.MustCompile(`(?:Slf4jAuditLogger - |audit\.Slf4jAuditLogger: )(session=.*)$`)
	auditSession = regexp.MustCompile(`session=(0x[0-9a-f]+)`)
)

func auditLines(text string) []string {
	names := map[string]string{}
	var out []string
	for _, l := range strings.Split(text, "\n") {
		m := auditKV.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		kv := auditSession.ReplaceAllStringFunc(m[1], func(s string) string {
			id := strings.TrimPrefix(s, "session=")
			if names[id] == "" {
				names[id] = fmt.Sprintf("s%d", len(names)+1)
			}
			return "session=" + names[id]
		})
		out = append(out, kv)
	}
	return out
}

// The same client operations against Apache ZooKeeper 3.8 with its audit
// log on and against zabd, whose log is then read by `zabctl log audit
// --format zookeeper`: the same audit lines, field for field, in the same
// order (sessions renamed by first appearance).
func TestAuditAgainstApacheZooKeeper(t *testing.T) {
	ref := zktest.StartApacheZK(t, launch.ZKOptions{SysProps: map[string]string{"zookeeper.audit.enable": "true"}})
	auditScenario(t, ref.Addr)
	if err := ref.Stop(); err != nil {
		t.Fatal(err)
	}
	zkLog, err := os.ReadFile(ref.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	want := auditLines(string(zkLog))

	p := zktest.StartZabd(t, launch.ZabdOptions{})
	auditScenario(t, p.Addr)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	r := zabctl(t, "", "log", "audit", "--format", "zookeeper", p.DataDir)
	if r.code != 0 {
		t.Fatalf("log audit: exit %d\n%s", r.code, r.stderr)
	}
	got := auditLines(r.stdout)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("zabd's audit (%d lines):\n%s\n\nApache ZooKeeper's (%d lines):\n%s", len(got), strings.Join(got, "\n"), len(want), strings.Join(want, "\n"))
	}
	if len(want) < 15 {
		t.Fatalf("only %d audit lines from ZooKeeper:\n%s", len(want), strings.Join(want, "\n"))
	}
	t.Logf("%d audit lines agree, e.g. %s", len(got), got[len(got)-3])
}

// The text, JSON and summary forms of the same audit: zabd's own
// operations (createSession, addAuth, closeSession) appear beside
// ZooKeeper's, each line names the session's client address and user,
// and the filters select as log dump's do.
func TestAuditFormats(t *testing.T) {
	p := zktest.StartZabd(t, launch.ZabdOptions{})
	auditScenario(t, p.Addr)
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	client := `client=127\.0\.0\.1:\d+`
	for _, tc := range []struct {
		name   string
		args   []string
		stdout []string // each must match, in this order
		lines  int      // lines of stdout, 0: not checked
	}{
		{"text", []string{"log", "audit", p.DataDir}, []string{
			`(?m)^\S+Z 0x100000002 1/2 session=0x[0-9a-f]+ ` + client + ` user=127\.0\.0\.1 createSession success$`,
			`(?m)^\S+ 0x100000005 1/5 session=\S+ ` + client + ` user=127\.0\.0\.1 create /a type=persistent failure err=-110\(node exists\)$`,
			`(?m) user=127\.0\.0\.1,alice addAuth ids=ip:127\.0\.0\.1,digest:alice:V55/p2T0OpjQ\+low3NVAH4aLvm0= success$`,
			`(?m) user=127\.0\.0\.1,alice setAcl /a acl=digest:alice:V55/p2T0OpjQ\+low3NVAH4aLvm0=:cdrwaworld:anyone:r success$`,
			`(?m) multiOperation failure err=-110\(node exists\)$`,
			`(?m) by=server ephemeralZNodeDeletionOnSessionCloseOrExpire /es-\d{10} success\n[^\n]* closeSession success$`,
		}, 26},
		{"JSON, one path", []string{"log", "audit", "--format", "json", "--path", "/prot", p.DataDir}, []string{
			`^\{"zxid":"0x10000000e",[^\n]*"ids":\["ip:127.0.0.1","digest:alice:[^"]+"\],"user":"127.0.0.1,alice","operation":"create","znode":"/prot","znode_type":"persistent","result":"success"\}\n`,
			`\{[^\n]*"user":"127.0.0.1","operation":"setData","znode":"/prot","result":"failure","error_code":-102\}\n$`,
		}, 2},
		{"one type", []string{"log", "audit", "--type", "setACL", p.DataDir}, []string{` setAcl /a `}, 1},
		{"summary", []string{"log", "audit", "--summary", p.DataDir}, []string{
			`^sessions: 2\n  0x[0-9a-f]+ ` + client + ` user=127\.0\.0\.1,alice \S+\.\.\S+ addAuth=1 closeSession=1 create=8 createSession=1 delete=2 ephemeralZNodeDeletionOnSessionCloseOrExpire=1 multiOperation=1 setAcl=2 setData=2 failures=3\n`,
			`paths \(prefixes of 1 components\): 6\n  /a create=5 delete=1 ephemeralZNodeDeletionOnSessionCloseOrExpire=1 setAcl=1 setData=2 failures=2 sessions=2\n`,
		}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := zabctl(t, "", tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			rest := r.stdout
			for _, re := range tc.stdout {
				loc := regexp.MustCompile(re).FindStringIndex(rest)
				if loc == nil {
					t.Fatalf("no match for %s in what follows:\n%s\n(whole output:\n%s)", re, rest, r.stdout)
				}
				rest = rest[loc[1]:]
			}
			if n := strings.Count(r.stdout, "\n"); tc.lines > 0 && n != tc.lines {
				t.Errorf("%d lines, want %d:\n%s", n, tc.lines, r.stdout)
			}
		})
	}
	if r := zabctl(t, "", "log", "audit", "--format", "xml", p.DataDir); r.code != exitUsage || !strings.Contains(r.stderr, "want text, json or zookeeper") {
		t.Errorf("--format xml: exit %d %s", r.code, r.stderr)
	}
}
