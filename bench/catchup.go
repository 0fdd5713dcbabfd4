package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"zabd/bench/launch"
)

// CatchUpConfig says how the catch-up benchmark runs. Zero fields take
// the defaults named on them (withDefaults).
type CatchUpConfig struct {
	// Txns creates (one txn each) are written while the follower is down
	// (default 200,000).
	Txns int
	Runs int // stops and restarts per target (default 3); medians are reported
	// Sessions (default 32) with InFlight requests each (default 4) write,
	// spread over the members still running.
	Sessions   int
	InFlight   int
	ValueBytes int // data per create (default 100)
	// PollInterval is the pause between two srvr polls of the restarted
	// follower (default 10ms); it bounds the figures' resolution.
	PollInterval time.Duration
	// Bound is how long the restarted follower may take to be synced
	// (default 10m); LoadTimeout bounds one load (default 30m).
	Bound       time.Duration
	LoadTimeout time.Duration
	Root        string    // prefix of each run's parent znode (default /zabcatchup)
	Log         io.Writer // progress lines; nil for none
	Clock       Clock     // default the real clock
}

func (cc CatchUpConfig) withDefaults() CatchUpConfig {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cc.Txns, 200_000)
	def(&cc.Runs, 3)
	def(&cc.Sessions, 32)
	def(&cc.InFlight, 4)
	def(&cc.ValueBytes, 100)
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&cc.PollInterval, 10*time.Millisecond)
	dur(&cc.Bound, 10*time.Minute)
	dur(&cc.LoadTimeout, 30*time.Minute)
	if cc.Root == "" {
		cc.Root = "/zabcatchup"
	}
	if cc.Clock == nil {
		cc.Clock = realClock{}
	}
	return cc
}

func (cc CatchUpConfig) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: catch-up: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case cc.Txns < 1 || cc.Txns > 100_000_000:
		return bad("txns %d out of [1, 100000000]", cc.Txns)
	case cc.Runs < 1 || cc.Runs > 100:
		return bad("runs %d out of [1, 100]", cc.Runs)
	case cc.Sessions < 1 || cc.Sessions > 1000 || cc.InFlight < 1 || cc.InFlight > 100:
		return bad("sessions %d / in-flight %d out of range", cc.Sessions, cc.InFlight)
	case cc.ValueBytes < 0 || cc.ValueBytes > 1<<20:
		return bad("value size %d out of [0, 1MiB]", cc.ValueBytes)
	case cc.PollInterval <= 0 || cc.Bound <= 0 || cc.LoadTimeout <= 0:
		return bad("non-positive duration")
	case !strings.HasPrefix(cc.Root, "/") || strings.HasSuffix(cc.Root, "/"):
		return bad("root %q must start and not end with /", cc.Root)
	}
	return nil
}

// CatchUpRun is one follower stopped, written past and restarted.
type CatchUpRun struct {
	Follower int `json:"follower"` // the member stopped
	Leader   int `json:"leader"`
	// Txns is how far the leader's zxid moved while the follower was
	// down (the creates, the loading sessions' own txns; -1 if unknown).
	Txns       int64   `json:"txns"`
	LoadS      float64 `json:"load_s"`
	LeaderZxid string  `json:"leader_zxid"`
	// From just before the exec of the restarted follower: its srvr
	// answered at all (process up, its own data loaded), named it a
	// follower (serving), and named it a follower at the leader's zxid
	// (synced). Each overstates the truth by at most one poll interval
	// plus one srvr round trip.
	UpMs      float64 `json:"up_ms"`
	ServingMs float64 `json:"serving_ms"`
	SyncedMs  float64 `json:"synced_ms"`
	// ServerLog holds the follower's and the leader's log lines about how
	// the follower synced (DIFF, SNAP, TRUNC).
	ServerLog []string `json:"server_log,omitempty"`
}

// CatchUpResult is one target's catch-up measurement.
type CatchUpResult struct {
	Target        string       `json:"target"`
	Err           string       `json:"error,omitempty"`
	Runs          []CatchUpRun `json:"runs"`
	MedianMs      float64      `json:"median_ms"` // of SyncedMs
	MinMs         float64      `json:"min_ms"`
	MaxMs         float64      `json:"max_ms"`
	UpMedian      float64      `json:"up_median_ms"`
	ServingMedian float64      `json:"serving_median_ms"`
	LoadMedianS   float64      `json:"load_median_s"`
}

// CatchUpReport is a whole catch-up benchmark.
type CatchUpReport struct {
	Started  time.Time       `json:"started"`
	Took     time.Duration   `json:"took_ns"`
	Txns     int             `json:"txns"`
	Runs     int             `json:"runs"`
	Sessions int             `json:"sessions"`
	InFlight int             `json:"in_flight"`
	Value    int             `json:"value_bytes"`
	PollMs   float64         `json:"poll_ms"`
	Setup    string          `json:"setup,omitempty"`
	Baseline string          `json:"baseline,omitempty"`
	Results  []CatchUpResult `json:"results"`
}

// followerSyncLog matches a follower's log lines about how it synced with
// its leader: ZooKeeper's Learner ("Getting a diff from the leader 0x..",
// "Getting a snapshot from leader", "Getting a truncate").
var followerSyncLog = regexp.MustCompile(`Getting a (diff|snapshot|truncate)`)

// leaderSyncLog matches the leader's log lines about syncing learner id:
// zabd's "zab: syncing ID (last 0x..) in epoch E: DIFF after 0x..",
// ZooKeeper's LearnerHandler "Synchronizing with Learner sid: ID .." and
// "Sending DIFF/TRUNC/SNAP .. sid: ID" (its "Sending snapshot" line names
// no sid).
func leaderSyncLog(id int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`zab: syncing %d |Synchronizing with Learner sid: %d |Sending (DIFF|TRUNC|SNAP).*sid: %d\b|Sending snapshot last zxid`, id, id, id))
}

// RunCatchUp measures catch-up on every target: Runs rounds, the targets
// taking turns; a round stops a follower (SIGTERM), writes Txns creates
// through the members still running, restarts the follower and times how
// long it takes to serve again and to reach the leader's zxid. The first
// target is the baseline of the ratios. Every wait is bounded.
func RunCatchUp(ctx context.Context, cc CatchUpConfig, targets []EnsembleTarget) (*CatchUpReport, error) {
	cc = cc.withDefaults()
	if err := cc.validate(); err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		if cc.Log != nil {
			fmt.Fprintf(cc.Log, "catch-up: "+format+"\n", a...)
		}
	}
	rep := &CatchUpReport{Started: time.Now(), Txns: cc.Txns, Runs: cc.Runs, Sessions: cc.Sessions, InFlight: cc.InFlight,
		Value: cc.ValueBytes, PollMs: float64(cc.PollInterval) / float64(time.Millisecond)}
	if len(targets) > 0 {
		rep.Baseline = targets[0].Name
	}
	rep.Results = make([]CatchUpResult, len(targets))
	for i, t := range targets {
		rep.Results[i].Target = t.Name
	}
	for round := range cc.Runs {
		for i, t := range targets {
			res := &rep.Results[i]
			if res.Err != "" {
				continue
			}
			if ctx.Err() != nil {
				res.Err = ctx.Err().Error()
				continue
			}
			run, err := catchUpRound(ctx, cc, t, round, logf)
			if err != nil {
				res.Err = fmt.Sprintf("run %d: %v", round+1, err)
				logf("%s: %s", t.Name, res.Err)
				continue
			}
			res.Runs = append(res.Runs, run)
			logf("%s: run %d/%d: follower %d, %d txns behind (load %.1fs): up after %.0f ms, serving after %.0f ms, synced after %.0f ms %s",
				t.Name, round+1, cc.Runs, run.Follower, run.Txns, run.LoadS, run.UpMs, run.ServingMs, run.SyncedMs, strings.Join(run.ServerLog, " | "))
		}
	}
	for i := range rep.Results {
		rep.Results[i].summarize()
	}
	rep.Took = time.Since(rep.Started)
	return rep, ctx.Err()
}

func (r *CatchUpResult) summarize() {
	if len(r.Runs) == 0 {
		return
	}
	var s, u, sv, l []float64
	for _, run := range r.Runs {
		s = append(s, run.SyncedMs)
		u = append(u, run.UpMs)
		sv = append(sv, run.ServingMs)
		l = append(l, run.LoadS)
	}
	r.MedianMs = median(s)
	r.MinMs, r.MaxMs = s[0], s[len(s)-1]
	r.UpMedian, r.ServingMedian, r.LoadMedianS = median(u), median(sv), median(l)
}

// catchUpRound is one stop, load and timed restart of a follower of t.
func catchUpRound(ctx context.Context, cc CatchUpConfig, t EnsembleTarget, round int, logf func(string, ...any)) (CatchUpRun, error) {
	e := t.Ensemble
	wctx, cancel := context.WithTimeout(ctx, cc.Bound)
	leader, err := e.WaitServing(wctx)
	cancel()
	if err != nil {
		return CatchUpRun{}, err
	}
	var followers []int
	for _, p := range e.Members {
		if p.ID != leader {
			followers = append(followers, p.ID)
		}
	}
	if len(followers) == 0 {
		return CatchUpRun{}, fmt.Errorf("no follower to stop in a %d-member ensemble", len(e.Members))
	}
	run := CatchUpRun{Leader: leader, Follower: followers[round%len(followers)], Txns: -1}
	f, l := e.Member(run.Follower), e.Member(leader)
	before, err := launch.Srvr(l.Addr, 5*time.Second)
	if err != nil {
		return run, err
	}
	if err := f.Stop(); err != nil {
		return run, fmt.Errorf("stopping follower %d: %w", run.Follower, err)
	}
	var running []string
	for _, p := range e.Members {
		if p.Running() {
			running = append(running, p.Addr)
		}
	}
	logf("%s: run %d: follower %d stopped; writing %d creates through %s", t.Name, round+1, run.Follower, cc.Txns, strings.Join(running, ", "))
	rc := RecoveryConfig{Znodes: cc.Txns, ValueBytes: cc.ValueBytes, OpsPerTxn: 1, Sessions: cc.Sessions, InFlight: cc.InFlight,
		LoadTimeout: cc.LoadTimeout, Root: fmt.Sprintf("%s-%d-%d", cc.Root, round, time.Now().UnixNano())}
	ls, err := loadData(ctx, running, rc)
	if err != nil {
		return run, fmt.Errorf("load: %w", err)
	}
	run.LoadS = ls.Took.Seconds()
	after, err := launch.Srvr(l.Addr, 5*time.Second)
	if err != nil {
		return run, err
	}
	run.LeaderZxid = fmt.Sprintf("0x%x", after.Zxid)
	if before.Zxid >= 0 && after.Zxid >= before.Zxid && after.Zxid>>32 == before.Zxid>>32 {
		run.Txns = after.Zxid - before.Zxid
	}
	logOff, leaderLogOff := fileSize(f.LogPath), fileSize(l.LogPath)
	clk := cc.Clock
	t0 := clk.Now()
	if err := f.Exec(); err != nil {
		return run, fmt.Errorf("restarting follower %d: %w", run.Follower, err)
	}
	deadline := t0.Add(cc.Bound)
	var last string
	for {
		now := clk.Now()
		st, err := launch.Srvr(f.Addr, time.Second)
		switch {
		case err != nil:
			last = err.Error()
		default:
			if run.UpMs == 0 {
				run.UpMs = ms(now.Sub(t0))
			}
			last = fmt.Sprintf("mode %q zxid 0x%x", st.Mode, st.Zxid)
			if st.Mode == "follower" || st.Mode == "leader" {
				if run.ServingMs == 0 {
					run.ServingMs = ms(now.Sub(t0))
				}
				ls, lerr := launch.Srvr(l.Addr, time.Second)
				if lerr == nil && st.Zxid == ls.Zxid {
					run.SyncedMs = ms(clk.Now().Sub(t0))
					run.ServerLog = append(grepLog(f.LogPath, logOff, followerSyncLog), grepLog(l.LogPath, leaderLogOff, leaderSyncLog(run.Follower))...)
					if ls.Mode != "leader" || st.Mode != "follower" {
						return run, fmt.Errorf("member %d is %s and member %d %s once synced; the leader changed during the run", leader, ls.Mode, run.Follower, st.Mode)
					}
					return run, nil
				}
				if lerr == nil {
					last += fmt.Sprintf(", leader at 0x%x", ls.Zxid)
				}
			}
		}
		select {
		case <-f.Done():
			return run, fmt.Errorf("follower %d exited before it synced (last srvr: %s)\n%s", run.Follower, last, f.LogTail(20))
		default:
		}
		if now.After(deadline) {
			return run, fmt.Errorf("follower %d not synced within %v (last srvr: %s)", run.Follower, cc.Bound, last)
		}
		if err := clk.SleepUntil(ctx, now.Add(cc.PollInterval)); err != nil {
			return run, err
		}
	}
}

// fileSize is path's size, 0 when it cannot be read.
func fileSize(path string) int64 {
	if st, err := os.Stat(path); err == nil {
		return st.Size()
	}
	return 0
}

// Ratio is target's median time to sync over the baseline's (below 1:
// faster). ok is false when either is missing.
func (r *CatchUpReport) Ratio(target string) (float64, bool) {
	var a, b *CatchUpResult
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

// Table is the Markdown table of the catch-up figures, one row per target.
func (r *CatchUpReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| target | txns behind | load | restart → synced, median | min | max | runs (ms) | → up (median) | → serving (median) | vs %s |\n", r.Baseline)
	b.WriteString("|---|--:|--:|--:|--:|--:|---|--:|--:|--:|\n")
	for _, res := range r.Results {
		if len(res.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | failed: %s | | | | | | | | |\n", res.Target, mdEscape(shortErr(res.Err)))
			continue
		}
		runs := make([]string, len(res.Runs))
		var txns []string
		for i, run := range res.Runs {
			runs[i] = fmt.Sprintf("%.0f", run.SyncedMs)
			txns = append(txns, fmt.Sprint(run.Txns))
		}
		ratio := ""
		if res.Target != r.Baseline {
			if v, ok := r.Ratio(res.Target); ok {
				ratio = fmt.Sprintf("%.2fx", v)
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.1f s | **%.0f ms** | %.0f | %.0f | %s | %.0f ms | %.0f ms | %s |\n",
			res.Target, strings.Join(dedupe(txns), ", "), res.LoadMedianS, res.MedianMs, res.MinMs, res.MaxMs, strings.Join(runs, ", "),
			res.UpMedian, res.ServingMedian, ratio)
	}
	return b.String()
}

// WriteMarkdown writes the catch-up section of a report.
func (r *CatchUpReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## Catch-up: a follower stopped, written past, restarted\n\n")
	if r.Setup != "" {
		fmt.Fprintf(&b, "%s. ", r.Setup)
	}
	fmt.Fprintf(&b, "A follower is stopped (SIGTERM); %d creates of %d bytes (one txn each) are written through the members still running "+
		"from %d sessions x %d in flight; then the follower is restarted and its srvr polled every %.0f ms. Synced: srvr says Mode: follower and "+
		"its Zxid equals the leader's (asked right after). Beside it: until srvr answered at all (the process up with its own data loaded; "+
		"for ZooKeeper this includes the JVM's start) and until it said follower. \"txns behind\" is how far the leader's zxid moved meanwhile "+
		"(the creates, the parents, the loading sessions' own txns). %d runs per target, the targets taking turns, each stopping another "+
		"follower; the data of earlier runs and points stays, so each restart also loads a larger data dir. The catch-up benchmark took %s.\n\n",
		r.Txns, r.Value, r.Sessions, r.InFlight, r.PollMs, r.Runs, r.Took.Round(time.Second))
	b.WriteString(r.Table())
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
		writeRunLogs(&b, fmt.Sprintf("%s: the follower's and the leader's logs about the sync:", res.Target), "run", logs)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
