package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/log"
	"zabd/tools/dataconv"
	"zabd/tools/logread"
	"zabd/tools/zkmigrate"
)

func dataCommand() *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "rewrite a data dir: for another storage engine (convert), from or to Apache ZooKeeper's (import-zookeeper, export-zookeeper)",
		Subcommands: []*cli.Command{
			{
				Name:  "convert",
				Usage: "copy a data dir into a new one for another engine (same log records, zxids, snapshots, epochs), then verify the copy",
				UsageText: "zabctl data convert --from DIR --to NEWDIR --engine native|pebble|badger [--from-log-dir DIR] [--quiet]\n\n" +
					"   # stop the server, convert, start it on the copy with the new engine:\n" +
					"   zabctl data convert --from /var/lib/zabd --to /var/lib/zabd-pebble --engine pebble\n" +
					"   zabd --config zoo.cfg --data-dir /var/lib/zabd-pebble --engine pebble",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "from", Usage: "the data dir to copy (any engine; only read)"},
					&cli.StringFlag{Name: "from-log-dir", Usage: "its dataLogDir, when not the data dir"},
					&cli.StringFlag{Name: "to", Usage: "the new data dir (missing or empty); its log sits in it"},
					&cli.StringFlag{Name: "engine", Usage: "the new data dir's engine: native, pebble or badger"},
					&cli.BoolFlag{Name: "quiet", Usage: "no progress on a terminal"},
				},
				Action: dataConvertAction,
			},
			{
				Name:  "import-zookeeper",
				Usage: "a new zabd data dir from an Apache ZooKeeper 3.5-3.9 data dir: the same tree, stats, sessions and zxids",
				UsageText: "zabctl data import-zookeeper ZKDATADIR NEWDIR [--zk-log-dir DIR] [--engine native|pebble|badger]\n\n" +
					"   # ZooKeeper stopped; its zoo.cfg says dataDir=/var/lib/zookeeper:\n" +
					"   zabctl data import-zookeeper /var/lib/zookeeper /var/lib/zabd\n" +
					"   zabd --config zoo.cfg --data-dir /var/lib/zabd",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "zk-log-dir", Usage: "ZooKeeper's dataLogDir, when not its dataDir"},
					&cli.StringFlag{Name: "engine", Value: "native", Usage: "the new data dir's engine: native, pebble or badger"},
				},
				Action: dataImportAction,
			},
			{
				Name:  "export-zookeeper",
				Usage: "a new Apache ZooKeeper data dir holding a snapshot of a zabd data dir's state (ZooKeeper 3.8 starts from it)",
				UsageText: "zabctl data export-zookeeper DATADIR NEWZKDATADIR [--log-dir DIR] [--engine KIND]\n\n" +
					"   zabctl data export-zookeeper /var/lib/zabd /var/lib/zookeeper   # then start ZooKeeper with dataDir=/var/lib/zookeeper",
				Flags:  dataDirFlags,
				Action: dataExportAction,
			},
		},
	}
}

func dataConvertAction(c *cli.Context) error {
	if _, err := positionals(c, 0, ""); err != nil {
		return err
	}
	from, to, kind := c.String("from"), c.String("to"), c.String("engine")
	if from == "" || to == "" || kind == "" {
		return cli.Exit("data convert: --from, --to and --engine are needed\nusage: "+c.Command.UsageText, exitUsage)
	}
	known := false
	for _, k := range logread.Kinds {
		known = known || k == kind
	}
	if !known {
		return cli.Exit(fmt.Sprintf("data convert: --engine %q: want native, pebble or badger", kind), exitUsage)
	}
	src, err := logread.Open(from, logread.Options{LogDir: c.String("from-log-dir")})
	if err != nil {
		return cli.Exit("data convert: "+err.Error(), exitCannotRead)
	}
	o := dataconv.Options{Kind: kind}
	if !c.Bool("quiet") && benchIsTerminal(c.App.ErrWriter) {
		began, shown := time.Now(), time.Now()
		o.Progress = func(n int, last log.Zxid) {
			if now := time.Now(); now.Sub(shown) >= time.Second {
				shown = now
				fmt.Fprintf(c.App.ErrWriter, "\rcopied %d txns, up to %v (%.0f txns/s)   ", n, last, float64(n)/now.Sub(began).Seconds())
			}
		}
	}
	res, err := dataconv.Convert(src, to, o)
	if o.Progress != nil {
		fmt.Fprint(c.App.ErrWriter, "\r\033[K")
	}
	liveNote(c.App.ErrWriter, src, res.Last)
	switch {
	case errors.Is(err, dataconv.ErrNotEmpty):
		return cli.Exit("data convert: "+err.Error(), exitUsage)
	case errors.Is(err, logread.ErrBadgerLive):
		return cli.Exit("data convert: "+err.Error(), exitCannotRead)
	case err != nil:
		return cli.Exit(fmt.Sprintf("data convert: %v\n(%s is incomplete: remove it before trying again)", err, to), exitDamaged)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "converted %s (%s) to %s (%s): %d txns %v..%v, %d snapshots, markers %v in %v\n",
		from, src.Engine, to, kind, res.Records, res.First, res.Last, len(res.Snapshots), res.Markers, res.Copy.Round(time.Millisecond))
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "snapshot not copied: %s\n", s)
	}
	fmt.Fprintf(w, "verified in %v: the same records (count, zxids, xxhash64 of every record) and the same tree at %v (%d znodes, %d sessions)\n",
		res.Verify.Round(time.Millisecond), res.Last, res.Znodes, res.Sessions)
	fmt.Fprintf(w, "start it with: zabd --data-dir %s --engine %s\n", to, kind)
	return nil
}

func dataImportAction(c *cli.Context) error {
	args, err := positionals(c, 2, "ZKDATADIR NEWDIR")
	if err != nil {
		return err
	}
	kind := c.String("engine")
	if kind != "native" && kind != "pebble" && kind != "badger" {
		return cli.Exit(fmt.Sprintf("data import-zookeeper: --engine %q: want native, pebble or badger", kind), exitUsage)
	}
	res, err := zkmigrate.Import(args[0], c.String("zk-log-dir"), args[1], kind)
	switch {
	case errors.Is(err, zkmigrate.ErrNotEmpty):
		return cli.Exit("data import-zookeeper: "+err.Error(), exitUsage)
	case errors.Is(err, zkmigrate.ErrNoData), errors.Is(err, os.ErrNotExist):
		return cli.Exit("data import-zookeeper: "+err.Error(), exitCannotRead)
	case err != nil:
		return cli.Exit(fmt.Sprintf("data import-zookeeper: %v\n(%s is incomplete: remove it before trying again)", err, args[1]), exitDamaged)
	}
	w := c.App.Writer
	from := "no snapshot"
	if res.Snapshot != "" {
		from = fmt.Sprintf("snapshot %s (zxid %v)", res.Snapshot, res.SnapshotZxid)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "snapshot skipped: %s\n", s)
	}
	if res.Torn != "" {
		fmt.Fprintf(w, "note: the last txn log ends in a torn record (%s), dropped as ZooKeeper drops it\n", res.Torn)
	}
	fmt.Fprintf(w, "imported %s into %s (%s): %s and %d txns from %d logs; last zxid %v; %d znodes, %d sessions; verified in %v\n",
		args[0], args[1], kind, from, res.Txns, len(res.Logs), res.Last, res.Znodes, res.Sessions, res.Took.Round(time.Millisecond))
	fmt.Fprintf(w, "start it with: zabd --data-dir %s --engine %s\n", args[1], kind)
	return nil
}

func dataExportAction(c *cli.Context) error {
	args, err := positionals(c, 2, "DATADIR NEWZKDATADIR")
	if err != nil {
		return err
	}
	src, err := openDataDir(c, args[0])
	if err != nil {
		return err
	}
	clear := showReadProgress(c, src, "export", false)
	res, err := zkmigrate.Export(src, args[1])
	clear()
	liveNote(c.App.ErrWriter, src, res.Zxid)
	switch {
	case errors.Is(err, zkmigrate.ErrNotEmpty):
		return cli.Exit("data export-zookeeper: "+err.Error(), exitUsage)
	case errors.Is(err, logread.ErrBadgerLive):
		return cli.Exit("data export-zookeeper: "+err.Error(), exitCannotRead)
	case err != nil:
		return cli.Exit(fmt.Sprintf("data export-zookeeper: %v", err), exitDamaged)
	}
	fmt.Fprintf(c.App.Writer, "exported %s at zxid %v to %s: %d znodes, %d sessions, read back in %v\nstart Apache ZooKeeper with dataDir=%s\n",
		args[0], res.Zxid, res.Snapshot, res.Znodes, res.Sessions, res.Took.Round(time.Millisecond), args[1])
	return nil
}
