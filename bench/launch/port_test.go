package launch

import (
	"fmt"
	stdnet "net"
	"testing"
)

func TestFreePortIsBindable(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if p <= 0 || p > 65535 {
			t.Fatalf("FreePort() = %d, want a TCP port", p)
		}
		l, err := stdnet.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			t.Fatalf("port %d from FreePort is not bindable: %v", p, err)
		}
		l.Close()
		seen[p] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 FreePort calls returned only %v", seen)
	}
}
