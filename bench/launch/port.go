package launch

import (
	"fmt"
	stdnet "net"
)

// FreePort returns a TCP port on 127.0.0.1 that was free when asked. The
// kernel picks it (listen on port 0, then close), so two calls in a row do
// not return the same port in practice; the caller should bind it promptly.
func FreePort() (int, error) {
	l, err := stdnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("launch: pick free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*stdnet.TCPAddr).Port, nil
}
