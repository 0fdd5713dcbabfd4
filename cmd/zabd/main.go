// Command zabd is the zabd server: a ZooKeeper-wire-compatible
// coordination server whose every write is a durable, zxid-stamped txn.
package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	stdnet "net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/cmd/internal/buildinfo"
	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/net"
	"zabd/net/admin"
	"zabd/net/metrics"
	"zabd/net/sasl"
	"zabd/net/secure"
	"zabd/snapshot"
	"zabd/tree"
	"zabd/zab"
	"zabd/zab/member"
	"zabd/zab/transport"
)

// minFreeToOpen is the free space below which pebble and badger are not
// opened: both write at open (pebble flushes its WAL into new sstables and
// retries forever on a full disk, flooding the log; badger writes its pid
// file and a memtable file), so a start on a full disk is a clear refusal
// instead.
const minFreeToOpen = 1 << 20

// Exit codes.
const (
	exitConfig  = 2
	exitStorage = 3
	exitListen  = 4
	exitInUse   = 5 // the data dir (or log dir) is locked by another process
	exitNoSpace = 6 // the disk is too full to open storage at all
)

// storageExit is the exit for a storage failure at start: exitNoSpace,
// with what was free, when the disk is full; exitStorage otherwise.
func storageExit(msg string, err error, dir string) error {
	// badger reports ENOSPC in text only (pkg/errors), as it does EAGAIN.
	if errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		if d := vfs.NoSpaceDetail(vfs.Default, dir, -1); d != "" {
			msg += " (" + d + ")"
		}
		return cli.Exit("disk full: "+msg, exitNoSpace)
	}
	return cli.Exit(msg, exitStorage)
}

func main() {
	info := buildinfo.Read()
	cli.VersionPrinter = func(cc *cli.Context) { fmt.Fprintln(cc.App.Writer, info.Line("zabd")) }
	app := &cli.App{
		Name:      "zabd",
		Version:   info.ServerVersion(),
		ArgsUsage: "[zoo.cfg]",
		Usage:     "ZooKeeper-compatible coordination server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Usage: "zoo.cfg to read (Apache ZooKeeper's keys); or give it as the one argument"},
			&cli.StringFlag{Name: "client-addr", Usage: "address to serve clients on (overrides clientPortAddress:clientPort)"},
			&cli.StringFlag{Name: "data-dir", Usage: "data directory (overrides dataDir)"},
			&cli.StringFlag{Name: "jaas-config", Usage: "JAAS login configuration whose Server section (DigestLoginModule, user_<name>=\"<password>\") lists the SASL users; default: -Djava.security.auth.login.config in $SERVER_JVMFLAGS or $JVMFLAGS, as ZooKeeper's scripts pass it"},
			&cli.StringFlag{Name: "metrics-addr", Usage: "serve Prometheus metrics at http://HOST:PORT/metrics (overrides metricsProvider.className, metricsProvider.httpHost and metricsProvider.httpPort)"},
			&cli.StringFlag{Name: "admin-addr", Usage: "serve the AdminServer (HTTP commands) on host:port (overrides admin.enableServer, admin.serverAddress and admin.serverPort)"},
			&cli.StringFlag{Name: "engine", Usage: "storage engine: native, pebble or badger (overrides engine)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "cpuprofile", Usage: "write a CPU profile (pprof) to this file until shutdown"},
			&cli.StringFlag{Name: "memprofile", Usage: "write a heap profile (pprof: the live heap after a collection) to this file when asked to shut down"},
			&cli.StringFlag{Name: "trace", Usage: "write a Go execution trace (go tool trace) to this file until shutdown; large, for short runs"},
			&cli.BoolFlag{Name: "repair", Usage: "if the native log is corrupt, move everything from the first bad record on aside (to <dataDir>/repair-<time>/) and cut the log there, then start"},
		},
		Action: run,
		// A fatal error is one structured log line with its exit code
		// (see the README's exit codes), not a bare message.
		ExitErrHandler: func(_ *cli.Context, err error) {
			if err != nil {
				exitWith(err)
			}
		},
	}
	if err := app.Run(os.Args); err != nil {
		exitWith(err)
	}
}

// exitWith logs err as the reason zabd stops and exits with its code
// (exitConfig for one that carries none: a bad flag).
func exitWith(err error) {
	code := exitConfig
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	slog.Error("zabd cannot go on", "err", err.Error(), "exit_code", code)
	os.Exit(code)
}

func run(cc *cli.Context) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cc.String("log-level"))); err != nil {
		return cli.Exit(fmt.Sprintf("bad --log-level: %v", err), exitConfig)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(logger)

	// The zoo.cfg: --config, or the one argument, as ZooKeeper's server
	// mains take it.
	cfgPath := cc.String("config")
	switch args := cc.Args().Slice(); {
	case len(args) > 1:
		return cli.Exit(fmt.Sprintf("one zoo.cfg at most, got %d arguments: %q", len(args), args), exitConfig)
	case len(args) == 1 && cfgPath != "" && args[0] != cfgPath:
		return cli.Exit(fmt.Sprintf("two configurations: --config %s and the argument %s", cfgPath, args[0]), exitConfig)
	case len(args) == 1:
		cfgPath = args[0]
	}
	cfg := defaultConfig()
	if cfgPath != "" {
		if err := loadZooCfg(cfgPath, &cfg, logger); err != nil {
			return cli.Exit(err.Error(), exitConfig)
		}
	}
	if v := cc.String("client-addr"); v != "" {
		cfg.ClientAddr = v
	}
	if v := cc.String("data-dir"); v != "" {
		cfg.DataDir = v
		if cfgPath == "" {
			cfg.DataLogDir = ""
		}
	}
	if v := cc.String("engine"); v != "" {
		cfg.Engine = v
	}
	jvmSASL(&cfg.SASL, os.Getenv("SERVER_JVMFLAGS")+" "+os.Getenv("JVMFLAGS"))
	if v := cc.String("jaas-config"); v != "" {
		cfg.SASL.JAASFile = v
	}
	if v := cc.String("metrics-addr"); v != "" {
		h, p, err := stdnet.SplitHostPort(v)
		if err != nil || !validPortOrZero(p) {
			return cli.Exit(fmt.Sprintf("--metrics-addr %q: want host:port", v), exitConfig)
		}
		cfg.Metrics.Enabled, cfg.Metrics.Host, cfg.Metrics.Port = true, h, p
	}
	if v := cc.String("admin-addr"); v != "" {
		h, p, err := stdnet.SplitHostPort(v)
		if err != nil || !validPortOrZero(p) {
			return cli.Exit(fmt.Sprintf("--admin-addr %q: want host:port", v), exitConfig)
		}
		cfg.Admin.Enabled, cfg.Admin.Address, cfg.Admin.Port = true, h, p
	}
	cfg.Repair = cc.Bool("repair")
	if err := cfg.validate(); err != nil {
		return cli.Exit(err.Error(), exitConfig)
	}
	logger.Info("zabd starting", append([]any{"version", buildinfo.Read().ServerVersion(), "go", runtime.Version(), "pid", os.Getpid()},
		cfg.logAttrs()...)...)
	for _, prof := range []struct {
		flag  string
		start func(io.Writer) error
		stop  func()
	}{
		{"cpuprofile", pprof.StartCPUProfile, pprof.StopCPUProfile},
		{"trace", trace.Start, trace.Stop},
	} {
		stop, err := startProfile(cc.String(prof.flag), prof.start, prof.stop)
		if err != nil {
			return cli.Exit(fmt.Sprintf("--%s: %v", prof.flag, err), exitConfig)
		}
		defer stop()
	}
	beforeClose := func() {}
	if p := cc.String("memprofile"); p != "" {
		beforeClose = func() { writeHeapProfile(p, logger) }
	}
	return serve(cfg, logger, beforeClose)
}

// writeHeapProfile writes the live heap, after a collection, to path
// (--memprofile: at shutdown, before the server lets go of its tree).
func writeHeapProfile(path string, logger *slog.Logger) {
	f, err := os.Create(path)
	if err == nil {
		runtime.GC()
		err = errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
	}
	if err != nil {
		logger.Error("writing the heap profile", "file", path, "err", err)
	}
}

// startProfile creates path and starts a profile writing to it; stop ends
// the profile and closes the file. An empty path starts nothing.
func startProfile(path string, start func(io.Writer) error, end func()) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { end(); f.Close() }, nil
}

func serve(cfg Config, logger *slog.Logger, beforeClose func()) error {
	s, err := start(cfg, logger)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	select {
	case sig := <-sigs:
		logger.Info("shutting down", "signal", sig.String())
	case err := <-s.serveErr:
		logger.Error("client listener stopped", "err", err)
	}
	beforeClose()
	if err := s.Close(); err != nil {
		return cli.Exit(err.Error(), exitStorage)
	}
	return nil
}

// server is a running standalone zabd.
type server struct {
	Addr     string
	locks    []*datadir.Lock // the data dir's and the log dir's, held for the process's life
	ln       stdnet.Listener // the client port, bound before storage is opened
	admin    *admin.Server   // the AdminServer, bound with the client port; nil when off
	metricsL *metrics.Server // the Prometheus endpoint, bound with the client port; nil when off
	secureLn stdnet.Listener // secureClientPort, bound with the client port; nil when off
	tlsCfg   *tls.Config     // the TLS ports' configuration (certificates reloaded as they change)
	unified  bool            // client.portUnification: the client port takes TLS too
	snapSrc  snapshot.Source // what take_snapshot walks
	snaps    zab.SnapshotStore
	eng      engine.Full
	snap     *zab.Snapshotter
	svc      *zab.Service
	member   *member.Member       // quorum mode: instead of svc
	tr       *transport.Transport // quorum mode: the quorum and election ports
	memberp  atomic.Pointer[member.Member]
	srv      *net.Server
	srvp     atomic.Pointer[net.Server] // srv, for goroutines started before it exists
	serveErr chan error
	rates    *rateWindow
	stop     chan struct{} // stops the rate sampler
}

// batching is the pipelines' OnBatch, standalone or in an ensemble: the
// replies to writes answered in one run go out in one write per
// connection (net.Server.Batching).
func (s *server) batching(begin bool) {
	if srv := s.srvp.Load(); srv != nil {
		srv.Batching(begin)
	}
}

// start recovers the data dir and starts serving clients. Before it reads
// or writes anything in the data dir and the log dir it locks them, and
// before it opens storage it binds the client port: a second zabd on the
// same dirs or the same port is refused without touching the first's files.
func start(cfg Config, logger *slog.Logger) (*server, error) {
	s := &server{serveErr: make(chan error, 1), rates: newRateWindow(10*time.Second, time.Second), stop: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := s.lockDirs(cfg); err != nil {
		return nil, err
	}
	l, err := stdnet.Listen("tcp", cfg.ClientAddr)
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("listening on %s: %v", cfg.ClientAddr, err), exitListen)
	}
	s.ln = l
	if cfg.Admin.Enabled {
		a, err := admin.Listen(admin.Config{Addr: cfg.Admin.Addr(), URL: cfg.Admin.URL, IdleTimeout: cfg.Admin.IdleTimeout,
			Serving: s.serving, Logger: logger})
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("AdminServer: %v", err), exitListen)
		}
		s.admin = a
	}
	if cfg.TLS.On() {
		store := cfg.TLS.Store
		store.Logger = logger
		r, err := secure.New(store)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("TLS: %v", err), exitConfig)
		}
		s.tlsCfg, s.unified = r.TLSConfig(), cfg.TLS.Unified
		if a := cfg.TLS.SecureClientAddr; a != "" {
			if s.secureLn, err = stdnet.Listen("tcp", a); err != nil {
				return nil, cli.Exit(fmt.Sprintf("listening on the secure client port %s: %v", a, err), exitListen)
			}
		}
	}
	if cfg.SASL.JAASFile != "" {
		section := cfg.SASL.Section
		if section == "" {
			section = "Server"
		}
		users, err := sasl.DigestUsers(cfg.SASL.JAASFile, section)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("SASL: %v", err), exitConfig)
		}
		supers := map[string]bool{}
		for _, u := range cfg.SASL.SuperUsers {
			supers[u] = true
		}
		cfg.saslUsers = &net.SASLConfig{Users: users, SuperUsers: supers}
	}
	if cfg.Metrics.Enabled {
		ml, err := metrics.Listen(cfg.Metrics.Addr(), logger)
		if err != nil {
			return nil, cli.Exit(fmt.Sprintf("Prometheus endpoint: %v", err), exitListen)
		}
		s.metricsL = ml
		cfg.metrics = metrics.New(metrics.Options{Engine: cfg.Engine, Runtime: cfg.Metrics.Runtime, Monitor: func() map[string]any {
			if srv := s.srvp.Load(); srv != nil {
				return srv.MonitorFields()
			}
			return nil
		}})
	}
	// Until it serves, connections are closed at once (as ZooKeeper does
	// while it is not serving), not left waiting in the backlog.
	stopRefusing := refuseUntilServing(l)
	if cfg.Repair {
		if err := repairLog(cfg, logger); err != nil {
			return nil, err
		}
	}
	if sp, ok := vfs.SpaceOf(vfs.Default, cfg.DataLogDir); ok && cfg.Engine != "native" && sp.Free < minFreeToOpen {
		return nil, cli.Exit(fmt.Sprintf("disk full: %s free on %s, and the %s engine writes when it opens (less than %s free is refused): free some space and start again",
			vfs.FormatBytes(int64(min(sp.Free, 1<<62))), cfg.DataLogDir, cfg.Engine, vfs.FormatBytes(minFreeToOpen)), exitNoSpace)
	}
	// Recovery: the newest readable snapshot (an older one if the newest
	// is damaged), then the log replayed from its start zxid + 1. The
	// snapshot loads while the engine opens (the native log verifies every
	// record it holds): nothing changes the snapshots from here until
	// recovery (a repair, which moves some aside, is done; FinishRestore
	// changes only the log).
	began := time.Now()
	serveGC := relaxGCForRecovery()
	defer func() {
		serveGC(s.stop)
		serveProcs(logger)
	}()
	snapDir := filepath.Join(cfg.DataDir, engine.SnapshotDirName)
	snaps, err := engine.OpenSnapshotStore(vfs.Default, snapDir)
	if err != nil {
		return nil, storageExit(fmt.Sprintf("opening the snapshots in %s: %v", snapDir, err), err, cfg.DataDir)
	}
	restored := make(chan datadir.Restored, 1)
	waitedRestore := false
	defer func() {
		if !waitedRestore { // a failed start waits for the load: it reads the data dir and logs
			<-restored
		}
	}()
	go func() {
		restored <- datadir.LoadSnapshot(snaps, tree.Config{SuperDigest: cfg.SuperDigest, ExtendedTypesEnabled: cfg.ExtendedTypesEnabled, X509: cfg.TLS.X509, SASL: cfg.SASL.Provider},
			func(bad engine.SnapshotInfo, err error) {
				logger.Error("skipping an unreadable snapshot, trying an older one", "file", bad.Path, "err", err)
			})
	}()

	var onCommit func(records, bytes int, took time.Duration)
	if cfg.metrics != nil {
		onCommit = cfg.metrics.ObserveCommit
	}
	eng, err := engine.Open(cfg.Engine, cfg.DataLogDir, engine.Options{
		Logger:      logger,
		GroupCommit: engine.GroupCommitOptions{OnCommit: onCommit},
		Native:      cfg.nativeOptions(),
	})
	if me := (*engine.MismatchError)(nil); errors.As(err, &me) {
		return nil, cli.Exit(fmt.Sprintf("data dir %s was written by engine %s; zabd was started with --engine %s (start it with --engine %s, or use another data dir)",
			me.Dir, me.Found, me.Want, me.Found), exitStorage)
	} else if errors.Is(err, engine.ErrStoreLocked) {
		return nil, cli.Exit(fmt.Sprintf("the %s store in %s is open in another process (it holds the store's own lock, not %s): stop that process; %v",
			cfg.Engine, filepath.Join(cfg.DataLogDir, engine.Subdir(cfg.Engine)), datadir.LockFile, err), exitInUse)
	} else if err != nil {
		return nil, storageExit(fmt.Sprintf("opening the %s engine in %s: %v", cfg.Engine, cfg.DataLogDir, err), err, cfg.DataLogDir)
	}
	s.eng = eng
	if n, ok := eng.(*engine.Native); !ok {
		logger.Info("opened the log", "engine", cfg.Engine, "dir", cfg.DataLogDir, "last_zxid", eng.LastZxid().String())
	} else if rep := n.OpenReport(); rep.TornTail {
		logger.Warn("cut a torn tail off the log (a crash mid-write)", "report", rep.String())
	} else {
		logger.Info("opened the log", "engine", cfg.Engine, "dir", cfg.DataLogDir, "report", rep.String())
	}
	go s.rates.sampleEvery(time.Second, eng, s.stop)

	dd := datadir.Open(vfs.Default, cfg.DataDir)
	// A member may have crashed installing a snapshot its leader sent.
	if err := member.FinishRestore(eng, snaps, dd); err != nil {
		return nil, storageExit(fmt.Sprintf("finishing the restore of a snapshot in %s: %v", cfg.DataDir, err), err, cfg.DataDir)
	}
	waitedRestore = true
	rec, err := dd.RecoverFrom(eng, <-restored)
	if err != nil {
		return nil, storageExit(err.Error(), err, cfg.DataDir)
	}
	t, meta, last := rec.Tree, rec.Meta, rec.Last
	if rec.Snapshot.Path != "" {
		logger.Info("restored snapshot", "file", rec.Snapshot.Path, "start_zxid", meta.StartZxid.String(), "end_zxid", endZxidString(meta),
			"znodes", meta.Nodes, "sessions", meta.Sessions, "bytes", rec.Snapshot.Bytes)
	}
	if cfg.metrics != nil {
		cfg.metrics.ObserveRecovery(time.Since(began), rec.Replayed)
	}
	logger.Info("recovered", "snapshot_zxid", meta.StartZxid.String(), "txns_replayed", rec.Replayed, "last_zxid", last.String(),
		"znodes", t.NodeCount(), "sessions", len(t.Sessions()), "took", time.Since(began).Round(time.Millisecond))

	if cfg.Quorum != nil {
		if err := s.startMember(cfg, logger, t, snaps, dd); err != nil {
			return nil, err
		}
		s.Addr = s.ln.Addr().String()
		stopRefusing()
		if err := s.serveAdmin(cfg, logger); err != nil {
			return nil, err
		}
		s.serveMetrics(cfg, logger)
		self := cfg.Quorum.Self()
		logger.Info("serving as a member of an ensemble", "myid", cfg.Quorum.MyID, "addr", s.Addr,
			"quorum", s.tr.Addrs().Quorum, "election", s.tr.Addrs().Election, "servers", len(cfg.Quorum.Servers),
			"observer", self.Observer, "data_dir", cfg.DataDir, "engine", cfg.Engine)
		s.serveClients(logger)
		ok = true
		return s, nil
	}

	// A full disk here is not fatal: zabd serves reads (and read-only
	// sessions) with writes refused, and every write tries to record the
	// epoch again, so the start on a full disk is the same every time.
	epoch, epochErr := dd.NextEpoch(last)
	if errors.Is(epochErr, syscall.ENOSPC) {
		logger.Error("disk full at start: serving reads only; writes are refused until the epoch can be recorded (each write tries again)",
			"err", epochErr)
		epoch = 0
	} else if epochErr != nil {
		return nil, cli.Exit(fmt.Sprintf("choosing the epoch: %v", epochErr), exitStorage)
	}
	s.snap, err = zab.NewSnapshotter(cfg.snapshotterConfig(snaps, dd.PurgeRecorder(eng), logger))
	if err != nil {
		return nil, cli.Exit(err.Error(), exitConfig)
	}

	s.svc, err = zab.NewService(zab.ServiceConfig{
		Pipeline: zab.PipelineConfig{
			Tree:        t,
			Storage:     eng,
			Epoch:       epoch,
			ChooseEpoch: func() (uint32, error) { return dd.NextEpoch(last) },
			EpochErr:    epochErr,
			Logger:      logger,
			// The snapshotter counts applied txns; it never blocks.
			AfterApply: s.snap.AfterApply,
			OnBatch:    s.batching,
		},
		TickTime:               cfg.TickTime,
		ContainerCheckInterval: cfg.ContainerCheckInterval,
		OnExpire: func(sid int64) {
			if srv := s.srvp.Load(); srv != nil {
				srv.SessionExpired(net.SessionID(sid))
			}
			if cfg.metrics != nil {
				cfg.metrics.SessionExpired()
			}
		},
		Logger: logger,
	})
	if err != nil {
		return nil, cli.Exit(err.Error(), exitStorage)
	}
	// Session passwords are keyed by a secret in the replicated state; a
	// new data dir logs one (an old one carries its file's secret over).
	legacy, err := legacySecret(cfg.DataDir)
	if err != nil {
		return nil, cli.Exit(fmt.Sprintf("reading %s: %v", legacySecretFile, err), exitStorage)
	}
	if err := s.svc.EnsureSessionSecret(legacy); err != nil {
		return nil, storageExit(err.Error(), err, cfg.DataLogDir)
	}
	s.srv = net.NewServer(cfg.netConfig(logger), processor{svc: s.svc, eng: eng, rates: s.rates})
	s.srvp.Store(s.srv)
	s.svc.SetDeliverer(s.srv.Deliver)
	s.snapSrc, s.snaps = s.svc.WithTree, snaps
	s.snap.Start(s.snapSrc)
	s.snap.AfterApply(int64(last), rec.Replayed) // a long replayed tail soon gets a snapshot

	s.Addr = s.ln.Addr().String()
	stopRefusing()
	if err := s.serveAdmin(cfg, logger); err != nil {
		return nil, err
	}
	s.serveMetrics(cfg, logger)
	logger.Info("serving", "addr", s.Addr, "data_dir", cfg.DataDir, "engine", cfg.Engine)
	s.serveClients(logger)
	ok = true
	return s, nil
}

// serveClients serves the client port (TLS and plain text on it with
// client.portUnification) and the secure client port, if any.
func (s *server) serveClients(logger *slog.Logger) {
	if s.tlsCfg != nil && s.unified {
		go func() { s.serveErr <- s.srv.ServeTLS(s.ln, s.tlsCfg, true) }()
	} else {
		go func() { s.serveErr <- s.srv.Serve(s.ln) }()
	}
	if s.secureLn != nil {
		logger.Info("serving TLS clients", "addr", s.secureLn.Addr().String())
		go func() { s.serveErr <- s.srv.ServeTLS(s.secureLn, s.tlsCfg, false) }()
	}
}

// Close stops serving, drains the pipeline and closes the engine. It
// returns the sticky storage failure if one stopped writes.
func (s *server) Close() error {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	if s.admin != nil {
		s.admin.Close()
	}
	if s.metricsL != nil {
		s.metricsL.Close()
	}
	if s.srv != nil {
		s.srv.Close()
	}
	var failed error
	if s.snap != nil {
		s.snap.Close() // before the engine: a purge may be running
	}
	if s.svc != nil {
		s.svc.Close()
		failed = s.svc.Failed()
	}
	if s.member != nil {
		s.member.Close()
		if f := s.member.Status().Failed; f != "" {
			failed = errors.New(f)
		}
	}
	if s.tr != nil {
		s.tr.Close()
	}
	if s.ln != nil {
		s.ln.Close() // the server closed it, unless it never got it
	}
	if s.secureLn != nil {
		s.secureLn.Close()
	}
	if s.eng != nil {
		if err := s.eng.Close(); err != nil && failed == nil {
			failed = fmt.Errorf("closing the log: %w", err)
		}
	}
	for _, l := range s.locks { // last: nothing in the dirs is open now
		l.Release()
	}
	s.locks = nil
	return failed
}

// lockDirs creates the data dir and the log dir if needed and locks each
// (once when they are the same directory), refusing dirs another process
// holds with exitInUse.
func (s *server) lockDirs(cfg Config) error {
	owner := "zabd, clients on " + cfg.ClientAddr
	var locked []os.FileInfo
	for _, d := range []struct{ what, dir string }{{"data dir", cfg.DataDir}, {"data log dir", cfg.DataLogDir}} {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			return storageExit(fmt.Sprintf("creating %s %s: %v", d.what, d.dir, err), err, filepath.Dir(d.dir))
		}
		st, err := os.Stat(d.dir)
		if err != nil {
			return cli.Exit(fmt.Sprintf("%s %s: %v", d.what, d.dir, err), exitStorage)
		}
		same := false
		for _, o := range locked {
			same = same || os.SameFile(o, st)
		}
		if same {
			continue
		}
		l, err := datadir.Acquire(d.dir, datadir.Options{What: d.what, Owner: owner})
		if errors.Is(err, datadir.ErrHeld) {
			return cli.Exit(err.Error(), exitInUse)
		} else if err != nil {
			return storageExit(err.Error(), err, d.dir)
		}
		if err := l.Unnamed(); err != nil {
			slog.Warn("the lock is held but its file does not name this process (a full disk?)", "file", l.Path(), "err", err)
		}
		s.locks = append(s.locks, l)
		locked = append(locked, st)
	}
	return nil
}

// nativeOptions configures the native engine. A standalone server keeps
// two fdatasyncs in flight (the engine's default); a member of an
// ensemble one: its appends are asynchronous (zab/member), so the next
// batch gathers while one fdatasync runs, and a second sync in flight
// only makes the batches smaller, and each fdatasync costs CPU (about 64
// us here). Three members of a local ensemble, creates at 32 sessions, 7
// alternating pairs (bench/MEASURED.md): with two in flight median 8.0k
// creates/s at 164 us per create and 7.2-7.8 txns per fsync, with one
// 9.5k at 145 us and 9.0-9.3.
func (c Config) nativeOptions() engine.NativeOptions {
	o := engine.NativeOptions{Log: log.Options{SegmentBytes: c.LogSegmentBytes, Preallocate: true}}
	if c.Quorum != nil {
		o.SyncsInFlight = 1
	}
	return o
}

// netConfig is the client server's configuration, standalone or member.
func (c Config) netConfig(logger *slog.Logger) net.Config {
	return net.Config{
		TickTime:          c.TickTime,
		MinSessionTimeout: c.MinSessionTimeout,
		MaxSessionTimeout: c.MaxSessionTimeout,
		MaxClientCnxns:    c.MaxClientCnxns,
		MaxBuffer:         c.MaxBuffer,
		FourLetterWords:   c.FourLetterWords,
		Version:           buildinfo.Read().ServerVersion(),
		// Bounds on writes in flight, by count and bytes.
		GlobalOutstandingLimit:  c.GlobalOutstandingLimit,
		GlobalOutstandingBytes:  c.GlobalOutstandingBytes,
		MaxConnOutstandingBytes: c.ConnOutstandingBytes,
		SuperDigest:             c.SuperDigest,
		Conf:                    c.confDump(),
		Dirs: func() (int64, int64) {
			return dirSize(c.DataDir), dirSize(c.DataLogDir)
		},
		ObserveRequest: c.observeRequest(),
		X509:           c.TLS.X509,
		SASL:           c.saslUsers,
		RequireSASL:    c.SASL.Require,
		Logger:         logger,
	}
}

// observeRequest is the metrics' request observer, nil without metrics.
func (c Config) observeRequest() func(tree.Op, bool, time.Duration) {
	if c.metrics == nil {
		return nil
	}
	return c.metrics.ObserveRequest
}

// observeSnapshot is the metrics' snapshot observer, nil without metrics.
func (c Config) observeSnapshot() func(engine.SnapshotInfo, snapshot.Meta, time.Duration) {
	if c.metrics == nil {
		return nil
	}
	return func(info engine.SnapshotInfo, meta snapshot.Meta, took time.Duration) {
		c.metrics.ObserveSnapshot(took, info.Bytes, meta.Nodes)
	}
}

// jvmSASL takes the JVM properties ZooKeeper's start scripts pass for
// SASL (-Djava.security.auth.login.config, -Dzookeeper.sasl.serverconfig,
// -Dzookeeper.superUser) from flags, so the zookeeper-env.sh of an
// existing deployment keeps working; zoo.cfg and zabd's flags override.
func jvmSASL(s *SASLConfig, flags string) {
	for _, f := range strings.Fields(flags) {
		f = strings.Trim(f, `"'`)
		k, v, ok := strings.Cut(strings.TrimPrefix(f, "-D"), "=")
		if !ok || !strings.HasPrefix(f, "-D") {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "java.security.auth.login.config":
			if s.JAASFile == "" {
				s.JAASFile = v
			}
		case "zookeeper.sasl.serverconfig":
			if s.Section == "" {
				s.Section = v
			}
		case "zookeeper.superUser":
			s.SuperUsers = append(s.SuperUsers, v)
		}
	}
}

// serveMetrics starts answering on the Prometheus endpoint bound at start.
func (s *server) serveMetrics(cfg Config, logger *slog.Logger) {
	if s.metricsL == nil {
		return
	}
	s.metricsL.Serve(cfg.metrics.Gatherer())
	logger.Info("Prometheus metrics serving", "url", "http://"+s.metricsL.Addr().String()+"/metrics")
}

// snapshotterConfig is the snapshotter's configuration over store and log.
func (c Config) snapshotterConfig(store zab.SnapshotStore, log zab.LogPurger, logger *slog.Logger) zab.SnapshotterConfig {
	return zab.SnapshotterConfig{
		Store:         store,
		Log:           log,
		SnapCount:     c.SnapCount,
		Share:         c.SnapSharePercent,
		Snapshot:      snapshot.Options{Codec: c.SnapshotCodec},
		RetainCount:   c.SnapRetainCount,
		PurgeInterval: c.PurgeInterval,
		Logger:        logger,
		OnSnapshot:    c.observeSnapshot(),
	}
}

// legacySecretFile is where a data dir from before the session secret was
// replicated kept it; it is read once, to carry its sessions' passwords
// over, and never written.
const legacySecretFile = "session.secret"

// legacySecret reads the data dir's old session secret, nil if none.
func legacySecret(dataDir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, legacySecretFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
