package compat

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

const jaasServer = `Server {
       org.apache.zookeeper.server.auth.DigestLoginModule required
       user_super="adminsecret"
       user_bob="bobsecret";
};
`

// jaasClient is a JAAS Client section for user with password.
func jaasClient(t *testing.T, dir, user, password string) string {
	t.Helper()
	path := filepath.Join(dir, user+"-"+password+".conf")
	text := "Client {\n  org.apache.zookeeper.server.auth.DigestLoginModule required\n  username=\"" + user + "\"\n  password=\"" + password + "\";\n};\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// javaSASL runs ZooKeeperMain with JAAS file jaas against addr and returns
// its output.
func javaSASL(t *testing.T, addr, jaas string, args ...string) string {
	t.Helper()
	java, err := launch.FindJava()
	zktest.RequireInstalled(t, "default-jdk-headless", err)
	cp, err := launch.ZooKeeperClassPath()
	zktest.RequireInstalled(t, "zookeeper", err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{"-cp", cp, "-Djava.security.auth.login.config=" + jaas, "org.apache.zookeeper.ZooKeeperMain", "-server", addr}, args...)
	out, _ := exec.CommandContext(ctx, java, argv...).CombinedOutput()
	return string(out)
}

// TestSASLAgainstApacheZooKeeper runs the same SASL DIGEST-MD5 scenario on
// Apache ZooKeeper 3.8 and zabd, configured alike (the SASL provider,
// sessionRequireClientSASLAuth, a super user, one JAAS Server section):
// the Java client with a JAAS Client section authenticates as sasl:bob,
// sasl ACLs hold (bob reads his node, the super user too), a wrong
// password ends in AuthFailed, and a client that does not authenticate is
// refused its requests.
func TestSASLAgainstApacheZooKeeper(t *testing.T) {
	dir := t.TempDir()
	jaas := filepath.Join(dir, "server-jaas.conf")
	if err := os.WriteFile(jaas, []byte(jaasServer), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]string{
		"authProvider.1":               "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
		"sessionRequireClientSASLAuth": "true",
		"superUser":                    "super",
	}
	zkp := zktest.StartApacheZK(t, launch.ZKOptions{ExtraCfg: cfg, SysProps: map[string]string{"java.security.auth.login.config": jaas}})
	zbp := zktest.StartZabd(t, launch.ZabdOptions{ExtraCfg: cfg, Env: []string{"SERVER_JVMFLAGS=-Djava.security.auth.login.config=" + jaas}})
	bob := jaasClient(t, dir, "bob", "bobsecret")
	wrong := jaasClient(t, dir, "bob", "wrong")
	super := jaasClient(t, dir, "super", "adminsecret")
	for _, s := range []struct {
		name string
		addr string
	}{{"zookeeper", zkp.Addr}, {"zabd", zbp.Addr}} {
		t.Run(s.name, func(t *testing.T) {
			if out := javaSASL(t, s.addr, bob, "create", "/bob", "hers", "sasl:bob:cdrwa"); !strings.Contains(out, "Created /bob") {
				t.Fatalf("create as bob:\n%s", out)
			}
			if out := javaSASL(t, s.addr, bob, "whoami"); !strings.Contains(out, "sasl: bob") {
				t.Errorf("whoami as bob:\n%s", out)
			}
			if out := javaSASL(t, s.addr, bob, "getAcl", "/bob"); !strings.Contains(out, "'sasl,'bob\n: cdrwa") {
				t.Errorf("getAcl /bob:\n%s", out)
			}
			if out := javaSASL(t, s.addr, super, "get", "/bob"); !strings.Contains(out, "\nhers\n") {
				t.Errorf("get /bob as the super user:\n%s", out)
			}
			if out := javaSASL(t, s.addr, wrong, "ls", "/"); !strings.Contains(out, "AuthFailed") {
				t.Errorf("a wrong password:\n%s", out)
			}
			// go-zookeeper does not speak SASL: its session is created
			// (the connect request is exempt), its requests refused.
			c, ev, err := zk.Connect([]string{s.addr}, 10*time.Second, zk.WithLogInfo(false))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			deadline := time.After(10 * time.Second)
		wait:
			for {
				select {
				case e := <-ev:
					if e.State == zk.StateHasSession {
						break wait
					}
				case <-deadline:
					break wait
				}
			}
			if _, _, err := c.Get("/"); err == nil || errors.Is(err, zk.ErrNoAuth) {
				t.Errorf("an unauthenticated get: %v, want a refusal (SessionClosedRequireSASLAuth or the connection closed)", err)
			}
		})
	}
}
