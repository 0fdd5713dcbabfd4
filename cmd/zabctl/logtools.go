package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/snapshot"
	"zabd/tools/logread"
	"zabd/tools/logtool"
)

// exitCannotRead: the log tools could not read the data dir at all (it is
// missing, not a zabd data dir, a badger store beside its server, an I/O
// error). exitDamaged (1, as zkCli's failure code) is damage found.
const (
	exitDamaged    = 1
	exitCannotRead = 4
)

// now is the clock relative --from/--to times are read against; tests
// set it.
var now = time.Now

var dataDirFlags = []cli.Flag{
	&cli.StringFlag{Name: "log-dir", Usage: "zabd's dataLogDir, when not the data dir"},
	&cli.StringFlag{Name: "engine", Usage: "native, pebble or badger (default: what the dir's ENGINE file says)"},
}

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "read a data dir's txn log (any engine; no server needed; nothing written)",
		Subcommands: []*cli.Command{
			{
				Name:      "dump",
				Usage:     "print the log's txns, one line each (--json: one object per line)",
				UsageText: "zabctl log dump DATADIR [--json] [--from ZXID|TIME] [--to ZXID|TIME] [--path PREFIX] [--session ID] [--type create,delete,...] [--log-dir DIR] [--engine KIND]",
				Flags: append([]cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "one JSON object per txn (schema in the README)"},
					&cli.StringFlag{Name: "from", Usage: "first txn: zxid (0x100000003, decimal, or 1/3), RFC 3339 time, or relative time (-1h); included"},
					&cli.StringFlag{Name: "to", Usage: "last txn, as --from; included"},
					&cli.StringFlag{Name: "path", Usage: "only txns with a path (a multi: any sub-op's) starting with PREFIX"},
					&cli.StringFlag{Name: "session", Usage: "only txns of this session (0x hex or decimal)"},
					&cli.StringFlag{Name: "type", Usage: "only txns (or multis with a sub-op) of these types, comma-separated"},
				}, dataDirFlags...),
				Action: logDumpAction,
			},
			{
				Name:      "verify",
				Usage:     "check every checksum, zxid order and continuity, epochs, the purge marker and the snapshots against the log",
				UsageText: "zabctl log verify DATADIR [--allow-gaps] [--log-dir DIR] [--engine KIND]",
				Flags: append([]cli.Flag{
					&cli.BoolFlag{Name: "allow-gaps", Usage: "zxids missing inside an epoch are warnings (zabd skips those of writes refused for a full disk)"},
				}, dataDirFlags...),
				Action: logVerifyAction,
			},
		},
	}
}

func snapshotCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshot",
		Usage: "read snapshot files (nothing written)",
		Subcommands: []*cli.Command{{
			Name:      "dump",
			Usage:     "print a snapshot's header (start and end zxid), sessions and nodes (path, stat, data size)",
			UsageText: "zabctl snapshot dump FILE [--json]",
			Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "one JSON object per line: header, sessions, nodes"}},
			Action: func(c *cli.Context) error {
				args, err := positionals(c, 1, "FILE")
				if err != nil {
					return err
				}
				if _, err := logtool.DumpSnapshot(c.App.Writer, args[0], logtool.SnapshotDumpOptions{JSON: c.Bool("json")}); err != nil {
					code := exitCannotRead
					if errors.Is(err, snapshot.ErrCorrupt) {
						code = exitDamaged
					}
					return cli.Exit("snapshot dump: "+err.Error(), code)
				}
				return nil
			},
		}},
	}
}

// positionals parses flags given after the positional arguments
// (urfave/cli stops at the first one) and returns the n positionals.
func positionals(c *cli.Context, n int, names string) ([]string, error) {
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := findFlag(c.Command.Flags, name)
		if f == nil {
			return nil, cli.Exit(fmt.Sprintf("%s: unknown flag %s\nusage: %s", cmdName(c), a, c.Command.UsageText), exitUsage)
		}
		if _, isBool := f.(*cli.BoolFlag); isBool && !hasVal {
			val = "true"
		} else if !hasVal {
			if i+1 >= len(args) {
				return nil, cli.Exit(fmt.Sprintf("%s: flag %s needs a value", cmdName(c), a), exitUsage)
			}
			i++
			val = args[i]
		}
		if err := c.Set(name, val); err != nil {
			return nil, cli.Exit(fmt.Sprintf("%s: %s: %v", cmdName(c), a, err), exitUsage)
		}
	}
	if len(pos) != n {
		return nil, cli.Exit(fmt.Sprintf("%s takes %s (got %d arguments)\nusage: %s", cmdName(c), names, len(pos), c.Command.UsageText), exitUsage)
	}
	return pos, nil
}

// cmdName is the command's name as typed: "log dump".
func cmdName(c *cli.Context) string {
	return strings.TrimPrefix(c.Command.HelpName, c.App.Name+" ")
}

func findFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// openDataDir opens DATADIR read-only with the common flags.
func openDataDir(c *cli.Context, dir string) (*logread.DataDir, error) {
	d, err := logread.Open(dir, logread.Options{LogDir: c.String("log-dir"), Engine: c.String("engine")})
	if err != nil {
		return nil, cli.Exit(cmdName(c)+": "+err.Error(), exitCannotRead)
	}
	return d, nil
}

// liveNote is the one line the tools write (to stderr) on a live dir.
func liveNote(w io.Writer, d *logread.DataDir, last fmt.Stringer) {
	if d.Live.Held {
		fmt.Fprintf(w, "note: data dir %s is %s: read a consistent prefix of the log, up to zxid %v\n", d.Dir, d.Live, last)
	}
}

func logDumpAction(c *cli.Context) error {
	args, err := positionals(c, 1, "DATADIR")
	if err != nil {
		return err
	}
	var f logtool.Filter
	t := now()
	if f.From, err = logtool.ParseBound(c.String("from"), t); err != nil {
		return cli.Exit("log dump: --from "+err.Error(), exitUsage)
	}
	if f.To, err = logtool.ParseBound(c.String("to"), t); err != nil {
		return cli.Exit("log dump: --to "+err.Error(), exitUsage)
	}
	f.PathPrefix = c.String("path")
	if s := c.String("session"); s != "" {
		if f.Session, err = logtool.ParseSession(s); err != nil {
			return cli.Exit("log dump: --session "+err.Error(), exitUsage)
		}
		f.HasSession = true
	}
	if s := c.String("type"); s != "" {
		if f.Types, err = logtool.ParseTypes(s); err != nil {
			return cli.Exit("log dump: --type "+err.Error(), exitUsage)
		}
	}
	d, err := openDataDir(c, args[0])
	if err != nil {
		return err
	}
	res, err := logtool.Dump(c.App.Writer, d, logtool.DumpOptions{JSON: c.Bool("json"), Filter: f})
	liveNote(c.App.ErrWriter, d, res.Last)
	switch {
	case errors.Is(err, logread.ErrBadgerLive):
		return cli.Exit("log dump: "+err.Error(), exitCannotRead)
	case err != nil:
		return cli.Exit(fmt.Sprintf("log dump: stopped after zxid %v (%d txns read): %v\n(zabctl log verify %s says what is intact)", res.Last, res.Records, err, args[0]), exitDamaged)
	case res.Undecodable > 0:
		u := res.FirstUndecodable
		return cli.Exit(fmt.Sprintf("log dump: %d records do not decode as txns, the first zxid %v in %s (zabctl log verify %s)", res.Undecodable, u.Zxid, u.File, args[0]), exitDamaged)
	}
	return nil
}

func logVerifyAction(c *cli.Context) error {
	args, err := positionals(c, 1, "DATADIR")
	if err != nil {
		return err
	}
	d, err := openDataDir(c, args[0])
	if err != nil {
		return err
	}
	rep := logtool.Verify(d, logtool.VerifyOptions{AllowGaps: c.Bool("allow-gaps")})
	if err := rep.WriteText(c.App.Writer); err != nil {
		return cli.Exit(err.Error(), exitCannotRead)
	}
	switch {
	case rep.ReadErr != nil:
		return cli.Exit("", exitCannotRead)
	case !rep.Sound():
		return cli.Exit("", exitDamaged)
	}
	return nil
}
