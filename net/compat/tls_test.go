package compat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/secure/securetest"
	"zabd/net/zktest"
)

// tlsConnect opens a go-zookeeper session over TLS with cfg.
func tlsConnect(t *testing.T, addr string, cfg *tls.Config) (*zk.Conn, error) {
	t.Helper()
	dial := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, cfg)
	}
	c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithDialer(dial), zk.WithLogInfo(false))
	if err != nil {
		return nil, err
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, errors.New("no session within 10 s")
		}
	}
}

// TestTLSClients serves clients over TLS as ZooKeeper's zoo.cfg keys say
// (secureClientPort, a PEM key store, a JKS trust store, the x509
// provider, port unification) and checks go-zookeeper, kazoo and the Java
// client over it: a verified certificate's subject is the session's x509
// id and x509 ACLs hold; a certificate from another CA, a client without
// one and plain text on the TLS port are refused without disturbing the
// sessions already open; the client port takes TLS and plain text; a key
// store rotated on disk is served to the next connections without a
// restart.
func TestTLSClients(t *testing.T) {
	dir := t.TempDir()
	certs := securetest.Write(t, dir)
	p := zktest.StartZabd(t, launch.ZabdOptions{PortKeys: []string{"secureClientPort"}, ExtraCfg: map[string]string{
		"secureClientPortAddress": "127.0.0.1",
		"serverCnxnFactory":       "org.apache.zookeeper.server.NettyServerCnxnFactory",
		"ssl.keyStore.location":   certs.ServerPEM,
		"ssl.trustStore.location": certs.TrustJKS,
		"ssl.trustStore.password": securetest.Password,
		"authProvider.x509":       "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
		"client.portUnification":  "true",
	}})
	secureAddr := fmt.Sprintf("127.0.0.1:%d", p.Ports["secureClientPort"])
	subject := securetest.ClientSubject

	c, err := tlsConnect(t, secureAddr, certs.ClientConfig(&certs.Client))
	if err != nil {
		t.Fatalf("go-zookeeper over TLS: %v", err)
	}
	defer c.Close()
	onlyMe := []zk.ACL{{Perms: zk.PermAll, Scheme: "x509", ID: subject}}
	if _, err := c.Create("/tls", []byte("secret"), 0, onlyMe); err != nil {
		t.Fatalf("create with an x509 ACL: %v", err)
	}
	if b, _, err := c.Get("/tls"); err != nil || string(b) != "secret" {
		t.Fatalf("get over TLS: %q, %v", b, err)
	}
	plain := zktest.Connect(t, p.Addr)
	if _, _, err := plain.Get("/tls"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("a plain-text session read a node only %s may read: %v", subject, err)
	}

	// Refusals, each leaving c's session alone.
	if err := tlsRefused(secureAddr, certs.ClientConfig(&certs.OtherClient)); err != nil {
		t.Errorf("a certificate from another CA: %v", err)
	}
	if err := tlsRefused(secureAddr, certs.ClientConfig(nil)); err != nil {
		t.Errorf("a client without a certificate (ssl.clientAuth defaults to need): %v", err)
	}

	if out, _ := launch.FourLetter(secureAddr, "ruok", 5*time.Second); out != "" {
		t.Errorf("plain text on the TLS port answered %q", out)
	}
	if _, err := c.Set("/tls", []byte("still here"), -1); err != nil {
		t.Errorf("the TLS session after the refusals: %v", err)
	}

	// Port unification: the client port takes TLS too, and plain text.
	u, err := tlsConnect(t, p.Addr, certs.ClientConfig(&certs.Client))
	if err != nil {
		t.Fatalf("TLS on the unified client port: %v", err)
	}
	if b, _, err := u.Get("/tls"); err != nil || string(b) != "still here" {
		t.Errorf("TLS on the unified port: %q, %v", b, err)
	}
	u.Close()
	if out, _ := launch.FourLetter(p.Addr, "ruok", 5*time.Second); out != "imok" {
		t.Errorf("plain ruok on the unified port: %q", out)
	}

	// kazoo.
	requireKazoo(t)
	script := fmt.Sprintf(`
from kazoo.client import KazooClient
zk = KazooClient(hosts=%q, use_ssl=True, certfile=%q, keyfile=%q, ca=%q, verify_certs=True)
zk.start(timeout=10)
zk.create('/kazoo-tls', b'k')
print(zk.get('/tls')[0].decode(), zk.get('/kazoo-tls')[0].decode())
zk.stop()
`, secureAddr, certs.ClientCert, certs.ClientKey, certs.CA)
	out, err := exec.Command(debianPython, "-c", script).CombinedOutput()
	if err != nil || strings.TrimSpace(lastLine(string(out))) != "still here k" {
		t.Errorf("kazoo use_ssl: %v\n%s", err, out)
	}

	// The Java client (Netty socket) with PKCS12 stores.
	javaTLS(t, secureAddr, certs, "/tls", "still here", subject)

	// Rotation: the key store is rewritten; new connections get the new
	// certificate (the store is checked at most once a second).
	rotated := certs.RotateServer(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		tc, err := tls.Dial("tcp", secureAddr, certs.ClientConfig(&certs.Client))
		if err == nil {
			got := tc.ConnectionState().PeerCertificates[0].SerialNumber
			tc.Close()
			if got.Cmp(rotated.SerialNumber) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotated server certificate was not served within 15 s (err %v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, err := c.Get("/tls"); err != nil {
		t.Errorf("the session opened before the rotation: %v", err)
	}
}

// tlsRefused reports nil when the server ends a TLS connection with cfg
// (the handshake fails, or with TLS 1.3 the server closes right after
// it), and an error when the connection stays open.
func tlsRefused(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	_, err = c.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("the connection was kept open")
	}
	return nil
}

// javaTLS runs Apache ZooKeeper's Java client (ZooKeeperMain, the Netty
// socket, PKCS12 stores) against addr: get path and whoami. Debian's
// zkCli.sh leaves the Netty jars off its class path, so the JVM is
// started here with them.
func javaTLS(t *testing.T, addr string, certs securetest.Files, path, want, subject string) {
	t.Helper()
	java, err := launch.FindJava()
	zktest.RequireInstalled(t, "default-jdk-headless", err)
	cp, err := launch.ZooKeeperClassPath()
	zktest.RequireInstalled(t, "zookeeper", err)
	for _, j := range []string{"netty-resolver", "netty-codec", "netty-transport-native-unix-common"} {
		f := "/usr/share/java/" + j + ".jar"
		if _, err := os.Stat(f); err != nil {
			zktest.RequireInstalled(t, "zookeeper", fmt.Errorf("%w: %v", launch.ErrNotInstalled, err))
		}
		cp += ":" + f
	}
	run := func(args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		argv := []string{"-cp", cp, "-Dzookeeper.client.secure=true",
			"-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty",
			"-Dzookeeper.ssl.keyStore.location=" + certs.ClientP12, "-Dzookeeper.ssl.keyStore.password=" + securetest.Password,
			"-Dzookeeper.ssl.trustStore.location=" + certs.TrustP12, "-Dzookeeper.ssl.trustStore.password=" + securetest.Password,
			"org.apache.zookeeper.ZooKeeperMain", "-server", addr}
		cmd := exec.CommandContext(ctx, java, append(argv, args...)...)
		cmd.Dir = filepath.Dir(certs.CA)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("java client %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("get", path); !strings.Contains(out, "\n"+want+"\n") {
		t.Errorf("java client get %s over TLS:\n%s", path, out)
	}
	if out := run("whoami"); !strings.Contains(out, "x509: "+subject) {
		t.Errorf("java client whoami over TLS, want x509: %s:\n%s", subject, out)
	}
}
