package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"zabd/bench"
	"zabd/bench/launch"
	"zabd/cmd/internal/buildinfo"
	"zabd/cmd/internal/procs"
)

// benchCommand is `zabctl bench` (one workload against running servers)
// and `zabctl bench suite` (the `make bench` suite against freshly started
// Apache ZooKeeper and zabd).
func benchCommand() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "load generator: run one workload against ZooKeeper-protocol servers",
		UsageText: "zabctl bench [--servers h:p,...] [--workload create] [--sessions N] [--duration 10s | --ops N] [--rate R] [--json]\n" +
			"   zabctl bench suite --out bench/results [--zabd ./zabd --engines native] [--repeat N] [--cluster 3]\n" +
			"   zabctl bench recovery --zabd ./zabd [--engines native] [--znodes 1000000] [--restarts 3]",
		Description: "Workloads: " + strings.Join(bench.WorkloadNames(), ", ") + ".\n" +
			"Closed loop by default; --rate R runs open loop at R requests/s in total, latency measured from each\n" +
			"request's intended start. --json prints one JSON object as the last line of stdout (the human report goes\n" +
			"to stderr then).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "servers", Value: "127.0.0.1:2181", Usage: "comma-separated host:port; session i uses server i mod n"},
			&cli.StringFlag{Name: "workload", Aliases: []string{"w"}, Value: "create", Usage: strings.Join(bench.WorkloadNames(), " | ")},
			&cli.IntFlag{Name: "sessions", Aliases: []string{"c"}, Value: 1, Usage: "client sessions (churn: concurrent churners; watch: watchers)"},
			&cli.IntFlag{Name: "inflight", Value: 1, Usage: "requests outstanding per session (pipelining)"},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Usage: "measured phase length (default 10s unless --ops is given)"},
			&cli.Int64Flag{Name: "ops", Aliases: []string{"n"}, Usage: "stop after this many measured requests (watch: writes)"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, Usage: "run this long first, excluded from the figures"},
			&cli.Float64Flag{Name: "rate", Usage: "open loop at this many requests/s in total (0: closed loop)"},
			&cli.IntFlag{Name: "value-size", Value: 100, Usage: "bytes written per create/set"},
			&cli.StringFlag{Name: "client", Value: bench.ClientLean, Usage: "connection code the load runs on: " + bench.ClientLean + " (zabctl's own, pipelined) or " + bench.ClientGoZK + " (github.com/go-zookeeper/zk, a cross-check); churn, watch and lock always run on " + bench.ClientGoZK},
			&cli.IntFlag{Name: "keys", Value: 1000, Usage: "key space for set/get/exists/mixed/multi; keys to consume for delete"},
			&cli.BoolFlag{Name: "keyed", Usage: "create: keyed names instead of sequential"},
			&cli.Float64Flag{Name: "read-ratio", Value: 0.9, Usage: "mixed: share of reads"},
			&cli.IntFlag{Name: "multi-ops", Value: 4, Usage: "multi: operations per transaction"},
			&cli.DurationFlag{Name: "hold", Usage: "lock: how long to hold the lock"},
			&cli.Int64Flag{Name: "seed", Usage: "workload seed (0: from the clock; always reported)"},
			&cli.StringFlag{Name: "root", Value: "/zabbench", Usage: "parent znode of the run's directory"},
			&cli.BoolFlag{Name: "cleanup", Value: true, Usage: "delete the run's znodes afterwards (not measured)"},
			&cli.DurationFlag{Name: "session-timeout", Value: 10 * time.Second},
			&cli.DurationFlag{Name: "drain-timeout", Value: 10 * time.Second, Usage: "wait this long for outstanding requests at the end"},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Minute, Usage: "hard bound on an --ops run"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as one JSON line (last line of stdout)"},
			&cli.BoolFlag{Name: "no-progress", Usage: "no live progress even on a terminal"},
			&cli.IntSliceFlag{Name: "server-pid", Usage: "a server process on this machine (repeatable): its CPU per op (utime+stime over the measured phase / successes) and % of a core are reported"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write the generator's own CPU profile (pprof) for the whole run to this file, to see where its CPU per op goes"},
		},
		Before:      benchProcs,
		Action:      benchAction,
		Subcommands: []*cli.Command{benchSuiteCommand(), benchRecoveryCommand()},
	}
}

// benchProcs gives the generator (and the suite's own work) one P on a
// machine of two CPUs or fewer, as zabd serves (package procs): sharing
// two vCPUs with the server, the generator's second P cost scheduler
// wake-ups and took CPU the server needed (gets at 32 sessions against
// zabd: 64-76k ops/s with 2 Ps, 82-111k with one; the generator's CPU per
// get 12 -> 9 µs). GOMAXPROCS in the environment wins. Not in tests,
// which drive zabctl in-process and must not change the test binary's
// GOMAXPROCS.
func benchProcs(*cli.Context) error {
	if !testing.Testing() {
		procs.Apply()
	}
	return nil
}

func benchAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("bench: unexpected argument %q (subcommands: suite, recovery)", c.Args().First()), exitUsage)
	}
	w, err := bench.ParseWorkload(c.String("workload"), bench.WorkloadOptions{
		Keyed: c.Bool("keyed"), ReadRatio: c.Float64("read-ratio"), MultiOps: c.Int("multi-ops"),
	})
	if err != nil {
		return cli.Exit(err.Error(), exitUsage)
	}
	if lc, ok := w.(bench.LockContention); ok {
		lc.Hold = c.Duration("hold")
		w = lc
	}
	cfg := bench.Config{
		Servers:        benchSplitList(c.String("servers")),
		Sessions:       c.Int("sessions"),
		InFlight:       c.Int("inflight"),
		Duration:       c.Duration("duration"),
		Ops:            c.Int64("ops"),
		Warmup:         c.Duration("warmup"),
		Rate:           c.Float64("rate"),
		ValueBytes:     c.Int("value-size"),
		Client:         c.String("client"),
		KeySpace:       c.Int("keys"),
		Seed:           c.Int64("seed"),
		Root:           c.String("root"),
		Cleanup:        c.Bool("cleanup"),
		SessionTimeout: c.Duration("session-timeout"),
		DrainTimeout:   c.Duration("drain-timeout"),
		Timeout:        c.Duration("timeout"),
	}
	stdout, stderr := c.App.Writer, c.App.ErrWriter
	if pids := c.IntSlice("server-pid"); len(pids) > 0 {
		cfg.ServerCPU = serverPIDsCPU(pids)
	}
	live := &benchLine{w: stderr}
	if !c.Bool("no-progress") && benchIsTerminal(stderr) {
		cfg.Progress = live.show
	}
	if path := c.String("cpuprofile"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return cli.Exit(fmt.Sprintf("bench: --cpuprofile: %v", err), exitUsage)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return cli.Exit(fmt.Sprintf("bench: --cpuprofile %s: %v", path, err), exitUsage)
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(stderr, "bench: --cpuprofile %s: %v\n", path, err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg, w)
	live.end()
	if err != nil {
		code := exitZK
		if errors.Is(err, bench.ErrConfig) {
			code = exitUsage
		} else if errors.Is(err, bench.ErrEventTimeout) {
			code = exitConnect
		}
		return cli.Exit(err.Error(), code)
	}
	if !c.Bool("json") {
		return rep.WriteText(stdout)
	}
	if err := rep.WriteText(stderr); err != nil {
		return err
	}
	line, err := rep.JSON()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", line)
	return err
}

// benchLine is a run's live line on a terminal: one line rewritten as
// the run goes (phase, time in the phase, the last interval's figures),
// ending with the run's own figures, the same the report gives.
type benchLine struct {
	w     io.Writer
	shown bool
}

func (l *benchLine) show(p bench.Progress) {
	var line string
	switch p.Phase {
	case "setup", "cleanup":
		line = p.Phase + " ..."
	case "done":
		line = fmt.Sprintf("done     %.2f s measured  %.1f ops/s  p99 %.3f ms  errors %d",
			p.Elapsed.Seconds(), p.OpsPerSec, p.P99Ms, p.Errors)
	default:
		at := fmt.Sprintf("%.1f s", p.Elapsed.Seconds())
		if p.Length > 0 {
			at = fmt.Sprintf("%.1f/%.0f s %3.0f%%", min(p.Elapsed, p.Length).Seconds(), p.Length.Seconds(),
				100*min(p.Elapsed, p.Length).Seconds()/p.Length.Seconds())
		}
		line = fmt.Sprintf("%-8s %-16s %9.0f ops/s  p99 %8.3f ms  errors %d", p.Phase, at, p.OpsPerSec, p.P99Ms, p.Errors)
	}
	fmt.Fprintf(l.w, "\r%s\033[K", line)
	l.shown = true
	if p.Phase == "done" {
		fmt.Fprintln(l.w)
		l.shown = false
	}
}

// end finishes a line the run left (an error before "done").
func (l *benchLine) end() {
	if l.shown {
		fmt.Fprint(l.w, "\r\033[K")
		l.shown = false
	}
}

// serverPIDsCPU samples the CPU time of the given server processes.
func serverPIDsCPU(pids []int) func() ([]bench.ProcCPU, error) {
	return func() ([]bench.ProcCPU, error) {
		out := make([]bench.ProcCPU, 0, len(pids))
		for _, pid := range pids {
			cpu, err := launch.ProcessCPU(pid)
			if err != nil {
				return nil, err
			}
			out = append(out, bench.ProcCPU{Name: "pid " + strconv.Itoa(pid), CPU: cpu})
		}
		return out, nil
	}
}

// benchVersions names the zabd binary measured (its --version: version,
// commit, Go) and this zabctl, the generator.
func benchVersions(zabdBin string) []string {
	var out []string
	if zabdBin != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v, err := exec.CommandContext(ctx, zabdBin, "--version").Output()
		if s := strings.TrimSpace(string(v)); err == nil && s != "" {
			out = append(out, s)
		} else {
			out = append(out, fmt.Sprintf("%s (--version failed: %v)", zabdBin, err))
		}
	}
	return append(out, buildinfo.Read().Line("zabctl"))
}

func benchIsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func benchSplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func benchSuiteCommand() *cli.Command {
	return &cli.Command{
		Name:  "suite",
		Usage: "run the standard suite on Apache ZooKeeper and zabd side by side; write a dated Markdown report with SVG plots",
		UsageText: "zabctl bench suite [--out bench/results] [--zabd path/to/zabd] [--engines native] [--repeat 1]\n" +
			"   [--point-duration 3s] [--warmup 1s] [--no-zookeeper] [--recovery-znodes 200000 (0: skip)]\n" +
			"   zabctl bench suite --cluster 3 [--tick-time 200] [--failover-kills 5] [--catchup-txns 200000] [--catchup-runs 3] ...",
		Description: "Throughput and latency points on every target, then the recovery benchmark (see `zabctl bench recovery`)\n" +
			"on fresh servers: 200,000 znodes by default, a few minutes on 2 cores; --recovery-znodes 1000000 for the\n" +
			"issue's million (about 10 minutes here).\n\n" +
			"--cluster N runs ensembles of N members instead (Apache ZooKeeper's QuorumPeerMain and zabd, same tickTime,\n" +
			"initLimit, syncLimit, forceSync on, all on this machine): create, set and mixed (90% reads) at 32 and 128\n" +
			"sessions spread over the members, with each server process's CPU per op; then failover (the leader killed -9\n" +
			"under a steady write load, time to the first write acknowledged, --failover-kills times) and catch-up (a\n" +
			"follower stopped, --catchup-txns creates written, restarted: time until it is synced, --catchup-runs times).\n" +
			"The recovery benchmark is standalone only and is skipped.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "out", Value: "bench/results", Usage: "directory for the report, plots and JSON"},
			&cli.StringFlag{Name: "zabd", Usage: "zabd binary to benchmark (none: Apache ZooKeeper only)"},
			&cli.StringFlag{Name: "engines", Value: "native", Usage: "comma-separated zabd storage engines, one target each"},
			&cli.BoolFlag{Name: "no-zookeeper", Usage: "leave Apache ZooKeeper out"},
			&cli.IntFlag{Name: "repeat", Value: 1, Usage: "runs per point and target; figures are medians"},
			&cli.DurationFlag{Name: "point-duration", Value: 3 * time.Second, Usage: "measured length of each point"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, Usage: "warm-up before each point"},
			&cli.StringFlag{Name: "work-dir", Usage: "where the servers keep their data (default: a temp dir, removed)"},
			&cli.StringFlag{Name: "server-cpus", Usage: "throughput points: run each server under `taskset -c LIST` (e.g. 0); start zabctl itself under taskset on the other CPUs so the generator never competes with the server"},
			&cli.IntFlag{Name: "recovery-restarts", Usage: "recovery: timed restarts per target (default: --repeat, at least 3)"},
			&cli.IntFlag{Name: "cluster", Usage: "run ensembles of this many members (0: standalone servers)"},
			&cli.DurationFlag{Name: "prewarm", Usage: "unmeasured load on each target before the points, every point's workload in turn (default: 60s with --cluster, else none)"},
			&cli.IntFlag{Name: "tick-time", Value: 200, Usage: "cluster: tickTime in ms of both ensembles"},
			&cli.IntFlag{Name: "init-limit", Value: 10, Usage: "cluster: initLimit in ticks"},
			&cli.IntFlag{Name: "sync-limit", Value: 5, Usage: "cluster: syncLimit in ticks"},
			&cli.StringFlag{Name: "zk-heap", Value: "1g", Usage: "cluster: each ZooKeeper member's -Xmx"},
			&cli.IntFlag{Name: "failover-kills", Value: 5, Usage: "cluster: leader kills per target (0: no failover benchmark)"},
			&cli.IntFlag{Name: "failover-writers", Value: 8, Usage: "cluster: sessions of the steady write load"},
			&cli.Float64Flag{Name: "failover-rate", Value: 500, Usage: "cluster: the steady write load's writes/s in total"},
			&cli.DurationFlag{Name: "failover-settle", Value: 2 * time.Second, Usage: "cluster: the steady write load runs this long before each kill"},
			&cli.DurationFlag{Name: "failover-probe", Value: 5 * time.Millisecond, Usage: "cluster: pause between write probes after a kill"},
			&cli.IntFlag{Name: "catchup-txns", Value: 200_000, Usage: "cluster: creates written while a follower is down (0: no catch-up benchmark)"},
			&cli.IntFlag{Name: "catchup-runs", Usage: "cluster: catch-up runs per target (default: --repeat, at least 3)"},
			&cli.Int64Flag{Name: "large-tree", Usage: "standalone: load this many znodes into each server, then measure creates (32 sessions x 8) on that tree, and its RSS (0: no large-tree benchmark)"},
			&cli.IntFlag{Name: "large-tree-runs", Value: 1, Usage: "large tree: fresh loads per target; figures are medians"},
			&cli.DurationFlag{Name: "large-tree-duration", Value: 10 * time.Second, Usage: "large tree: measured creates after the load"},
			&cli.StringFlag{Name: "large-tree-zk-heap", Value: "1g", Usage: "large tree: Apache ZooKeeper's -Xmx (its RSS follows it)"},
		}, recoveryFlags("recovery-", 200_000)...),
		Action: benchSuiteAction,
	}
}

func benchSuiteAction(c *cli.Context) error {
	out := c.String("out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return cli.Exit(fmt.Sprintf("bench suite: %v", err), exitUsage)
	}
	work := c.String("work-dir")
	if work == "" {
		d, err := os.MkdirTemp("", "zabbench-suite-")
		if err != nil {
			return cli.Exit(fmt.Sprintf("bench suite: %v", err), exitUsage)
		}
		defer os.RemoveAll(d)
		work = d
	}
	cpus := c.String("server-cpus")
	cluster := c.Int("cluster")
	if cluster < 0 || cluster > 9 {
		return cli.Exit(fmt.Sprintf("bench suite: --cluster %d: want 0 (standalone) to 9 members", cluster), exitUsage)
	}
	co := bench.ClusterOptions{Size: cluster, TickTime: c.Int("tick-time"), InitLimit: c.Int("init-limit"),
		SyncLimit: c.Int("sync-limit"), ZKHeap: c.String("zk-heap"), CPUs: cpus}
	var targets []bench.Target
	if !c.Bool("no-zookeeper") {
		if cluster > 0 {
			targets = append(targets, bench.ZooKeeperEnsembleTarget(work, co))
		} else {
			targets = append(targets, bench.ZooKeeperTarget(work, cpus))
		}
	}
	if bin := c.String("zabd"); bin != "" {
		for _, e := range benchSplitList(c.String("engines")) {
			if cluster > 0 {
				targets = append(targets, bench.ZabdEnsembleTarget(work, bin, e, co))
			} else {
				targets = append(targets, bench.ZabdTarget(work, bin, e, cpus))
			}
		}
	}
	if len(targets) == 0 {
		return cli.Exit("bench suite: no targets (give --zabd or drop --no-zookeeper)", exitUsage)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	points := bench.StandardPoints(c.Duration("point-duration"), c.Duration("warmup"))
	sc := bench.SuiteConfig{Targets: targets, Repeat: c.Int("repeat"), Log: c.App.ErrWriter, Prewarm: c.Duration("prewarm")}
	if cluster > 0 && !c.IsSet("prewarm") {
		sc.Prewarm = time.Minute
	}
	// GOMAXPROCS: the generator's (benchProcs) and zabd's own choice.
	setup := []string{fmt.Sprintf("GOMAXPROCS: the generator %d on %d CPUs; zabd its own default (one P where Go's default is %d or less, package cmd/internal/procs) unless the environment sets GOMAXPROCS.",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), procs.SmallMachine)}
	if cluster > 0 {
		points = bench.ClusterPoints(c.Duration("point-duration"), c.Duration("warmup"))
		setup = append(setup, "Servers: "+co.Describe()+".")
		if k := c.Int("failover-kills"); k > 0 {
			sc.Failover = &bench.FailoverConfig{Kills: k, Writers: c.Int("failover-writers"), Rate: c.Float64("failover-rate"),
				ProbeInterval: c.Duration("failover-probe"), Settle: c.Duration("failover-settle")}
		}
		if n := c.Int("catchup-txns"); n > 0 {
			runs := c.Int("catchup-runs")
			if runs <= 0 {
				runs = max(c.Int("repeat"), 3)
			}
			sc.CatchUp = &bench.CatchUpConfig{Txns: n, Runs: runs}
		}
	}
	sc.Points = points
	res, err := bench.RunSuite(ctx, sc)
	if err != nil {
		return cli.Exit(fmt.Sprintf("bench suite: %v", err), exitConnect)
	}
	res.Versions = benchVersions(c.String("zabd"))
	if res.Failover != nil {
		res.Failover.Setup = co.Describe()
	}
	if res.CatchUp != nil {
		res.CatchUp.Setup = co.Describe()
	}
	if cluster > 0 {
		if c.IsSet("recovery-znodes") {
			fmt.Fprintln(c.App.ErrWriter, "bench suite: the recovery benchmark is standalone only; skipped with --cluster")
		}
	} else if c.Int("recovery-znodes") > 0 {
		restarts := c.Int("recovery-restarts")
		if restarts <= 0 {
			restarts = max(c.Int("repeat"), 3)
		}
		rt := recoveryTargets(work, c.String("zabd"), benchSplitList(c.String("engines")), !c.Bool("no-zookeeper"), c.String("recovery-zk-heap"))
		rep, err := bench.RunRecovery(ctx, recoveryConfig(c, "recovery-", restarts), rt)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "bench suite: recovery: %v\n", err)
		}
		res.Recovery = rep
		res.Took = time.Since(res.Started)
	}
	if n := c.Int64("large-tree"); n > 0 && cluster == 0 && ctx.Err() == nil {
		var lt []bench.Target
		if !c.Bool("no-zookeeper") {
			lt = append(lt, bench.ZooKeeperHeapTarget(work, cpus, c.String("large-tree-zk-heap")))
		}
		if bin := c.String("zabd"); bin != "" {
			for _, e := range benchSplitList(c.String("engines")) {
				lt = append(lt, bench.ZabdTarget(work, bin, e, cpus))
			}
		}
		rep, err := bench.RunLargeTree(ctx, bench.LargeTreeConfig{Znodes: n, Runs: c.Int("large-tree-runs"),
			Duration: c.Duration("large-tree-duration"), Log: c.App.ErrWriter}, lt)
		if err != nil {
			fmt.Fprintf(c.App.ErrWriter, "bench suite: large tree: %v\n", err)
		}
		rep.Setup = fmt.Sprintf("Apache ZooKeeper ran with -Xmx%s; zabd with its defaults.", c.String("large-tree-zk-heap"))
		res.LargeTree = rep
		res.Took = time.Since(res.Started)
	}
	stem := filepath.Join(out, res.Started.UTC().Format("2006-01-02T150405Z"))
	var plots []string
	plot := func(suffix string, draw func(path string) error) {
		path := stem + suffix
		if err := draw(path); err != nil {
			fmt.Fprintln(c.App.ErrWriter, err)
			return
		}
		plots = append(plots, filepath.Base(path))
	}
	plot("-points-ops.svg", func(p string) error { return res.WritePointsPlot(p, "ops") })
	plot("-points-p99.svg", func(p string) error { return res.WritePointsPlot(p, "p99") })
	plot("-throughput.svg", func(p string) error { return res.WriteThroughputPlot(p, "create") })
	latencyPoint := "create s=32"
	if cluster > 0 {
		latencyPoint = "create s=128"
	}
	plot("-latency.svg", func(p string) error { return res.WriteLatencyPlot(p, latencyPoint) })
	if res.Recovery != nil {
		rp := stem + "-recovery.svg"
		if err := res.Recovery.WriteRecoveryPlot(rp); err != nil {
			fmt.Fprintln(c.App.ErrWriter, err)
		} else {
			plots = append(plots, filepath.Base(rp))
		}
	}
	js, err := benchJSON(res)
	if err == nil {
		err = os.WriteFile(stem+".json", js, 0o644)
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("bench suite: %v", err), exitZK)
	}
	f, err := os.Create(stem + ".md")
	if err != nil {
		return cli.Exit(fmt.Sprintf("bench suite: %v", err), exitZK)
	}
	meta := bench.MarkdownMeta{
		Title:   "zabd vs Apache ZooKeeper",
		Command: benchCommandLine(os.Args),
		Host:    benchHost() + benchPinning(cpus),
		Setup:   setup,
		Plots:   plots,
	}
	if cluster > 0 {
		meta.Title = fmt.Sprintf("zabd vs Apache ZooKeeper, %d-member ensembles", cluster)
	}
	err = res.WriteMarkdown(f, meta)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("bench suite: %v", err), exitZK)
	}
	fmt.Fprint(c.App.Writer, res.Table())
	if res.LargeTree != nil {
		fmt.Fprint(c.App.Writer, "\n"+res.LargeTree.Table())
	}
	if res.Recovery != nil {
		fmt.Fprint(c.App.Writer, "\n"+res.Recovery.Table())
	}
	if res.Failover != nil {
		fmt.Fprint(c.App.Writer, "\n"+res.Failover.Table())
	}
	if res.CatchUp != nil {
		fmt.Fprint(c.App.Writer, "\n"+res.CatchUp.Table())
	}
	fmt.Fprintf(c.App.Writer, "report: %s.md\n", stem)
	return nil
}

// benchHost is a line about the machine the figures come from.
func benchHost() string {
	cores := launch.MachineCPUs()
	if cores == 0 {
		cores = runtime.NumCPU()
	}
	return fmt.Sprintf("%s/%s, %d cores, %s%s", runtime.GOOS, runtime.GOARCH, cores, runtime.Version(), benchLoadAvg())
}

// benchPinning says where the servers and the generator ran, when the
// servers were pinned.
func benchPinning(serverCPUs string) string {
	if serverCPUs == "" {
		return ""
	}
	gen := launch.OwnCPUs()
	if gen == "" {
		gen = "unknown"
	}
	return fmt.Sprintf("; throughput points: each server pinned to CPUs %s (taskset), the load generator on CPUs %s", serverCPUs, gen)
}

// benchCommandLine quotes args the way a shell would need them.
func benchCommandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$\\") {
			a = strconv.Quote(a)
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func benchJSON(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// benchLoadAvg describes the machine's load when the report is written
// (other work on a shared machine skews figures); "" where unknown.
func benchLoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return fmt.Sprintf(", load average %s %s %s (1/5/15 min) at the end", f[0], f[1], f[2])
}
