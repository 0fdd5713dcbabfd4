package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Restartable is a server process that can be started again on the data
// dir it already has: *launch.Process satisfies it. Exec returns once the
// process runs, without waiting for it to serve; Done is closed when the
// process started last exits.
type Restartable interface {
	Exec() error
	Done() <-chan struct{}
	Stop() error
	Kill() error
}

// RecoveryServer is one freshly started server under a recovery
// measurement, serving and with an empty data dir.
type RecoveryServer struct {
	Addr    string
	Proc    Restartable
	DataDir string // its size is reported after the load; "" for none
	// LogPath is the server's log file; the lines of each restart that
	// match LogPattern (the server's own account of its recovery) are
	// quoted in the report. Either may be empty.
	LogPath    string
	LogPattern *regexp.Regexp
	// Cleanup stops the server and removes its directories.
	Cleanup func() error
}

// RecoveryTarget is one server kind under the recovery benchmark: Start
// brings up a fresh one (bounded by ctx).
type RecoveryTarget struct {
	Name  string
	Start func(ctx context.Context) (*RecoveryServer, error)
}

// RecoveryConfig says what data set to build and how to time restarts.
// Zero fields take the defaults named on them (filled in withDefaults).
type RecoveryConfig struct {
	Znodes     int // leaf znodes to create (default 1,000,000)
	ValueBytes int // data per leaf (default 100)
	// OpsPerTxn creates go in one multi (default 1000): the data set is
	// about Znodes/OpsPerTxn txns. 1 sends plain creates, one txn each.
	OpsPerTxn int
	Sessions  int // loading sessions in parallel (default 8)
	InFlight  int // requests outstanding per loading session (default 2)
	Restarts  int // timed restarts per target (default 3); the median is reported
	// LoadTimeout bounds building the data set on one server (default 30m).
	LoadTimeout time.Duration
	// ReadyTimeout bounds one restart, from exec to the first read served
	// (default 10m); the server is killed when it is exceeded.
	ReadyTimeout time.Duration
	// PollInterval is the pause between first-read attempts (default 10ms);
	// it bounds the measurement's resolution. AttemptTimeout bounds one
	// attempt (default 5s).
	PollInterval   time.Duration
	AttemptTimeout time.Duration
	// Keep leaves each server's directory (data, config, log) in place
	// for inspection; the servers are still stopped.
	Keep  bool
	Root  string    // parent znode of the data set (default /zabrecovery)
	Seed  int64     // value bytes (default 1)
	Log   io.Writer // progress lines; nil for none
	Clock Clock     // default the real clock
}

// recoveryFanout is how many leaves share a parent znode: leaf i is
// Root/p<i/fanout>/n<i%fanout>, so no znode has a million children.
const recoveryFanout = 1000

func (rc RecoveryConfig) withDefaults() RecoveryConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&rc.Znodes, 1_000_000)
	def(&rc.ValueBytes, 100)
	def(&rc.OpsPerTxn, 1000)
	def(&rc.Sessions, 8)
	def(&rc.InFlight, 2)
	def(&rc.Restarts, 3)
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&rc.LoadTimeout, 30*time.Minute)
	dur(&rc.ReadyTimeout, 10*time.Minute)
	dur(&rc.PollInterval, 10*time.Millisecond)
	dur(&rc.AttemptTimeout, 5*time.Second)
	if rc.Root == "" {
		rc.Root = "/zabrecovery"
	}
	if rc.Seed == 0 {
		rc.Seed = 1
	}
	if rc.Clock == nil {
		rc.Clock = realClock{}
	}
	return rc
}

func (rc RecoveryConfig) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: recovery: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case rc.Znodes < 1 || rc.Znodes > 100_000_000:
		return bad("znodes %d out of [1, 100000000]", rc.Znodes)
	case rc.ValueBytes < 0 || rc.ValueBytes > 1<<20:
		return bad("value size %d out of [0, 1MiB]", rc.ValueBytes)
	case rc.OpsPerTxn < 1 || rc.OpsPerTxn > 10000:
		return bad("ops per txn %d out of [1, 10000]", rc.OpsPerTxn)
	case rc.OpsPerTxn*(rc.ValueBytes+100) > 900_000:
		return bad("a multi of %d creates of %d bytes exceeds ZooKeeper's 1 MiB request bound", rc.OpsPerTxn, rc.ValueBytes)
	case rc.Sessions < 1 || rc.Sessions > 1000 || rc.InFlight < 1 || rc.InFlight > 100:
		return bad("sessions %d / in-flight %d out of range", rc.Sessions, rc.InFlight)
	case rc.Restarts < 1 || rc.Restarts > 1000:
		return bad("restarts %d out of [1, 1000]", rc.Restarts)
	case rc.PollInterval < 0 || rc.AttemptTimeout <= 0 || rc.ReadyTimeout <= 0 || rc.LoadTimeout <= 0:
		return bad("non-positive timeout")
	case !strings.HasPrefix(rc.Root, "/") || strings.HasSuffix(rc.Root, "/"):
		return bad("root %q must start and not end with /", rc.Root)
	}
	return nil
}

// leafPath is leaf i's path; probePath is the leaf the first read asks
// for (the last one created in order).
func (rc RecoveryConfig) leafPath(i int) string {
	return rc.Root + "/p" + strconv.Itoa(i/recoveryFanout) + "/n" + strconv.Itoa(i%recoveryFanout)
}

func (rc RecoveryConfig) probePath() string { return rc.leafPath(rc.Znodes - 1) }

// RestartRun is one timed restart.
type RestartRun struct {
	// TookMs is from just before the exec to the first getData answered
	// with the right data.
	TookMs   float64 `json:"took_ms"`
	Attempts int     `json:"attempts"` // first-read attempts made
	// ServerLog holds the server's own log lines about its recovery.
	ServerLog []string `json:"server_log,omitempty"`
}

// RecoveryResult is one target's recovery measurement.
type RecoveryResult struct {
	Target string `json:"target"`
	Err    string `json:"error,omitempty"`

	// What srvr said after the load.
	NodeCount int64  `json:"node_count"`
	Zxid      string `json:"zxid"`
	// Txns is the zxid's counter after the load (txns of its epoch).
	Txns int64 `json:"txns"`

	LoadS               float64 `json:"load_s"`
	LoadZnodesPerSec    float64 `json:"load_znodes_per_sec"`
	LoadGeneratorCPUPct float64 `json:"load_generator_cpu_pct"`
	DataDirBytes        int64   `json:"data_dir_bytes"` // after the load, before the restarts

	Runs     []RestartRun `json:"runs"`
	MedianMs float64      `json:"median_ms"`
	MinMs    float64      `json:"min_ms"`
	MaxMs    float64      `json:"max_ms"`
}

// RecoveryReport is a whole recovery benchmark.
type RecoveryReport struct {
	Started    time.Time        `json:"started"`
	Took       time.Duration    `json:"took_ns"`
	Znodes     int              `json:"znodes"`
	ValueBytes int              `json:"value_bytes"`
	OpsPerTxn  int              `json:"ops_per_txn"`
	Sessions   int              `json:"sessions"`
	InFlight   int              `json:"in_flight"`
	Restarts   int              `json:"restarts"`
	PollMs     float64          `json:"poll_ms"`
	Cores      int              `json:"generator_cores"`
	Baseline   string           `json:"baseline,omitempty"` // ratios are against it
	Results    []RecoveryResult `json:"results"`
}

// Ratio is target's median restart time over the baseline's (below 1:
// faster than the baseline). ok is false when either is missing.
func (r *RecoveryReport) Ratio(target string) (float64, bool) {
	var a, b *RecoveryResult
	for i := range r.Results {
		switch r.Results[i].Target {
		case target:
			a = &r.Results[i]
		case r.Baseline:
			b = &r.Results[i]
		}
	}
	if a == nil || b == nil || len(a.Runs) == 0 || len(b.Runs) == 0 || b.MedianMs == 0 {
		return 0, false
	}
	return a.MedianMs / b.MedianMs, true
}

// RunRecovery measures every target: each gets a fresh server and the
// same data set built through the client protocol (creates batched in
// multis over parallel sessions, so each server writes its log and
// snapshots as it would in production), and is stopped cleanly; then the
// targets are restarted in turn, Restarts rounds with the targets
// interleaved (so drift on a shared machine hits all alike), each timed
// from exec to the first read served. A target that fails is reported
// with its error and the others go on. The first target is the baseline
// of the ratios. Everything is bounded: the load by LoadTimeout, each
// restart by ReadyTimeout, stops by the process's own stop bound.
func RunRecovery(ctx context.Context, rc RecoveryConfig, targets []RecoveryTarget) (*RecoveryReport, error) {
	rc = rc.withDefaults()
	if err := rc.validate(); err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		if rc.Log != nil {
			fmt.Fprintf(rc.Log, "recovery: "+format+"\n", a...)
		}
	}
	rep := &RecoveryReport{
		Started: time.Now(), Znodes: rc.Znodes, ValueBytes: rc.ValueBytes, OpsPerTxn: rc.OpsPerTxn,
		Sessions: rc.Sessions, InFlight: rc.InFlight, Restarts: rc.Restarts,
		PollMs: float64(rc.PollInterval) / float64(time.Millisecond), Cores: runtime.NumCPU(),
	}
	if len(targets) > 0 {
		rep.Baseline = targets[0].Name
	}
	rep.Results = make([]RecoveryResult, len(targets))
	servers := make([]*RecoveryServer, len(targets))
	defer func() {
		for i, s := range servers {
			if s == nil {
				continue
			}
			if rc.Keep {
				if err := s.Proc.Stop(); err != nil {
					logf("%s: stop: %v", targets[i].Name, err)
				}
				continue
			}
			if s.Cleanup != nil {
				if err := s.Cleanup(); err != nil {
					logf("%s: cleanup: %v", targets[i].Name, err)
				}
			}
		}
	}()
	fail := func(i int, err error) {
		rep.Results[i].Err = err.Error()
		logf("%s: %v", targets[i].Name, err)
	}
	for i, t := range targets {
		res := &rep.Results[i]
		res.Target = t.Name
		if ctx.Err() != nil {
			fail(i, ctx.Err())
			continue
		}
		logf("%s: starting on an empty data dir", t.Name)
		s, err := t.Start(ctx)
		if err != nil {
			fail(i, fmt.Errorf("did not start: %w", err))
			continue
		}
		servers[i] = s
		logf("%s: loading %d znodes of %d bytes, %d creates per txn, %d sessions x %d in flight",
			t.Name, rc.Znodes, rc.ValueBytes, rc.OpsPerTxn, rc.Sessions, rc.InFlight)
		ls, err := LoadRecoveryData(ctx, s.Addr, rc)
		if err != nil {
			_ = s.Proc.Kill()
			fail(i, fmt.Errorf("load: %w", err))
			continue
		}
		res.LoadS, res.LoadZnodesPerSec, res.LoadGeneratorCPUPct = ls.Took.Seconds(), ls.ZnodesPerSec(), ls.GeneratorCPUPct
		res.NodeCount, res.Zxid, res.Txns = ls.NodeCount, ls.Zxid, ls.Txns
		logf("%s: loaded in %.1fs (%.0f znodes/s, generator %.0f%% of a core); srvr: %d znodes, zxid %s",
			t.Name, res.LoadS, res.LoadZnodesPerSec, res.LoadGeneratorCPUPct, res.NodeCount, res.Zxid)
		if err := s.Proc.Stop(); err != nil {
			fail(i, fmt.Errorf("stop after load: %w", err))
			continue
		}
		if s.DataDir != "" {
			res.DataDirBytes = dirBytes(s.DataDir)
		}
	}
	for round := range rc.Restarts {
		for i, t := range targets {
			res := &rep.Results[i]
			if res.Err != "" {
				continue
			}
			if ctx.Err() != nil {
				fail(i, ctx.Err())
				continue
			}
			s := servers[i]
			run, err := timeRestart(ctx, rc, s)
			if err != nil {
				fail(i, fmt.Errorf("restart %d: %w", round+1, err))
				continue
			}
			res.Runs = append(res.Runs, run)
			logf("%s: restart %d/%d: first read after %.0f ms (%d attempts) %s",
				t.Name, round+1, rc.Restarts, run.TookMs, run.Attempts, strings.Join(run.ServerLog, " | "))
			if err := s.Proc.Stop(); err != nil {
				fail(i, fmt.Errorf("stop after restart %d: %w", round+1, err))
			}
		}
	}
	for i := range rep.Results {
		rep.Results[i].summarize()
	}
	rep.Took = time.Since(rep.Started)
	return rep, ctx.Err()
}

// summarize fills the median, min and max of the runs.
func (r *RecoveryResult) summarize() {
	if len(r.Runs) == 0 {
		return
	}
	v := make([]float64, len(r.Runs))
	for i, run := range r.Runs {
		v[i] = run.TookMs
	}
	r.MedianMs = median(v) // sorts v
	r.MinMs, r.MaxMs = v[0], v[len(v)-1]
}

// timeRestart execs the server on its data dir and polls for the first
// read until it is served, the process exits, or ReadyTimeout passes; the
// server is left running on success and killed on failure.
func timeRestart(ctx context.Context, rc RecoveryConfig, s *RecoveryServer) (RestartRun, error) {
	var logOff int64 = -1
	if s.LogPath != "" && s.LogPattern != nil {
		if st, err := os.Stat(s.LogPath); err == nil {
			logOff = st.Size()
		} else if errors.Is(err, os.ErrNotExist) {
			logOff = 0
		}
	}
	start := func(ctx context.Context, timeout time.Duration) <-chan error {
		ch := make(chan error, 1)
		go func() { ch <- FirstRead(ctx, s.Addr, rc.probePath(), rc.ValueBytes, timeout) }()
		return ch
	}
	took, attempts, err := pollRestart(ctx, rc.Clock, s.Proc, start, rc.PollInterval, rc.AttemptTimeout, rc.ReadyTimeout)
	run := RestartRun{TookMs: float64(took) / float64(time.Millisecond), Attempts: attempts}
	if logOff >= 0 {
		run.ServerLog = grepLog(s.LogPath, logOff, s.LogPattern)
	}
	if err != nil && len(run.ServerLog) > 0 {
		err = fmt.Errorf("%w (server log: %s)", err, strings.Join(run.ServerLog, " | "))
	}
	return run, err
}

// maxPendingAttempts bounds the first-read attempts outstanding at once.
const maxPendingAttempts = 16

// pollRestart is the timing core of timeRestart. It takes the time t0,
// execs the process, then polls with pollAttempts until an attempt
// succeeds (see there); the result is the time from t0 to the tick at
// which a successful attempt was seen, so it overstates the truth by at
// most one interval plus one attempt's round trip. It also returns the
// attempts started. An attempt failing with ErrWrongRead or the process
// exiting ends the wait at once. On failure the process is killed.
func pollRestart(ctx context.Context, clk Clock, p Restartable, start func(context.Context, time.Duration) <-chan error,
	interval, attemptTimeout, bound time.Duration) (time.Duration, int, error) {
	t0 := clk.Now()
	if err := p.Exec(); err != nil {
		return 0, 0, err
	}
	took, attempts, err := pollAttempts(ctx, clk, t0, "first read", start, interval, attemptTimeout, bound, p.Done,
		func(err error) bool { return errors.Is(err, ErrWrongRead) })
	if err != nil {
		_ = p.Kill()
		if errors.Is(err, errExited) {
			err = fmt.Errorf("server exited before serving the first read (%w)", err)
		}
	}
	return took, attempts, err
}

// errExited: pollAttempts' exited channel was closed.
var errExited = errors.New("bench: the process exited")

// pollAttempts is a timing loop from t0: every interval (a tick) it
// collects the results of the attempts started so far and starts a new
// one, each bounded by attemptTimeout and what is left of bound. Attempts
// overlap: one the server leaves unanswered (Apache ZooKeeper may hold a
// connection made while it loads) does not hold up later ones. It returns
// the time from t0 to the tick at which a successful attempt was seen,
// and the attempts started; what names an attempt's goal in errors. Bounds: at most bound/interval+1 attempts, at
// most maxPendingAttempts outstanding, and bound itself; an attempt
// failing with an error fatal says is fatal, or the channel exited returns
// being closed (exited nil: never), ends the wait at once with an error
// (errExited for the latter).
// Outstanding attempts are cancelled when it returns.
func pollAttempts(ctx context.Context, clk Clock, t0 time.Time, what string, start func(context.Context, time.Duration) <-chan error,
	interval, attemptTimeout, bound time.Duration, exited func() <-chan struct{}, fatal func(error) bool) (time.Duration, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if interval <= 0 {
		interval = time.Millisecond
	}
	maxAttempts := int(bound/interval) + 1
	deadline := t0.Add(bound)
	attempts := 0
	fail := func(err error) (time.Duration, int, error) {
		return clk.Now().Sub(t0), attempts, err
	}
	var pending []<-chan error
	var last error
	for {
		now := clk.Now()
		left := deadline.Sub(now)
		if left > 0 && attempts < maxAttempts && len(pending) < maxPendingAttempts {
			pending = append(pending, start(ctx, min(attemptTimeout, left)))
			attempts++
		}
		kept := pending[:0]
		for _, ch := range pending {
			select {
			case err := <-ch:
				if err == nil {
					return clk.Now().Sub(t0), attempts, nil
				}
				if fatal != nil && fatal(err) {
					return fail(err)
				}
				last = err
			default:
				kept = append(kept, ch)
			}
		}
		pending = kept
		if exited != nil {
			select {
			case <-exited():
				return fail(fmt.Errorf("%w (last attempt: %v)", errExited, last))
			default:
			}
		}
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if left <= 0 || (attempts >= maxAttempts && len(pending) == 0) {
			return fail(fmt.Errorf("no %s within %v after %d attempts (last: %v)", what, bound, attempts, last))
		}
		if err := clk.SleepUntil(ctx, now.Add(interval)); err != nil {
			return fail(err)
		}
	}
}

// grepLog returns the lines of path from offset on that match re, at
// most 20, each at most 300 bytes, reading at most 8 MiB.
func grepLog(path string, offset int64, re *regexp.Regexp) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	sc := bufio.NewScanner(io.LimitReader(f, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []string
	for sc.Scan() && len(out) < 20 {
		line := strings.TrimSpace(sc.Text())
		if re.MatchString(line) {
			if len(line) > 300 {
				line = line[:300] + "..."
			}
			out = append(out, line)
		}
	}
	return out
}

// dirBytes is the total size of the regular files under dir (0 on error).
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// Table is the Markdown table of the recovery figures, one row per
// target, with the ratio of each median to the baseline's.
func (r *RecoveryReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| target | znodes (srvr) | txns | data dir | load | load rate | load gen CPU %% | restart → first read, median | min | max | runs (ms) | vs %s |\n", r.Baseline)
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|\n")
	for _, res := range r.Results {
		if len(res.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | failed: %s | | | | | | | | | | |\n", res.Target, mdEscape(shortErr(res.Err)))
			continue
		}
		runs := make([]string, len(res.Runs))
		for i, run := range res.Runs {
			runs[i] = fmt.Sprintf("%.0f", run.TookMs)
		}
		ratio := ""
		if res.Target != r.Baseline {
			if v, ok := r.Ratio(res.Target); ok {
				ratio = fmt.Sprintf("%.2fx", v)
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %.1f MiB | %.1f s | %.0f znodes/s | %.0f | **%.0f ms** | %.0f | %.0f | %s | %s |\n",
			res.Target, res.NodeCount, res.Txns, float64(res.DataDirBytes)/(1<<20), res.LoadS, res.LoadZnodesPerSec,
			res.LoadGeneratorCPUPct, res.MedianMs, res.MinMs, res.MaxMs, strings.Join(runs, ", "), ratio)
	}
	return b.String()
}

// WriteMarkdown writes the recovery section of a report: how the data was
// built and timed, the table, errors, and each server's own log lines
// about its recovery.
func (r *RecoveryReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## Recovery: restart until the first read is served\n\n")
	fmt.Fprintf(&b, "Each server started on an empty data dir (forceSync on, snapshot settings at the server's defaults) and got the same data "+
		"through the client protocol: %d znodes of %d bytes under %d parents, %d creates per multi, from %d sessions x %d in flight. "+
		"It was then stopped (SIGTERM) and restarted %d times, the servers taking turns; each restart is timed from just before the exec "+
		"to the first getData answered with the right %d bytes (a fresh connection and session every %.0f ms until then; a restart's "+
		"time overstates the truth by at most one interval plus one attempt). Page cache warm; one server runs at a time. "+
		"The recovery benchmark took %s.\n\n",
		r.Znodes, r.ValueBytes, (r.Znodes+recoveryFanout-1)/recoveryFanout, r.OpsPerTxn, r.Sessions, r.InFlight,
		r.Restarts, r.ValueBytes, r.PollMs, r.Took.Round(time.Second))
	b.WriteString(r.Table())
	b.WriteString("\nThe load column is the generator's own CPU while building the data (% of one core, " +
		strconv.Itoa(r.Cores) + " cores here). \"znodes (srvr)\" and \"txns\" are what srvr reported after the load " +
		"(txns: the zxid's counter).\n")
	var errs [][2]string
	for _, res := range r.Results {
		errs = append(errs, [2]string{res.Target, res.Err})
	}
	writeErrorNotes(&b, errs)
	for _, res := range r.Results {
		logs := make([][]string, len(res.Runs))
		for i, run := range res.Runs {
			logs[i] = run.ServerLog
		}
		writeRunLogs(&b, fmt.Sprintf("%s's own log about each restart:", res.Target), "restart", logs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortErr is an error message on one line: its first line and, when it
// carries more (a server's log tail), the last non-empty line of that,
// which is usually the server's own last word.
func shortErr(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) == 1 {
		return lines[0]
	}
	return lines[0] + " … " + strings.TrimSpace(lines[len(lines)-1])
}

// mdEscape keeps s on one table line: newlines become spaces, pipes are
// escaped.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
