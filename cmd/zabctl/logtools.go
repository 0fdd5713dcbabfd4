package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/engine"
	"zabd/snapshot"
	"zabd/tools/logread"
	"zabd/tools/logtool"
	"zabd/tree"
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
	quietFlag,
}

func logCommand() *cli.Command {
	return &cli.Command{
		Name:  "log",
		Usage: "read a data dir's txn log (any engine; no server needed; nothing written)",
		Subcommands: []*cli.Command{
			{
				Name:  "dump",
				Usage: "print the log's txns, one line each (--json: one object per line)",
				UsageText: "zabctl log dump DATADIR [--json] [--from ZXID|TIME] [--to ZXID|TIME] [--path PREFIX] [--session ID] [--type create,delete,...] [--log-dir DIR] [--engine KIND]\n\n" +
					"   zabctl log dump /var/lib/zabd --from -1h --path /config/\n" +
					"   zabctl log dump /var/lib/zabd --json --session 0x1000a2b3c0002 --type setData,delete | jq .path",
				Flags: append(append([]cli.Flag{
					&cli.BoolFlag{Name: "json", Usage: "one JSON object per txn (schema in the README)"},
				}, filterFlags...), dataDirFlags...),
				Action: logDumpAction,
			},
			{
				Name:  "audit",
				Usage: "who changed what, when: per change the session, its client address and identities, the operation, the znode and the result",
				UsageText: "zabctl log audit DATADIR [--format text|json|zookeeper] [--summary [--depth N]] [--from X] [--to X] [--path PREFIX] [--session ID] [--type ...]\n\n" +
					"   zabctl log audit /var/lib/zabd --from -1h --path /config/\n" +
					"   zabctl log audit /var/lib/zabd --format zookeeper >> zookeeper_audit.log   # Apache ZooKeeper's audit log lines\n" +
					"   zabctl log audit /var/lib/zabd --summary --depth 2",
				Flags: append(append([]cli.Flag{
					&cli.StringFlag{Name: "format", Value: "text", Usage: "text; json (one object per line); zookeeper (Apache ZooKeeper's audit log lines, its operations only)"},
					&cli.BoolFlag{Name: "summary", Usage: "instead of events: counts per session and per path prefix"},
					&cli.IntFlag{Name: "depth", Value: 1, Usage: "with --summary: path components a prefix keeps"},
				}, filterFlags...), dataDirFlags...),
				Action: logAuditAction,
			},
			{
				Name:  "replay",
				Usage: "rebuild the tree as it was after a zxid or at a time: print it, write it as a snapshot, or serve it read-only to ZooKeeper clients",
				UsageText: "zabctl log replay DATADIR [--to ZXID|TIME] (--print [--json] | --snapshot FILE | --serve HOST:PORT) [--log-dir DIR] [--engine KIND]\n\n" +
					"   zabctl log replay /var/lib/zabd --to 0x500000123 --print\n" +
					"   zabctl log replay /var/lib/zabd --to 2026-12-01T09:30:00Z --snapshot /tmp/before.snap\n" +
					"   zabctl log replay /var/lib/zabd --to -1h --serve 127.0.0.1:2182   # then: zkCli.sh -server 127.0.0.1:2182",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "to", Usage: "the last txn applied: zxid (0x100000003, decimal, or 1/3), RFC 3339 time or relative time (-1h): the last txn stamped at or before it; default: the end of the log"},
					&cli.BoolFlag{Name: "print", Usage: "print every znode, parent before children, with its data and stat"},
					&cli.BoolFlag{Name: "json", Usage: "with --print: one JSON object per znode (the snapshot dump's fields and data, base64)"},
					&cli.IntFlag{Name: "data-limit", Value: 256, Usage: "with --print: bytes of data shown per znode as text"},
					&cli.StringFlag{Name: "snapshot", Usage: "write the state as a zabd snapshot FILE, or into a directory under zabd's name for it (snapshot.<zxid>): a new data dir's snapshot/ then starts from it (a consistent copy of a live dir, or another engine)"},
					&cli.StringFlag{Name: "serve", Usage: "serve the state read-only on HOST:PORT to ZooKeeper clients until interrupted (writes are answered NotReadOnly)"},
				}, dataDirFlags...),
				Action: logReplayAction,
			},
			{
				Name:  "diff",
				Usage: "the znodes created, deleted and changed (data, ACL, children) between two points of the log",
				UsageText: "zabctl log diff DATADIR --from ZXID|TIME [--to ZXID|TIME] [--json] [--log-dir DIR] [--engine KIND]\n\n" +
					"   zabctl log diff /var/lib/zabd --from -2h --to -1h\n" +
					"   zabctl log diff /var/lib/zabd --from 0x500000100 --json",
				Flags: append([]cli.Flag{
					&cli.StringFlag{Name: "from", Usage: "the earlier state: after this zxid, or the last txn at or before this time (as log replay --to)"},
					&cli.StringFlag{Name: "to", Usage: "the later state, as --from; default: the end of the log"},
					&cli.BoolFlag{Name: "json", Usage: "one JSON object per znode: change, path, what changed, before and after stats"},
				}, dataDirFlags...),
				Action: logDiffAction,
			},
			{
				Name:  "verify",
				Usage: "check every checksum, zxid order and continuity, epochs, the purge marker and the snapshots against the log",
				UsageText: "zabctl log verify DATADIR [--allow-gaps] [--log-dir DIR] [--engine KIND]\n\n" +
					"   zabctl log verify /var/lib/zabd && echo intact",
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
			Name:  "dump",
			Usage: "print a snapshot's header (start and end zxid), sessions and nodes (path, stat, data size)",
			UsageText: "zabctl snapshot dump FILE [--json]\n\n" +
				"   zabctl snapshot dump /var/lib/zabd/snapshot/snapshot.0000000500000123 | less",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "one JSON object per line: header, sessions, nodes"}},
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
	f, err := filterFromFlags(c, "log dump")
	if err != nil {
		return err
	}
	d, err := openDataDir(c, args[0])
	if err != nil {
		return err
	}
	clear := showReadProgress(c, d, "log dump", true)
	res, err := logtool.Dump(c.App.Writer, d, logtool.DumpOptions{JSON: c.Bool("json"), Filter: f})
	clear()
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

// filterFlags select txns, for dump and audit.
var filterFlags = []cli.Flag{
	&cli.StringFlag{Name: "from", Usage: "first txn: zxid (0x100000003, decimal, or 1/3), RFC 3339 time, or relative time (-1h); included"},
	&cli.StringFlag{Name: "to", Usage: "last txn, as --from; included"},
	&cli.StringFlag{Name: "path", Usage: "only txns with a path (a multi: any sub-op's) starting with PREFIX"},
	&cli.StringFlag{Name: "session", Usage: "only txns of this session (0x hex or decimal)"},
	&cli.StringFlag{Name: "type", Usage: "only txns (or multis with a sub-op) of these types, comma-separated"},
}

// filterFromFlags reads filterFlags; what names the command in errors.
func filterFromFlags(c *cli.Context, what string) (logtool.Filter, error) {
	var f logtool.Filter
	var err error
	t := now()
	if f.From, err = logtool.ParseBound(c.String("from"), t); err != nil {
		return f, cli.Exit(what+": --from "+err.Error(), exitUsage)
	}
	if f.To, err = logtool.ParseBound(c.String("to"), t); err != nil {
		return f, cli.Exit(what+": --to "+err.Error(), exitUsage)
	}
	f.PathPrefix = c.String("path")
	if s := c.String("session"); s != "" {
		if f.Session, err = logtool.ParseSession(s); err != nil {
			return f, cli.Exit(what+": --session "+err.Error(), exitUsage)
		}
		f.HasSession = true
	}
	if s := c.String("type"); s != "" {
		if f.Types, err = logtool.ParseTypes(s); err != nil {
			return f, cli.Exit(what+": --type "+err.Error(), exitUsage)
		}
	}
	return f, nil
}

func logAuditAction(c *cli.Context) error {
	args, err := positionals(c, 1, "DATADIR")
	if err != nil {
		return err
	}
	f, err := filterFromFlags(c, "log audit")
	if err != nil {
		return err
	}
	var format logtool.AuditFormat
	switch c.String("format") {
	case "text":
		format = logtool.AuditText
	case "json":
		format = logtool.AuditJSON
	case "zookeeper":
		format = logtool.AuditZooKeeper
	default:
		return cli.Exit(fmt.Sprintf("log audit: --format %q: want text, json or zookeeper", c.String("format")), exitUsage)
	}
	if c.Bool("summary") && format == logtool.AuditZooKeeper {
		return cli.Exit("log audit: --summary prints text, or JSON with --format json", exitUsage)
	}
	d, err := openDataDir(c, args[0])
	if err != nil {
		return err
	}
	server := dirOwner(args[0])
	var emit func(*logtool.AuditEvent) error
	var flush func() error
	if c.Bool("summary") {
		sum := logtool.NewAuditSummary(c.Int("depth"), server)
		emit = func(e *logtool.AuditEvent) error { sum.Add(e); return nil }
		flush = func() error { return sum.Write(c.App.Writer, format == logtool.AuditJSON) }
	} else {
		w := logtool.NewAuditWriter(c.App.Writer, format, server)
		emit, flush = w.Write, w.Flush
	}
	clear := showReadProgress(c, d, "log audit", !c.Bool("summary"))
	res, err := logtool.Audit(d, logtool.AuditOptions{Filter: f}, emit)
	clear()
	if ferr := flush(); err == nil {
		err = ferr
	}
	liveNote(c.App.ErrWriter, d, res.Last)
	if res.Unknown > 0 {
		fmt.Fprintf(c.App.ErrWriter, "%d sessions acted whose createSession the log does not hold (purged, or logged by a zabd before 2026-12): their client and user are unknown\n", res.Unknown)
	}
	switch {
	case errors.Is(err, logread.ErrBadgerLive):
		return cli.Exit("log audit: "+err.Error(), exitCannotRead)
	case err != nil:
		return cli.Exit(fmt.Sprintf("log audit: stopped after zxid %v (%d txns read): %v\n(zabctl log verify %s says what is intact)", res.Last, res.Records, err, args[0]), exitDamaged)
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
	clear := showReadProgress(c, d, "log verify", false)
	rep := logtool.Verify(d, logtool.VerifyOptions{AllowGaps: c.Bool("allow-gaps")})
	clear()
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

func logReplayAction(c *cli.Context) error {
	args, err := positionals(c, 1, "DATADIR")
	if err != nil {
		return err
	}
	outputs := 0
	for _, f := range []string{"print", "snapshot", "serve"} {
		if c.IsSet(f) {
			outputs++
		}
	}
	if outputs != 1 {
		return cli.Exit("log replay: say what to do with the state: one of --print, --snapshot FILE, --serve HOST:PORT\nusage: "+c.Command.UsageText, exitUsage)
	}
	to, err := logtool.ParseBound(c.String("to"), now())
	if err != nil {
		return cli.Exit("log replay: --to "+err.Error(), exitUsage)
	}
	d, err := openDataDir(c, args[0])
	if err != nil {
		return err
	}
	began := time.Now()
	clear := showReadProgress(c, d, "log replay", false)
	t, res, err := logtool.Replay(d, logtool.ReplayOptions{To: to, Skipped: func(s logread.Snapshot, err error) {
		fmt.Fprintf(c.App.ErrWriter, "note: snapshot %s does not read back whole, an older one is used: %v\n", s.Path, err)
	}})
	clear()
	liveNote(c.App.ErrWriter, d, res.LogLast)
	switch {
	case errors.Is(err, logread.ErrBadgerLive):
		return cli.Exit("log replay: "+err.Error(), exitCannotRead)
	case errors.Is(err, logtool.ErrBeforeHistory), errors.Is(err, logtool.ErrPastEnd):
		return cli.Exit("log replay: "+err.Error(), exitUsage)
	case err != nil:
		return cli.Exit(fmt.Sprintf("log replay: %v\n(zabctl log verify %s says what is intact)", err, args[0]), exitDamaged)
	}
	from := "the log from its beginning"
	if res.Snapshot != "" {
		from = fmt.Sprintf("snapshot %s (walk %v..%v)", res.Snapshot, res.StartZxid, res.EndZxid)
	}
	at := ""
	if !res.Time.IsZero() {
		at = " stamped " + logtool.FormatTime(res.Time.UnixMilli())
	}
	rest := fmt.Sprintf("the log's last txn is %v", res.LogLast)
	if res.More {
		rest = "the log goes on after it"
	}
	fmt.Fprintf(c.App.ErrWriter, "state after zxid %s%s: %d znodes, %d sessions; from %s and %d txns of the log (%s); built in %v\n",
		logtool.FormatZxid(res.Zxid), at, t.NodeCount(), len(t.Sessions()), from, res.Replayed, rest, time.Since(began).Round(time.Millisecond))
	switch {
	case c.Bool("print"):
		return logtool.PrintTree(c.App.Writer, t, logtool.PrintOptions{JSON: c.Bool("json"), DataLimit: c.Int("data-limit")})
	case c.IsSet("snapshot"):
		path := c.String("snapshot")
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			// A directory (a new data dir's snapshot/): the file gets
			// the name zabd gives its own snapshots, so zabd restores it.
			path = filepath.Join(path, engine.SnapshotName(res.Zxid))
		}
		m, err := logtool.WriteSnapshot(path, t)
		if err != nil {
			return cli.Exit("log replay: "+err.Error(), exitCannotRead)
		}
		fmt.Fprintf(c.App.ErrWriter, "wrote %s: %d bytes, %d znodes\n", path, m.Bytes, m.Nodes)
		return nil
	default:
		return servePast(c, t, c.String("serve"))
	}
}

func logDiffAction(c *cli.Context) error {
	args, err := positionals(c, 1, "DATADIR")
	if err != nil {
		return err
	}
	if c.String("from") == "" {
		return cli.Exit("log diff: --from is needed (the earlier state)\nusage: "+c.Command.UsageText, exitUsage)
	}
	t0 := now()
	from, err := logtool.ParseBound(c.String("from"), t0)
	if err != nil {
		return cli.Exit("log diff: --from "+err.Error(), exitUsage)
	}
	to, err := logtool.ParseBound(c.String("to"), t0)
	if err != nil {
		return cli.Exit("log diff: --to "+err.Error(), exitUsage)
	}
	d, err := openDataDir(c, args[0])
	if err != nil {
		return err
	}
	var trees [2]*tree.Tree
	var results [2]logtool.ReplayResult
	clear := showReadProgress(c, d, "log diff", false)
	defer clear() // on an error return too
	for i, b := range []logtool.Bound{from, to} {
		trees[i], results[i], err = logtool.Replay(d, logtool.ReplayOptions{To: b})
		switch {
		case errors.Is(err, logread.ErrBadgerLive):
			return cli.Exit("log diff: "+err.Error(), exitCannotRead)
		case errors.Is(err, logtool.ErrBeforeHistory), errors.Is(err, logtool.ErrPastEnd):
			return cli.Exit("log diff: "+err.Error(), exitUsage)
		case err != nil:
			return cli.Exit(fmt.Sprintf("log diff: %v\n(zabctl log verify %s says what is intact)", err, args[0]), exitDamaged)
		}
	}
	clear()
	liveNote(c.App.ErrWriter, d, results[1].LogLast)
	if results[1].Zxid < results[0].Zxid {
		return cli.Exit(fmt.Sprintf("log diff: --to (%v) is before --from (%v)", results[1].Zxid, results[0].Zxid), exitUsage)
	}
	changes := logtool.Diff(trees[0], trees[1])
	fmt.Fprintf(c.App.ErrWriter, "from the state after %s to the state after %s: %d znodes differ\n",
		logtool.FormatZxid(results[0].Zxid), logtool.FormatZxid(results[1].Zxid), len(changes))
	return logtool.WriteDiff(c.App.Writer, changes, c.Bool("json"))
}
