package launch

import (
	"fmt"
	stdnet "net"
	"strings"
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

// portTries is how many ports onFreePort tries.
const portTries = 3

// onFreePort runs start, which starts a server on port, or on one FreePort
// picks when port is 0. A picked port can be taken by another process
// between the pick and the server's bind (on a busy machine, another test
// binary picking at the same time): then start is run again, picking
// another, up to portTries times. A port the caller named is tried once.
func onFreePort(port int, start func() (*Process, error)) (*Process, error) {
	for try := 1; ; try++ {
		p, err := start()
		if err == nil || port != 0 || try == portTries || !portTaken(err) {
			return p, err
		}
	}
}

// portTaken says whether a server failed to start because its port was in
// use (the JVM's BindException and Go's bind error both say so).
func portTaken(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), "address already in use")
}
