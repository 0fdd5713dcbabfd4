package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/cmd/internal/buildinfo"

	"zabd/tools/zkcli"
)

// Exit codes; see doc.go.
const (
	exitZK      = 1
	exitUsage   = 2
	exitConnect = 3
)

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code instead of
// exiting, so tests drive it in-process.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := newApp(stdin, stdout, stderr)
	err := app.Run(args)
	if err == nil {
		return 0
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, err)
	return exitUsage
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *cli.App {
	info := buildinfo.Read()
	zkcli.Version = info.Line("zabctl")
	cli.VersionPrinter = func(cc *cli.Context) { fmt.Fprintln(cc.App.Writer, info.Line("zabctl")) }
	app := &cli.App{
		Name:      "zabctl",
		Version:   info.ServerVersion(),
		Usage:     "ZooKeeper-protocol client (zkCli.sh commands) for zabd and Apache ZooKeeper",
		UsageText: "zabctl [-server host:port[,host:port...]] [-timeout ms] [command [args...]]\n   (no command: interactive shell reading commands from stdin)",
		Reader:    stdin,
		Writer:    stdout,
		ErrWriter: stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Value: "127.0.0.1:2181", Usage: "connect string host:port[,host:port...]"},
			&cli.StringFlag{Name: "timeout", Value: "30000", Usage: "session timeout: milliseconds (as zkCli) or a Go duration such as 10s"},
			&cli.StringFlag{Name: "connect-timeout", Usage: "how long to wait for a session (default: the session timeout)"},
			&cli.StringSliceFlag{Name: "auth", Usage: "scheme:credential added to the session before the command runs (addauth), e.g. digest:user:password; repeatable"},
		},
		// Words that name no subcommand reach Action: zkcli reports
		// "Command not found" for them exactly as zkCli does.
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return shellAction(c)
			}
			return oneShot(c, c.Args().Slice())
		},
		ExitErrHandler:  func(*cli.Context, error) {}, // run prints and maps
		HideHelpCommand: true,
	}
	app.Commands = append(app.Commands, benchCommand(), logCommand(), snapshotCommand(), dataCommand(), adminCommand(), &cli.Command{
		Name:      "shell",
		Usage:     "interactive zkCli shell: one command per line from stdin",
		UsageText: "zabctl [-server ...] shell",
		Action:    shellAction,
	})
	for _, zc := range zkcli.Commands() {
		name, usage := zc.Name, "zabctl [-server ...] "+zc.UsageLine()
		app.Commands = append(app.Commands, &cli.Command{
			Name:            name,
			Usage:           zc.UsageLine(),
			UsageText:       usage,
			SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				args := c.Args().Slice()
				if len(args) == 1 && (args[0] == "--help" || args[0] == "-help" || args[0] == "-h") {
					fmt.Fprintf(c.App.Writer, "usage:   %s\nexample: %s\n", usage, commandExamples[name])
					return nil
				}
				if name == "addauth" {
					return cli.Exit("addauth in one-shot mode would end with this command's session: give --auth scheme:credential to the command that needs it, or use the shell", exitUsage)
				}
				return oneShot(c, append([]string{name}, args...))
			},
		})
	}
	return app
}

// commandExamples is one example per zkCli command, for CMD --help.
var commandExamples = map[string]string{
	"addWatch":             "zabctl addWatch -m PERSISTENT_RECURSIVE /app",
	"addauth":              "zabctl --auth digest:alice:secret get /private   (addauth lasts one session: use --auth)",
	"create":               "zabctl create -e -s /app/lock- \"\"",
	"delete":               "zabctl delete -v 3 /app/config",
	"deleteall":            "zabctl deleteall /app/tmp",
	"get":                  "zabctl get -s /app/config",
	"getAcl":               "zabctl getAcl /app",
	"getAllChildrenNumber": "zabctl getAllChildrenNumber /app",
	"getEphemerals":        "zabctl getEphemerals /app",
	"ls":                   "zabctl ls -R /app",
	"removewatches":        "zabctl removewatches /app -a",
	"set":                  "zabctl set -v 2 /app/config new-value",
	"setAcl":               "zabctl setAcl /app digest:alice:HASH=:cdrwa",
	"stat":                 "zabctl stat /app",
	"sync":                 "zabctl sync /app",
	"version":              "zabctl version",
	"whoami":               "zabctl --auth digest:alice:secret whoami",
}

// options turns the global flags into zkcli.Options.
func options(c *cli.Context) (zkcli.Options, error) {
	o := zkcli.Options{
		Server:   c.String("server"),
		Auth:     c.StringSlice("auth"),
		Out:      c.App.Writer,
		Err:      c.App.ErrWriter,
		Location: time.Local,
	}
	var err error
	if o.SessionTimeout, err = parseTimeout(c.String("timeout")); err != nil {
		return o, cli.Exit(fmt.Sprintf("bad -timeout %q: %v", c.String("timeout"), err), exitUsage)
	}
	if s := c.String("connect-timeout"); s != "" {
		if o.ConnectTimeout, err = parseTimeout(s); err != nil {
			return o, cli.Exit(fmt.Sprintf("bad -connect-timeout %q: %v", s, err), exitUsage)
		}
	}
	return o, nil
}

// parseTimeout reads zkCli's milliseconds, or a Go duration.
func parseTimeout(s string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms <= 0 {
			return 0, errors.New("must be positive")
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(s)
	if err == nil && d <= 0 {
		err = errors.New("must be positive")
	}
	return d, err
}

func oneShot(c *cli.Context, words []string) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	return exitErr(zkcli.RunOnce(o, words))
}

func shellAction(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	return exitErr(zkcli.Shell(o, c.App.Reader, stdinIsTerminal(c.App.Reader)))
}

// exitErr maps a zkcli failure to its exit code. The shell has printed
// its commands' messages already; a one-shot's message is printed by run.
func exitErr(err error) error {
	if err == nil {
		return nil
	}
	code := exitZK
	var ze *zkcli.Error
	if errors.As(err, &ze) {
		switch ze.Kind {
		case zkcli.KindUsage:
			code = exitUsage
		case zkcli.KindConn:
			code = exitConnect
		}
	}
	return cli.Exit(err.Error(), code)
}

func stdinIsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
