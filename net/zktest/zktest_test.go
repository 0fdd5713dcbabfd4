package zktest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
)

func TestModuleRoot(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "net", "zktest", "doc.go")); err != nil {
		t.Fatalf("ModuleRoot() = %s, which does not hold this package: %v", root, err)
	}
}

func TestApacheZKConnect(t *testing.T) {
	srv := StartApacheZK(t, launch.ZKOptions{})
	c := Connect(t, srv.Addr)
	if c.SessionID() == 0 {
		t.Fatalf("session id 0 after Connect")
	}
	got, err := c.Create("/zktest", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	if err != nil || got != "/zktest" {
		t.Fatalf("Create = %q, %v; want /zktest, nil", got, err)
	}
	data, _, err := c.Get("/zktest")
	if err != nil || string(data) != "x" {
		t.Fatalf("Get = %q, %v; want x, nil", data, err)
	}
}
