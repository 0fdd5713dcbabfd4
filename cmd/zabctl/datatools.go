package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/log"
	"zabd/tools/dataconv"
	"zabd/tools/logread"
)

func dataCommand() *cli.Command {
	return &cli.Command{
		Name:  "data",
		Usage: "rewrite a data dir: for another storage engine (convert)",
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
