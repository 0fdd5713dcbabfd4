package launch

import (
	"context"
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

// portTries is how many sets of ports onFreePort tries.
const portTries = 3

// onFreePort runs start, which starts a server (or an ensemble) on ports
// it picks, or on ports the caller named when named is set. A picked port
// can be taken by another process between the pick and the server's bind
// (on a busy machine, another test binary picking at the same time): then
// start is run again, picking others, up to portTries times while ctx
// lasts. Named ports are tried once.
func onFreePort[T any](ctx context.Context, named bool, start func() (T, error)) (T, error) {
	for try := 1; ; try++ {
		v, err := start()
		if err == nil || named || try == portTries || !portTaken(err) || ctx.Err() != nil {
			return v, err
		}
	}
}

// portTakenWords is what a server says when its port is in use: the JVM's
// BindException and Go's bind error both, in some case.
const portTakenWords = "address already in use"

// portTaken says whether a server failed to start because its port was in
// use.
func portTaken(err error) bool {
	return strings.Contains(strings.ToLower(err.Error()), portTakenWords)
}
