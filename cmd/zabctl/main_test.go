package main

import (
	"bytes"
	"fmt"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// startServer starts the server the tests talk to: Apache ZooKeeper 3.8 by
// default (TTL nodes enabled, as zkCli's -t needs), zabd when
// ZABCTL_TEST_SERVER=zabd. A missing ZooKeeper is a loud skip, or a
// failure under CI=true (zktest's rule).
func startServer(t *testing.T) string {
	t.Helper()
	if os.Getenv("ZABCTL_TEST_SERVER") == "zabd" {
		return zktest.StartZabd(t, launch.ZabdOptions{}).Addr
	}
	return zktest.StartApacheZK(t, launch.ZKOptions{
		SysProps: map[string]string{"zookeeper.extendedTypesEnabled": "true"},
	}).Addr
}

type result struct {
	stdout, stderr string
	code           int
}

// zabctl runs the command in-process with stdin and returns what it
// printed and its exit code.
func zabctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"zabctl"}, args...), strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// statBlock is zkCli's StatPrinter output with the zxids and times, which
// differ run to run, left as patterns.
func statBlock(cversion, version, aversion, dataLength, numChildren int, ephemeral bool) string {
	eph := `0x0`
	if ephemeral {
		eph = `0x[0-9a-f]+`
	}
	date := `[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}`
	return fmt.Sprintf(`cZxid = 0x[0-9a-f]+\nctime = %[1]s\nmZxid = 0x[0-9a-f]+\nmtime = %[1]s\npZxid = 0x[0-9a-f]+\n`+
		`cversion = %[2]d\ndataVersion = %[3]d\naclVersion = %[4]d\nephemeralOwner = %[5]s\n`+
		`dataLength = %[6]d\nnumChildren = %[7]d\n`, date, cversion, version, aversion, eph, dataLength, numChildren)
}

// TestOneShot runs zkCli one-shot commands in order against one server and
// checks stdout, stderr and the exit code of each exactly (stdout as a
// regexp where a stat block makes it vary).
func TestOneShot(t *testing.T) {
	addr := startServer(t)
	srv := []string{"-server", addr, "-timeout", "10000"}
	q := regexp.QuoteMeta
	for _, tc := range []struct {
		args   []string
		stdout string // regexp, anchored
		stderr string
		code   int
	}{
		{[]string{"create", "/a", "hello"}, ``, "Created /a\n", 0},
		{[]string{"create", "/a", "x"}, ``, "Node already exists: /a\n", exitZK},
		{[]string{"create", "/a/b"}, ``, "Created /a/b\n", 0},
		{[]string{"create", "-s", "/a/s-", "d"}, ``, "Created /a/s-0000000001\n", 0},
		{[]string{"create", "-c", "/cont"}, ``, "Created /cont\n", 0},
		{[]string{"create", "-t", "60000", "/ttl", "t"}, ``, "Created /ttl\n", 0},
		{[]string{"create", "-c", "-e", "/x"}, ``, "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.\n", exitUsage},
		{[]string{"create", "/noparent/x"}, ``, "Node does not exist: /noparent/x\n", exitZK},
		{[]string{"create", "bad"}, ``, "Path must start with / character\n", exitUsage},
		{[]string{"ls", "/a"}, q("[b, s-0000000001]\n"), "", 0},
		{[]string{"ls", "/"}, q("[a, cont, ttl, zookeeper]\n"), "", 0},
		{[]string{"ls", "-R", "/a"}, q("/a\n/a/b\n/a/s-0000000001\n"), "", 0},
		{[]string{"ls", "-s", "/a"}, q("[b, s-0000000001]\n") + statBlock(2, 0, 0, 5, 2, false), "", 0},
		{[]string{"ls"}, ``, "ls [-s] [-w] [-R] path\n", exitUsage},
		{[]string{"get", "/a"}, q("hello\n"), "", 0},
		{[]string{"get", "/a/b"}, q("null\n"), "", 0},
		{[]string{"get", "-s", "/a"}, q("hello\n") + statBlock(2, 0, 0, 5, 2, false), "", 0},
		{[]string{"get", "/nope"}, ``, "Node does not exist: /nope\n", exitZK},
		{[]string{"get", "-x", "/a"}, ``, "Unrecognized option: -x\n", exitUsage},
		{[]string{"set", "/a", "world"}, ``, "", 0},
		{[]string{"set", "-s", "/a", "w2"}, statBlock(2, 2, 0, 2, 2, false), "", 0},
		{[]string{"set", "/a", "w3", "-v", "9"}, ``, "version No is not valid : /a\n", exitZK},
		{[]string{"set", "-v", "2", "/a", "w3"}, ``, "", 0},
		{[]string{"stat", "/a"}, statBlock(2, 3, 0, 2, 2, false), "", 0},
		{[]string{"stat", "/nope"}, ``, "Node does not exist: /nope\n", exitZK},
		{[]string{"delete", "/a"}, ``, "Node not empty: /a\n", exitZK},
		{[]string{"delete", "/nope"}, ``, "Node does not exist: /nope\n", exitZK},
		{[]string{"delete", "-v", "7", "/a/b"}, ``, "version No is not valid : /a/b\n", exitZK},
		{[]string{"delete", "-v", "0", "/a/b"}, ``, "", 0},
		{[]string{"getAcl", "/a"}, q("'world,'anyone\n: cdrwa\n"), "", 0},
		{[]string{"getAcl", "-s", "/a"}, q("'world,'anyone\n: cdrwa\n") + statBlock(3, 3, 0, 2, 1, false), "", 0},
		{[]string{"create", "/r", "x", "world:anyone:r"}, ``, "Created /r\n", 0},
		{[]string{"set", "/r", "y"}, ``, "Insufficient permission : /r\n", exitZK},
		{[]string{"setAcl", "/r", "world:anyone:cdrwa"}, ``, "Insufficient permission : /r\n", exitZK},
		{[]string{"getAcl", "/r"}, q("'world,'anyone\n: r\n"), "", 0},
		{[]string{"setAcl", "-s", "/a", "world:anyone:cdrw"}, statBlock(3, 3, 1, 2, 1, false), "", 0},
		{[]string{"setAcl", "/a", "junk"}, ``, "junk does not have the form scheme:id:perm\nAcl is not valid : null\n", exitZK},
		{[]string{"getAllChildrenNumber", "/a"}, q("1\n"), "", 0},
		{[]string{"getAllChildrenNumber", "/nope"}, ``, "Node does not exist: /nope\n", exitZK},
		{[]string{"getEphemerals", "/"}, q("[]\n"), "", 0},
		{[]string{"whoami"}, q("Auth scheme: User\nip: 127.0.0.1\n"), "", 0},
		{[]string{"sync", "/a"}, q("Sync is OK\n"), "", 0},
		{[]string{"addWatch", "-m", "nonsense", "/a"}, ``, "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE\n", exitUsage},
		{[]string{"removewatches", "/a"}, ``, "KeeperErrorCode = No such watcher for /a\n", exitZK},
		{[]string{"deleteall", "/a"}, ``, "", 0},
		{[]string{"deleteall", "/nope"}, ``, "Node does not exist: /nope\n", exitZK},
		{[]string{"ls", "/"}, q("[cont, r, ttl, zookeeper]\n"), "", 0},
		{[]string{"foo", "/"}, ``, "Command not found: Command not found foo\n", exitUsage},
		{[]string{"version"}, `ZooKeeper CLI version: zabctl .*\n`, "", 0},
	} {
		name := strings.Join(tc.args, " ")
		got := zabctl(t, "", append(srv, tc.args...)...)
		if !regexp.MustCompile(`\A(?:` + tc.stdout + `)\z`).MatchString(got.stdout) {
			t.Errorf("%s: stdout = %q, want match for %q", name, got.stdout, tc.stdout)
		}
		if got.stderr != tc.stderr {
			t.Errorf("%s: stderr = %q, want %q", name, got.stderr, tc.stderr)
		}
		if got.code != tc.code {
			t.Errorf("%s: exit code = %d, want %d", name, got.code, tc.code)
		}
	}
}

// TestConnectFailure checks that a refused connection is exit code 3 and
// fails fast instead of waiting for the session timeout.
func TestConnectFailure(t *testing.T) {
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	start := time.Now()
	got := zabctl(t, "", "-server", addr, "-timeout", "20000", "ls", "/")
	if got.code != exitConnect {
		t.Errorf("exit code = %d, want %d (stderr %q)", got.code, exitConnect, got.stderr)
	}
	if !strings.HasPrefix(got.stderr, "Unable to connect to "+addr+": ") {
		t.Errorf("stderr = %q, want it to start with %q", got.stderr, "Unable to connect to "+addr+": ")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to give up on a refused connection, want well under the 20s session timeout", d)
	}
}

// TestShellWatches drives the shell with a script whose watch events are
// all caused by the shell's own session, so their order relative to the
// output is fixed by the wire order, and checks stdout and stderr exactly.
func TestShellWatches(t *testing.T) {
	addr := startServer(t)
	script := strings.Join([]string{
		"create /w x",
		"get -w /w",
		"set /w y",
		"ls -w /w",
		"create /w/c",
		"addWatch /w",
		"create /w/d",
		"set /w/d z",
		"removewatches /w",
		"removewatches /w",
		"create -e /w/e",
		"getEphemerals /w",
		"addauth digest user:pw",
		"whoami",
		"stat -w /gone",
		"create /gone",
		"printwatches off",
		"get -w /w",
		"set /w q",
		"printwatches",
		"history",
		"quit",
		"ls /",
	}, "\n") + "\n"
	got := zabctl(t, script, "-server", addr)
	ev := func(state, typ, path string) string {
		return "\nWATCHER::\n\nWatchedEvent state:" + state + " type:" + typ + " path:" + path + "\n"
	}
	wantOut := "Connecting to " + addr + "\nWelcome to ZooKeeper!\nJLine support is disabled\n" +
		ev("SyncConnected", "None", "null") +
		"x\n" +
		ev("SyncConnected", "NodeDataChanged", "/w") +
		"[]\n" +
		ev("SyncConnected", "NodeChildrenChanged", "/w") +
		ev("SyncConnected", "NodeCreated", "/w/d") +
		ev("SyncConnected", "NodeDataChanged", "/w/d") +
		ev("SyncConnected", "PersistentWatchRemoved", "/w") +
		"[/w/e]\n" +
		"Auth scheme: User\ndigest: user\nip: 127.0.0.1\n" +
		ev("SyncConnected", "NodeCreated", "/gone") +
		"y\n" +
		"printwatches is off\n" +
		"10 - create -e /w/e\n11 - getEphemerals /w\n12 - addauth digest user:pw\n13 - whoami\n" +
		"14 - stat -w /gone\n15 - create /gone\n16 - printwatches off\n17 - get -w /w\n" +
		"18 - set /w q\n19 - printwatches\n20 - history\n"
	// quit prints the Closed event only when watches print; they are off.
	wantErr := "Created /w\nCreated /w/c\nCreated /w/d\n" +
		"KeeperErrorCode = No such watcher for /w\n" +
		"Created /w/e\nNode does not exist: /gone\nCreated /gone\n"
	if diff := cmp.Diff(wantOut, got.stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantErr, got.stderr); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if got.code != 0 {
		t.Errorf("exit code = %d, want 0 (last command before quit succeeded)", got.code)
	}
}

// zkCliScript is run through both the real zkCli.sh and zabctl's shell,
// each under its own root, and their outputs compared. It avoids watches
// (zkCli prints events from another thread, so their place in its output
// is not fixed).
var zkCliScript = []string{
	"create ROOT r",
	"create ROOT/a hello",
	"create ROOT/a again",
	"create -s ROOT/a/seq- d",
	"create -e ROOT/a/eph",
	"create ROOT/a/eph/child",
	"create ROOT/noacl x world:anyone:r",
	"create ROOT/badacl x nonsense",
	"ls ROOT",
	"ls -s ROOT/a",
	"ls -R ROOT",
	"get ROOT/a",
	"get -s ROOT/a/seq-0000000000",
	"get ROOT/missing",
	"set ROOT/a world",
	"set -s ROOT/a w2",
	"set -v 99 ROOT/a w3",
	"set ROOT/noacl y",
	"stat ROOT/a",
	"stat ROOT/missing",
	"delete ROOT/a",
	"delete -v 5 ROOT/a/seq-0000000000",
	"delete ROOT/missing",
	"getAcl ROOT/noacl",
	"getAcl -s ROOT/a",
	"setAcl ROOT/noacl world:anyone:cdrwa",
	"setAcl -R ROOT/a world:anyone:cdrwa",
	"setAcl ROOT/a junk",
	"setAcl -R ROOT/a junk",
	"getEphemerals ROOT",
	"getAllChildrenNumber ROOT",
	"sync ROOT",
	"whoami",
	"removewatches ROOT/a",
	"ls ROOT/a extra",
	"get",
	"create bad",
	"deleteall ROOT/a",
	"ls ROOT",
	"quit",
}

// TestAgainstZkCli compares zabctl's shell with the installed zkCli.sh
// line for line on zkCliScript (stdout and stderr separately), after
// replacing the run-dependent parts: zxids, times, session ids and the
// connect banner.
func TestAgainstZkCli(t *testing.T) {
	zkCli := "/usr/share/zookeeper/bin/zkCli.sh"
	if _, err := os.Stat(zkCli); err != nil {
		if zktest.InCI() {
			t.Fatalf("CI=true but %s is missing: %v", zkCli, err)
		}
		t.Skipf("SKIPPING: %s not installed (apt-get install zookeeper): %v", zkCli, err)
	}
	addr := startServer(t)
	script := func(root string) string {
		return strings.ReplaceAll(strings.Join(zkCliScript, "\n"), "ROOT", root) + "\n"
	}

	cmd := exec.Command(zkCli, "-server", addr)
	cmd.Stdin = strings.NewReader(script("/zkcli"))
	var jOut, jErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &jOut, &jErr
	cmd.Env = append(os.Environ(), "ZOO_LOG_DIR="+t.TempDir(), "TZ=UTC")
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start zkCli.sh: %v", err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("zkCli.sh did not finish in 60s; stdout so far:\n%s", jOut.String())
	}

	got := zabctl(t, script("/zabctl"), "-server", addr)

	norm := func(s, root string) string {
		s = strings.ReplaceAll(s, root, "ROOT")
		s = regexp.MustCompile(`0x[0-9a-f]+`).ReplaceAllString(s, "0xN")
		s = regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \S+ \d{4}`).ReplaceAllString(s, "DATE")
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "SLF4J:") || strings.HasPrefix(l, "Connecting to ") {
				continue
			}
			keep = append(keep, l)
		}
		s = strings.Join(keep, "\n")
		// The connect and close events: zkCli prints them from its event
		// thread, so drop them from both sides.
		s = strings.ReplaceAll(s, "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n", "\n")
		s = strings.ReplaceAll(s, "\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n", "\n")
		return s
	}
	// zkCli lists commands zabctl does not implement in its usage text.
	dropUsage := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "ZooKeeper -server") {
				continue
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	if diff := cmp.Diff(norm(jOut.String(), "/zkcli"), norm(got.stdout, "/zabctl")); diff != "" {
		t.Errorf("stdout differs from zkCli.sh (-zkCli +zabctl):\n%s", diff)
	}
	if diff := cmp.Diff(dropUsage(norm(jErr.String(), "/zkcli")), dropUsage(norm(got.stderr, "/zabctl"))); diff != "" {
		t.Errorf("stderr differs from zkCli.sh (-zkCli +zabctl):\n%s", diff)
	}
	if t.Failed() {
		p := filepath.Join(t.TempDir(), "zkcli.out")
		_ = os.WriteFile(p, jOut.Bytes(), 0o644)
		t.Logf("zkCli.sh stdout kept at %s", p)
	}
}

// --version prints the version, the commit and the Go version without
// connecting anywhere.
func TestVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"zabctl", "--version"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := out.String(); !strings.HasPrefix(got, "zabctl 3.8.4-zabd (commit ") || !strings.Contains(got, "go1.") {
		t.Fatalf("--version printed %q", got)
	}
}

// CMD --help prints the command's syntax and an example without
// connecting (the server here listens nowhere); a one-shot addauth, which
// could not outlive its own session, is refused with the way to do it.
func TestCommandHelpAndOneShotAddauth(t *testing.T) {
	got := zabctl(t, "", "-server", "127.0.0.1:1", "get", "--help")
	if got.code != 0 || got.stdout != "usage:   zabctl [-server ...] get [-s] [-w] path\nexample: zabctl get -s /app/config\n" {
		t.Fatalf("get --help: %+v", got)
	}
	got = zabctl(t, "", "-server", "127.0.0.1:1", "addauth", "digest", "a:b")
	if got.code != exitUsage || !strings.Contains(got.stderr, "--auth scheme:credential") {
		t.Fatalf("one-shot addauth: %+v", got)
	}
	for _, zc := range []string{"ls", "create", "delete", "setAcl", "whoami", "version"} {
		if got := zabctl(t, "", "-server", "127.0.0.1:1", zc, "-h"); got.code != 0 || !strings.Contains(got.stdout, "example: zabctl") {
			t.Errorf("%s -h: %+v", zc, got)
		}
	}
}

// --auth adds the identity before the command runs.
func TestAuthFlag(t *testing.T) {
	addr := startServer(t)
	got := zabctl(t, "", "-server", addr, "--auth", "digest:alice:secret", "whoami")
	if got.code != 0 || !strings.Contains(got.stdout, "digest: alice\n") {
		t.Fatalf("--auth then whoami: %+v", got)
	}
	got = zabctl(t, "", "-server", addr, "--auth", "nocolon", "whoami")
	if got.code != exitUsage || !strings.Contains(got.stderr, "want scheme:credential") {
		t.Fatalf("--auth without a scheme: %+v", got)
	}
}

// help in the shell lists the commands, with no "Command not found".
func TestShellHelp(t *testing.T) {
	addr := startServer(t)
	got := zabctl(t, "help\nquit\n", "-server", addr)
	if got.code != 0 || !strings.Contains(got.stdout, "\tget [-s] [-w] path\n") || strings.Contains(got.stdout+got.stderr, "Command not found") {
		t.Fatalf("help: %+v", got)
	}
}
