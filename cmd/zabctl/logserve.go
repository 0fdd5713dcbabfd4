package main

import (
	"fmt"
	"io"
	"log/slog"
	stdnet "net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/net"
	"zabd/tools/pastserver"
	"zabd/tree"
)

// exitListen: --serve could not bind its address.
const exitListen = 5

// servePast serves t read-only on addr until SIGINT or SIGTERM.
func servePast(c *cli.Context, t *tree.Tree, addr string) error {
	ln, err := stdnet.Listen("tcp", addr)
	if err != nil {
		return cli.Exit(fmt.Sprintf("log replay: --serve %s: %v", addr, err), exitListen)
	}
	proc := pastserver.New(t, time.Now)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("ZABCTL_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
	}
	srv := net.NewServer(net.Config{Logger: logger, Version: c.App.Version}, proc)
	proc.SetDeliverer(srv.Deliver)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(c.App.ErrWriter, "serving zxid %#x read-only on %s (Ctrl-C to stop)\n", t.LastZxid(), ln.Addr())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			srv.Close()
			return nil
		case err := <-served:
			srv.Close()
			return cli.Exit("log replay: serving: "+err.Error(), exitCannotRead)
		case <-tick.C:
			for _, sid := range proc.Expire() {
				srv.SessionExpired(net.SessionID(sid))
			}
		}
	}
}
