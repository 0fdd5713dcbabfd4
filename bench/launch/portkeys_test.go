package launch_test

import (
	"context"
	"fmt"
	"io"
	stdnet "net"
	"net/http"
	"strings"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// TestZabdPortKeysOnATakenPort: a zoo.cfg key named in PortKeys gets a
// free port of its own; when the first one picked is taken before zabd
// binds it, zabd exits, and the start is tried again with new ports. The
// port it got is in Process.Ports, and the AdminServer answers there.
func TestZabdPortKeysOnATakenPort(t *testing.T) {
	bin := zktest.BuildZabd(t)
	held, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	heldPort := held.Addr().(*stdnet.TCPAddr).Port
	picks := 0
	defer launch.SetPickPorts(func(n int) ([]int, error) {
		picks++
		ports, err := launch.FreePorts(n)
		if err == nil && picks == 1 {
			for i := range ports {
				ports[i] = heldPort // whichever the key gets, it is taken
			}
		}
		return ports, err
	})()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := launch.StartZabd(ctx, bin, launch.ZabdOptions{Dir: t.TempDir(), PortKeys: []string{"admin.serverPort"},
		ExtraCfg: map[string]string{"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1"}})
	if err != nil {
		t.Fatalf("StartZabd: %v", err)
	}
	defer p.Kill()
	port := p.Ports["admin.serverPort"]
	if picks < 2 || port == 0 || port == heldPort || port == p.Port {
		t.Fatalf("ports picked %d times; admin port %d (held %d, client %d); want a second pick giving a port of its own", picks, port, heldPort, p.Port)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/commands/ruok", port))
	if err != nil {
		t.Fatalf("the AdminServer at the port in Process.Ports: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ruok") {
		t.Errorf("GET /commands/ruok: %d %s", resp.StatusCode, body)
	}
}
