package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	stdnet "net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/net/jute"
	"zabd/net/zktest"
	"zabd/tree"
)

// diskFullScript runs inside a private mount namespace (unshare -m): a
// tiny tmpfs holds the data dir. zabd starts, the test writes, zabd stops,
// the disk is filled, zabd starts again on the full disk; once the test
// has checked it, the filler goes and the test checks it again. Each step
// waits for the test on a fifo.
const diskFullScript = `set -e
mount -t tmpfs -o size=16m tmpfs "$MNT"
"$ZABD" --data-dir "$MNT/data" --client-addr "$ADDR" 2>>"$LOG" & pid=$!
read go <"$FIFO"
kill -TERM $pid; wait $pid || true
cat /dev/zero >"$MNT/filler" 2>/dev/null || true
echo "--- restart on a full disk" >>"$LOG"
"$ZABD" --data-dir "$MNT/data" --client-addr "$ADDR" 2>>"$LOG" & pid=$!
read go <"$FIFO"
rm "$MNT/filler"
read go <"$FIFO"
kill -TERM $pid; wait $pid || true
`

// fourLetter sends a four-letter word and returns the answer ("" if it
// cannot connect).
func fourLetter(t *testing.T, addr, word string) string {
	t.Helper()
	c, err := stdnet.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(word))
	b, _ := io.ReadAll(c)
	return string(b)
}

// waitServing waits until isro answers want (zabd closes connections
// until it serves; a stopping one stops answering).
func waitServing(t *testing.T, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for fourLetter(t, addr, "isro") != want {
		if time.Now().After(deadline) {
			t.Fatalf("zabd at %s not serving after 30 s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// connectRaw does the handshake with the jute codec; the ConnectResponse
// or the error of a closed connection.
func connectRaw(t *testing.T, addr string, readOnly bool) (stdnet.Conn, *bufio.Reader, jute.ConnectResponse, error) {
	t.Helper()
	c, err := stdnet.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write(jute.AppendFrame(nil, jute.AppendConnectRequest(nil, jute.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), ReadOnly: readOnly})))
	br := bufio.NewReader(c)
	body, err := jute.ReadFrame(br, 1<<20, nil)
	if err != nil {
		return c, br, jute.ConnectResponse{}, err
	}
	resp, err := jute.DecodeConnectResponse(body)
	return c, br, resp, err
}

func callRaw(t *testing.T, c stdnet.Conn, br *bufio.Reader, xid int32, op tree.Op, req tree.Request) (jute.ReplyHeader, tree.Result) {
	t.Helper()
	c.Write(jute.AppendFrame(nil, jute.AppendRequest(nil, jute.RequestHeader{Xid: xid, Op: op}, req)))
	body, err := jute.ReadFrame(br, 1<<20, nil)
	if err != nil {
		t.Fatalf("%v: %v", op, err)
	}
	hdr, err := jute.DecodeReplyHeader(body)
	if err != nil || hdr.Err != tree.CodeOK {
		return hdr, tree.Result{}
	}
	hdr, res, err := jute.DecodeReply(body, op)
	if err != nil {
		t.Fatalf("%v reply: %v", op, err)
	}
	return hdr, res
}

// TestStartOnAFullDisk runs zabd (native engine) on a real 16 MiB tmpfs in
// a private mount namespace: it starts on the full disk the same way every
// time, serving reads with writes refused (ruok silent, isro "ro"), giving
// a read-only session to a client that accepts one (its write answered
// NotReadOnly) and closing the connection of one that does not; once
// space is freed the next write records the epoch and is taken.
func TestStartOnAFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("starts zabd twice")
	}
	if err := exec.Command("unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt").Run(); err != nil {
		t.Skipf("cannot mount a tmpfs in a private mount namespace (needs root or user namespaces): %v", err)
	}
	bin := zktest.BuildZabd(t)
	dir := t.TempDir()
	mnt, fifo, logPath := filepath.Join(dir, "mnt"), filepath.Join(dir, "fifo"), filepath.Join(dir, "zabd.log")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command("unshare", "-m", "sh", "-c", diskFullScript)
	cmd.Env = append(os.Environ(), "MNT="+mnt, "FIFO="+fifo, "LOG="+logPath, "ZABD="+bin, "ADDR="+addr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Setpgid: the script, its zabd and its children die together.
	done := make(chan struct{}) // closed when the script has ended; then scriptErr is set
	var scriptErr error
	go func() { scriptErr = cmd.Wait(); close(done) }()
	step := func() {
		t.Helper()
		opened := make(chan *os.File, 1)
		go func() {
			// Blocks until the script reads; O_RDWR would not.
			if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				opened <- f
			}
		}()
		select {
		case f := <-opened:
			fmt.Fprintln(f, "go")
			f.Close()
		case <-done:
			t.Fatalf("the script ended early: %v", scriptErr)
		}
	}
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("script output:\n%s\nzabd log:\n%s", out.String(), b)
		}
	})

	waitServing(t, addr, "rw")
	zc := zktest.Connect(t, addr)
	if _, err := zc.Create("/app", []byte("hello"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	zc.Close()
	step() // stop, fill the disk, start again

	waitServing(t, addr, "ro") // the new process, on the full disk
	if got := fourLetter(t, addr, "ruok"); got != "" {
		t.Errorf("ruok on a full disk = %q, want nothing", got)
	}
	if _, _, resp, err := connectRaw(t, addr, false); err == nil {
		t.Errorf("client without readOnly on a full disk got %+v, want its connection closed", resp)
	}
	c, br, resp, err := connectRaw(t, addr, true)
	if err != nil || !resp.ReadOnly || resp.SessionID == 0 {
		t.Fatalf("read-only client on a full disk: %+v, %v; want a read-only session", resp, err)
	}
	if hdr, res := callRaw(t, c, br, 1, tree.OpGetData, tree.Request{Path: "/app"}); hdr.Err != tree.CodeOK || string(res.Data) != "hello" {
		t.Errorf("getData /app on a read-only session: %v %q", hdr.Err, res.Data)
	}
	if hdr, _ := callRaw(t, c, br, 2, tree.OpCreate, tree.Request{Path: "/b", ACL: tree.OpenACLUnsafe}); hdr.Err != tree.CodeNotReadOnly {
		t.Errorf("create on a read-only session: %v, want NotReadOnly", hdr.Err)
	}
	if kazooOK() {
		out, err := exec.Command("/usr/bin/python3", "-c", kazooReadOnly, addr).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ro hello NotReadOnlyCallError" {
			t.Errorf("kazoo read_only=True: %s (%v)", out, err)
		}
	} else {
		t.Log("python3-kazoo not installed: kazoo's read-only client not tried")
	}
	b, _ := os.ReadFile(logPath)
	if !strings.Contains(string(b), "disk full at start: serving reads only") || !strings.Contains(string(b), "free on "+mnt+"/data") {
		t.Errorf("the start on a full disk is not explained in the log:\n%s", b)
	}
	step() // free the disk

	zc = zktest.Connect(t, addr)
	if _, err := zc.Create("/b", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create with room again: %v", err)
	}
	zc.Close()
	if got := fourLetter(t, addr, "isro"); got != "rw" {
		t.Errorf("isro with room again = %q, want rw", got)
	}
	step() // stop
	<-done
	if scriptErr != nil {
		t.Fatalf("script: %v", scriptErr)
	}
}

func kazooOK() bool { return exec.Command("/usr/bin/python3", "-c", "import kazoo").Run() == nil }

// kazooReadOnly connects with kazoo's read_only=True, reads /app and tries
// a write; it prints the connection state, the data and the write's error.
const kazooReadOnly = `
import sys
from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import NotReadOnlyCallError
zk = KazooClient(hosts=sys.argv[1], read_only=True, timeout=10)
zk.start(timeout=10)
state = "ro" if zk.client_state == "CONNECTED_RO" else zk.client_state
data, _ = zk.get("/app")
try:
    zk.create("/k", b"")
    err = "none"
except NotReadOnlyCallError:
    err = "NotReadOnlyCallError"
print(state, data.decode(), err)
zk.stop()
`
