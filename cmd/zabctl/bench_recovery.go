package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/bench"
)

// recoveryFlags are the data-set and timing flags shared by `bench
// recovery` and `bench suite` (there under a "recovery-" prefix).
func recoveryFlags(prefix string, znodes int) []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: prefix + "znodes", Value: znodes, Usage: "recovery: leaf znodes in the data set"},
		&cli.IntFlag{Name: prefix + "value-size", Value: 100, Usage: "recovery: bytes per znode"},
		&cli.IntFlag{Name: prefix + "ops-per-txn", Value: 1000, Usage: "recovery: creates per multi while loading (1: plain creates, one txn each)"},
		&cli.IntFlag{Name: prefix + "load-sessions", Value: 8, Usage: "recovery: loading sessions in parallel"},
		&cli.IntFlag{Name: prefix + "load-inflight", Value: 2, Usage: "recovery: requests outstanding per loading session"},
		&cli.StringFlag{Name: prefix + "zk-heap", Value: "4g", Usage: "recovery: Apache ZooKeeper's -Xmx (a million znodes need more than 512m)"},
		&cli.DurationFlag{Name: prefix + "load-timeout", Value: 30 * time.Minute, Usage: "recovery: bound on building the data set on one server"},
		&cli.DurationFlag{Name: prefix + "ready-timeout", Value: 10 * time.Minute, Usage: "recovery: bound on one restart (exec to first read)"},
		&cli.DurationFlag{Name: prefix + "poll", Value: 10 * time.Millisecond, Usage: "recovery: pause between first-read attempts"},
	}
}

func recoveryConfig(c *cli.Context, prefix string, restarts int) bench.RecoveryConfig {
	return bench.RecoveryConfig{
		Znodes:       c.Int(prefix + "znodes"),
		ValueBytes:   c.Int(prefix + "value-size"),
		OpsPerTxn:    c.Int(prefix + "ops-per-txn"),
		Sessions:     c.Int(prefix + "load-sessions"),
		InFlight:     c.Int(prefix + "load-inflight"),
		Restarts:     restarts,
		LoadTimeout:  c.Duration(prefix + "load-timeout"),
		ReadyTimeout: c.Duration(prefix + "ready-timeout"),
		PollInterval: c.Duration(prefix + "poll"),
		Log:          c.App.ErrWriter,
	}
}

// recoveryTargets lists Apache ZooKeeper (first: the baseline) and one
// zabd per engine.
func recoveryTargets(work, zabdBin string, engines []string, zookeeper bool, heap string) []bench.RecoveryTarget {
	var ts []bench.RecoveryTarget
	if zookeeper {
		ts = append(ts, bench.ZooKeeperRecoveryTarget(work, heap))
	}
	if zabdBin != "" {
		for _, e := range engines {
			ts = append(ts, bench.ZabdRecoveryTarget(work, zabdBin, e))
		}
	}
	return ts
}

func benchRecoveryCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "zabd", Usage: "zabd binary to measure (none: Apache ZooKeeper only)"},
		&cli.StringFlag{Name: "engines", Value: "native", Usage: "comma-separated zabd storage engines, one target each"},
		&cli.BoolFlag{Name: "no-zookeeper", Usage: "leave Apache ZooKeeper out"},
		&cli.IntFlag{Name: "restarts", Value: 3, Usage: "timed restarts per target; the median is reported"},
		&cli.StringFlag{Name: "work-dir", Usage: "where the servers keep their data (default: a temp dir, removed)"},
		&cli.BoolFlag{Name: "keep", Usage: "keep each server's data dir, config and log under --work-dir"},
		&cli.StringFlag{Name: "out", Usage: "also write <out>/<date>-recovery.md and .json"},
		&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON line (last line of stdout)"},
	}
	return &cli.Command{
		Name:  "recovery",
		Usage: "time server restart to the first read served, on the same data set, for zabd and Apache ZooKeeper",
		UsageText: "zabctl bench recovery --zabd bin/zabd [--engines native,pebble,badger] [--znodes 1000000] [--restarts 3]\n" +
			"   [--ops-per-txn 1000] [--no-zookeeper] [--out bench/results] [--json]\n\n" +
			"   zabctl bench recovery --zabd bin/zabd --engines native,pebble --znodes 200000 --restarts 5",
		Description: "Each server starts on an empty data dir (forceSync on) and gets the same znodes through the client\n" +
			"protocol (creates batched in multis over parallel sessions); it is stopped, then restarted --restarts times\n" +
			"(servers taking turns), each restart timed from the exec to the first getData answered with the right data.\n" +
			"Apache ZooKeeper comes first and is the baseline of the ratios.",
		Flags:  append(flags, recoveryFlags("", 1_000_000)...),
		Action: benchRecoveryAction,
	}
}

func benchRecoveryAction(c *cli.Context) error {
	work, cleanup, err := benchWorkDir(c.String("work-dir"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("bench recovery: %v", err), exitUsage)
	}
	defer cleanup()
	targets := recoveryTargets(work, c.String("zabd"), benchSplitList(c.String("engines")), !c.Bool("no-zookeeper"), c.String("zk-heap"))
	if len(targets) == 0 {
		return cli.Exit("bench recovery: no targets (give --zabd or drop --no-zookeeper)", exitUsage)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rc := recoveryConfig(c, "", c.Int("restarts"))
	rc.Keep = c.Bool("keep") && c.String("work-dir") != ""
	rep, err := bench.RunRecovery(ctx, rc, targets)
	if rep == nil {
		return cli.Exit(fmt.Sprintf("bench recovery: %v", err), exitUsage)
	}
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "bench recovery: %v\n", err)
	}
	out := c.App.Writer
	if c.Bool("json") {
		out = c.App.ErrWriter
	}
	fmt.Fprint(out, rep.Table())
	if dir := c.String("out"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return cli.Exit(fmt.Sprintf("bench recovery: %v", err), exitUsage)
		}
		stem := filepath.Join(dir, rep.Started.UTC().Format("2006-01-02T150405Z")+"-recovery")
		if err := writeRecoveryFiles(stem, rep, benchCommandLine(os.Args)); err != nil {
			return cli.Exit(fmt.Sprintf("bench recovery: %v", err), exitZK)
		}
		fmt.Fprintf(out, "report: %s.md\n", stem)
	}
	if c.Bool("json") {
		js, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "%s\n", js)
	}
	for _, r := range rep.Results {
		if len(r.Runs) > 0 {
			return nil
		}
	}
	return cli.Exit("bench recovery: no target was measured", exitConnect)
}

// writeRecoveryFiles writes stem.md and stem.json for a standalone
// recovery run.
func writeRecoveryFiles(stem string, rep *bench.RecoveryReport, command string) error {
	js, err := benchJSON(rep)
	if err != nil {
		return err
	}
	if err := os.WriteFile(stem+".json", js, 0o644); err != nil {
		return err
	}
	f, err := os.Create(stem + ".md")
	if err != nil {
		return err
	}
	fmt.Fprintf(f, "# zabd vs Apache ZooKeeper: recovery, %s\n\nCommand:\n\n```\n%s\n```\n\nMachine: %s.\n\n",
		rep.Started.UTC().Format("2006-01-02 15:04 UTC"), command, benchHost())
	err = rep.WriteMarkdown(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// benchWorkDir returns dir, or a fresh temp dir that cleanup removes.
func benchWorkDir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		return dir, func() {}, nil
	}
	d, err := os.MkdirTemp("", "zabbench-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}
