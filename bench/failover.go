package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
)

// EnsembleTarget is a running ensemble under the failover or catch-up
// benchmark.
type EnsembleTarget struct {
	Name     string
	Ensemble *launch.Ensemble
}

// FailoverConfig says how the failover benchmark runs. Zero fields take
// the defaults named on them (withDefaults).
type FailoverConfig struct {
	Kills int // leader kills per target (default 5); the median is reported
	// Writers sessions (default 8) keep a steady write load of Rate
	// setData/s in total (default 500), open loop, before, during and
	// after each kill. Writer i starts on member i mod N and, as any
	// go-zookeeper client, moves to the next member when its connection
	// breaks.
	Writers int
	Rate    float64
	Settle  time.Duration // load before each kill (default 2s)
	// ProbeInterval is the pause between two write probes after a kill
	// (default 5ms); it bounds the figure's resolution. AttemptTimeout
	// bounds one probe (default 2s).
	ProbeInterval  time.Duration
	AttemptTimeout time.Duration
	// Bound is how long after a kill a write may take to be acknowledged
	// before the round fails (default 60s). RejoinTimeout bounds the
	// killed member's restart until every member serves (default 3m).
	Bound         time.Duration
	RejoinTimeout time.Duration
	ValueBytes    int       // data per write (default 100)
	Root          string    // parent znode of the writers' and probes' znodes (default /zabfailover)
	Log           io.Writer // progress lines; nil for none
	Clock         Clock     // default the real clock
}

func (fc FailoverConfig) withDefaults() FailoverConfig {
	if fc.Kills == 0 {
		fc.Kills = 5
	}
	if fc.Writers == 0 {
		fc.Writers = 8
	}
	if fc.Rate == 0 {
		fc.Rate = 500
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&fc.Settle, 2*time.Second)
	dur(&fc.ProbeInterval, 5*time.Millisecond)
	dur(&fc.AttemptTimeout, 2*time.Second)
	dur(&fc.Bound, time.Minute)
	dur(&fc.RejoinTimeout, 3*time.Minute)
	if fc.ValueBytes == 0 {
		fc.ValueBytes = 100
	}
	if fc.Root == "" {
		fc.Root = "/zabfailover"
	}
	if fc.Clock == nil {
		fc.Clock = realClock{}
	}
	return fc
}

func (fc FailoverConfig) validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: failover: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch {
	case fc.Kills < 1 || fc.Kills > 1000:
		return bad("kills %d out of [1, 1000]", fc.Kills)
	case fc.Writers < 1 || fc.Writers > 1000:
		return bad("writers %d out of [1, 1000]", fc.Writers)
	case fc.Rate < 0:
		return bad("negative rate %g", fc.Rate)
	case fc.ValueBytes < 0 || fc.ValueBytes > 1<<20:
		return bad("value size %d out of [0, 1MiB]", fc.ValueBytes)
	case fc.Settle < 0 || fc.ProbeInterval < 0 || fc.AttemptTimeout <= 0 || fc.Bound <= 0 || fc.RejoinTimeout <= 0:
		return bad("negative or zero duration")
	case !strings.HasPrefix(fc.Root, "/") || strings.HasSuffix(fc.Root, "/"):
		return bad("root %q must start and not end with /", fc.Root)
	}
	return nil
}

// FailoverRun is one leader kill.
type FailoverRun struct {
	Killed    int `json:"killed"`     // the leader's member id
	NewLeader int `json:"new_leader"` // who led once every survivor served
	// WriteMs is from just before the SIGKILL to the first write probe
	// acknowledged (a fresh connection, session and create through a
	// surviving member, one started every ProbeInterval).
	WriteMs  float64 `json:"write_ms"`
	Attempts int     `json:"attempts"`
	// LeaderMs is from the kill until every surviving member's srvr named
	// its role with one leader among them (polled every 20 ms).
	LeaderMs float64 `json:"leader_ms"`
	// LoadWriteMs is from the kill to the first acknowledgement of a load
	// write sent after it (a go-zookeeper session, with that library's
	// reconnection: it waits 1s each time it has tried every member);
	// -1 when none came within the bound.
	LoadWriteMs float64 `json:"load_write_ms"`
	// Load writes acknowledged and failed over the round.
	LoadAcked  int64 `json:"load_acked"`
	LoadFailed int64 `json:"load_failed"`
	// RejoinMs is the killed member's restart until it served again.
	RejoinMs float64 `json:"rejoin_ms"`
}

// FailoverResult is one target's failover measurement.
type FailoverResult struct {
	Target string        `json:"target"`
	Err    string        `json:"error,omitempty"`
	Runs   []FailoverRun `json:"runs"`
	// Medians over Runs; MinMs and MaxMs are WriteMs's.
	MedianMs     float64 `json:"median_ms"`
	MinMs        float64 `json:"min_ms"`
	MaxMs        float64 `json:"max_ms"`
	LeaderMedian float64 `json:"leader_median_ms"`
	LoadMedian   float64 `json:"load_median_ms"` // over the runs where the load saw a write
	RejoinMedian float64 `json:"rejoin_median_ms"`
}

// FailoverReport is a whole failover benchmark.
type FailoverReport struct {
	Started  time.Time        `json:"started"`
	Took     time.Duration    `json:"took_ns"`
	Kills    int              `json:"kills"`
	Writers  int              `json:"writers"`
	Rate     float64          `json:"rate"`
	Value    int              `json:"value_bytes"`
	SettleS  float64          `json:"settle_s"`
	ProbeMs  float64          `json:"probe_ms"`
	Setup    string           `json:"setup,omitempty"` // the ensembles' settings
	Baseline string           `json:"baseline,omitempty"`
	Results  []FailoverResult `json:"results"`
}

// RunFailover measures failover on every target: Kills rounds, the
// targets taking turns in each; a round starts the steady write load,
// lets it run for Settle, kills the leader with SIGKILL, and times the
// first write acknowledged afterwards (and the new leader, and what the
// load's own clients saw); then it stops the load, restarts the killed
// member and waits until every member serves. The first target is the
// baseline of the ratios. A target that fails is reported with its error
// and the others go on. Every wait is bounded.
func RunFailover(ctx context.Context, fc FailoverConfig, targets []EnsembleTarget) (*FailoverReport, error) {
	fc = fc.withDefaults()
	if err := fc.validate(); err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		if fc.Log != nil {
			fmt.Fprintf(fc.Log, "failover: "+format+"\n", a...)
		}
	}
	rep := &FailoverReport{Started: time.Now(), Kills: fc.Kills, Writers: fc.Writers, Rate: fc.Rate, Value: fc.ValueBytes,
		SettleS: fc.Settle.Seconds(), ProbeMs: float64(fc.ProbeInterval) / float64(time.Millisecond)}
	if len(targets) > 0 {
		rep.Baseline = targets[0].Name
	}
	rep.Results = make([]FailoverResult, len(targets))
	for i, t := range targets {
		rep.Results[i].Target = t.Name
	}
	for round := range fc.Kills {
		for i, t := range targets {
			res := &rep.Results[i]
			if res.Err != "" {
				continue
			}
			if ctx.Err() != nil {
				res.Err = ctx.Err().Error()
				continue
			}
			run, err := failoverRound(ctx, fc, t, round)
			if err != nil {
				res.Err = fmt.Sprintf("kill %d: %v", round+1, err)
				logf("%s: %s", t.Name, res.Err)
				continue
			}
			res.Runs = append(res.Runs, run)
			logf("%s: kill %d/%d of leader %d: write acknowledged after %.0f ms (%d probes), leader %d serving after %.0f ms, load's first write after %.0f ms; rejoined in %.0f ms",
				t.Name, round+1, fc.Kills, run.Killed, run.WriteMs, run.Attempts, run.NewLeader, run.LeaderMs, run.LoadWriteMs, run.RejoinMs)
		}
	}
	for i := range rep.Results {
		rep.Results[i].summarize()
	}
	rep.Took = time.Since(rep.Started)
	return rep, ctx.Err()
}

func (r *FailoverResult) summarize() {
	if len(r.Runs) == 0 {
		return
	}
	var w, l, ld, rj []float64
	for _, run := range r.Runs {
		w = append(w, run.WriteMs)
		l = append(l, run.LeaderMs)
		rj = append(rj, run.RejoinMs)
		if run.LoadWriteMs >= 0 {
			ld = append(ld, run.LoadWriteMs)
		}
	}
	r.MedianMs = median(w) // sorts w
	r.MinMs, r.MaxMs = w[0], w[len(w)-1]
	r.LeaderMedian, r.LoadMedian, r.RejoinMedian = median(l), median(ld), median(rj)
}

// failoverRound is one kill of t's leader, measured, and the rejoin.
func failoverRound(ctx context.Context, fc FailoverConfig, t EnsembleTarget, round int) (FailoverRun, error) {
	e := t.Ensemble
	wctx, cancel := context.WithTimeout(ctx, fc.RejoinTimeout)
	leader, err := e.WaitServing(wctx)
	cancel()
	if err != nil {
		return FailoverRun{}, err
	}
	run := FailoverRun{Killed: leader, LoadWriteMs: -1}
	ld := newFailoverLoad(fc, e.Addrs())
	if err := ld.start(ctx); err != nil {
		ld.stop()
		return run, err
	}
	if err := fc.Clock.SleepUntil(ctx, fc.Clock.Now().Add(fc.Settle)); err != nil {
		ld.stop()
		return run, err
	}
	var survivors []string
	for _, p := range e.Members {
		if p.ID != leader && p.Running() {
			survivors = append(survivors, p.Addr)
		}
	}
	victim := e.Member(leader)
	value := make([]byte, fc.ValueBytes)

	t0 := fc.Clock.Now()
	ld.kill.Store(t0.UnixNano())
	killed := make(chan error, 1)
	go func() { killed <- victim.Kill() }()
	elected := make(chan int, 1)
	var leaderAt time.Time
	go func() {
		lctx, cancel := context.WithTimeout(ctx, fc.Bound)
		defer cancel()
		id, _ := e.WaitServing(lctx)
		leaderAt = fc.Clock.Now()
		elected <- id
	}()
	var n atomic.Int64
	prefix := fmt.Sprintf("%s/probe-%d-%d-", fc.Root, round, t0.UnixNano())
	startProbe := func(ctx context.Context, timeout time.Duration) <-chan error {
		i := n.Add(1) - 1
		ch := make(chan error, 1)
		go func() {
			ch <- FirstWrite(ctx, survivors[int(i)%len(survivors)], prefix+strconv.FormatInt(i, 10), value, timeout)
		}()
		return ch
	}
	took, attempts, err := pollAttempts(ctx, fc.Clock, t0, "write acknowledged", startProbe, fc.ProbeInterval, fc.AttemptTimeout, fc.Bound, nil,
		func(err error) bool { return errors.Is(err, ErrWrongWrite) })
	run.WriteMs, run.Attempts = ms(took), attempts
	if kerr := <-killed; kerr != nil && err == nil {
		err = kerr
	}
	run.NewLeader = <-elected
	if run.NewLeader != 0 {
		run.LeaderMs = ms(leaderAt.Sub(t0))
	}
	if err == nil {
		// Give the load's clients their chance (their library waits 1s
		// between passes over the members), bounded.
		deadline := t0.Add(fc.Bound)
		for ld.firstAck.Load() == 0 && fc.Clock.Now().Before(deadline) && ctx.Err() == nil {
			_ = fc.Clock.SleepUntil(ctx, fc.Clock.Now().Add(10*time.Millisecond))
		}
	}
	if a := ld.firstAck.Load(); a != 0 {
		run.LoadWriteMs = ms(time.Duration(a - t0.UnixNano()))
	}
	ld.stop()
	run.LoadAcked, run.LoadFailed = ld.acked.Load(), ld.failed.Load()
	if err != nil {
		return run, err
	}
	r0 := fc.Clock.Now()
	rctx, cancel := context.WithTimeout(ctx, fc.RejoinTimeout)
	defer cancel()
	if err := victim.Restart(rctx); err != nil {
		return run, fmt.Errorf("restarting member %d: %w", leader, err)
	}
	if _, err := e.WaitServing(rctx); err != nil {
		return run, err
	}
	run.RejoinMs = ms(fc.Clock.Now().Sub(r0))
	return run, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// failoverLoad is the steady write load of a failover round: Writers
// go-zookeeper sessions, each setting its own znode at Rate/Writers per
// second on a fixed schedule (a write that takes longer delays the next;
// missed slots are skipped, not made up).
//
// Concurrency: the counters are atomics; conns is written by start before
// the writers run and read by stop after they are done.
type failoverLoad struct {
	fc    FailoverConfig
	addrs []string
	conns []*zk.Conn
	wg    sync.WaitGroup
	stopc chan struct{}

	kill     atomic.Int64 // the kill's time (unix ns); 0 before it
	firstAck atomic.Int64 // earliest ack (unix ns) of a write sent at or after kill; 0 for none
	acked    atomic.Int64
	failed   atomic.Int64
}

func newFailoverLoad(fc FailoverConfig, addrs []string) *failoverLoad {
	return &failoverLoad{fc: fc, addrs: addrs, stopc: make(chan struct{})}
}

// start connects the writers (each must get a session, bounded), makes
// sure their znodes exist and starts them.
func (l *failoverLoad) start(ctx context.Context) error {
	value := make([]byte, l.fc.ValueBytes)
	for i := range l.fc.Writers {
		c, err := l.dial(ctx, i)
		if err != nil {
			return err
		}
		l.conns = append(l.conns, c)
	}
	if _, err := l.conns[0].Create(l.fc.Root, nil, 0, worldACL); err != nil && !isNodeExists(err) {
		return fmt.Errorf("bench: failover: create %s: %w", l.fc.Root, err)
	}
	for i, c := range l.conns {
		if _, err := c.Create(l.key(i), value, 0, worldACL); err != nil && !isNodeExists(err) {
			return fmt.Errorf("bench: failover: create %s: %w", l.key(i), err)
		}
	}
	interval := time.Duration(float64(time.Second) * float64(l.fc.Writers) / l.fc.Rate)
	if l.fc.Rate == 0 {
		interval = 0
	}
	for i, c := range l.conns {
		l.wg.Add(1)
		go l.write(c, l.key(i), value, interval, time.Duration(i)*interval/time.Duration(l.fc.Writers))
	}
	return nil
}

func (l *failoverLoad) key(i int) string { return l.fc.Root + "/w" + strconv.Itoa(i) }

// dial opens writer i's session: every member listed, member i mod N
// first, in order (go-zookeeper's default provider would shuffle them).
func (l *failoverLoad) dial(ctx context.Context, i int) (*zk.Conn, error) {
	n := len(l.addrs)
	order := make([]string, n)
	for j := range n {
		order[j] = l.addrs[(i+j)%n]
	}
	c, events, err := zk.Connect(order, 10*time.Second, zk.WithLogger(quietLogger{}), zk.WithLogInfo(false),
		zk.WithHostProvider(&orderedHosts{}))
	if err != nil {
		return nil, fmt.Errorf("bench: failover: connect: %w", err)
	}
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, nil
			}
		case <-timer.C:
			c.Close()
			return nil, fmt.Errorf("bench: failover: no session with %s within 10s: %w", order[0], ErrEventTimeout)
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
	}
}

// write is one writer's loop, its first write offset by phase.
func (l *failoverLoad) write(c *zk.Conn, key string, value []byte, interval, phase time.Duration) {
	defer l.wg.Done()
	clk := l.fc.Clock
	next := clk.Now().Add(phase)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	for {
		if err := clk.SleepUntil(ctx, next); err != nil {
			return
		}
		sent := clk.Now()
		_, err := c.Set(key, value, -1)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			l.failed.Add(1)
		} else {
			l.acked.Add(1)
			if k := l.kill.Load(); k != 0 && sent.UnixNano() >= k {
				at := clk.Now().UnixNano()
				for {
					old := l.firstAck.Load()
					if (old != 0 && old <= at) || l.firstAck.CompareAndSwap(old, at) {
						break
					}
				}
			}
		}
		next = next.Add(interval)
		if now := clk.Now(); next.Before(now) {
			next = now
		}
		if err != nil {
			// A failed write (connection loss, no server) returns at once;
			// do not spin.
			next = maxTime(next, clk.Now().Add(10*time.Millisecond))
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// stop ends the writers and closes their sessions.
func (l *failoverLoad) stop() {
	close(l.stopc)
	var wg sync.WaitGroup
	for _, c := range l.conns {
		wg.Add(1)
		go func() { defer wg.Done(); c.Close() }()
	}
	wg.Wait()
	l.wg.Wait()
}

// orderedHosts is a go-zookeeper HostProvider that tries the servers in
// the order given, round robin, instead of shuffling them.
//
// Concurrency: go-zookeeper calls it from its connection loop only.
type orderedHosts struct {
	servers []string
	next    int // index of the server Next returns
	tried   int // servers tried since the last Connected
}

func (h *orderedHosts) Init(servers []string) error {
	if len(servers) == 0 {
		return errors.New("bench: no servers")
	}
	h.servers = servers
	return nil
}

func (h *orderedHosts) Len() int { return len(h.servers) }

func (h *orderedHosts) Next() (string, bool) {
	s := h.servers[h.next]
	h.next = (h.next + 1) % len(h.servers)
	retry := h.tried >= len(h.servers)
	if retry {
		h.tried = 0
	}
	h.tried++
	return s, retry
}

func (h *orderedHosts) Connected() { h.tried = 0 }

// Ratio is target's median first-write time over the baseline's (below 1:
// faster than the baseline). ok is false when either is missing.
func (r *FailoverReport) Ratio(target string) (float64, bool) {
	var a, b *FailoverResult
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

// Table is the Markdown table of the failover figures, one row per
// target.
func (r *FailoverReport) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| target | kill → write acknowledged, median | min | max | runs (ms) | kill → new leader, all serving (median) | load's first write (median) | rejoin (median) | vs %s |\n", r.Baseline)
	b.WriteString("|---|--:|--:|--:|---|--:|--:|--:|--:|\n")
	for _, res := range r.Results {
		if len(res.Runs) == 0 {
			fmt.Fprintf(&b, "| %s | failed: %s | | | | | | | |\n", res.Target, mdEscape(shortErr(res.Err)))
			continue
		}
		runs := make([]string, len(res.Runs))
		for i, run := range res.Runs {
			runs[i] = fmt.Sprintf("%.0f", run.WriteMs)
		}
		ratio := ""
		if res.Target != r.Baseline {
			if v, ok := r.Ratio(res.Target); ok {
				ratio = fmt.Sprintf("%.2fx", v)
			}
		}
		fmt.Fprintf(&b, "| %s | **%.0f ms** | %.0f | %.0f | %s | %.0f ms | %.0f ms | %.0f ms | %s |\n",
			res.Target, res.MedianMs, res.MinMs, res.MaxMs, strings.Join(runs, ", "), res.LeaderMedian, res.LoadMedian, res.RejoinMedian, ratio)
	}
	return b.String()
}

// WriteMarkdown writes the failover section of a report.
func (r *FailoverReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("## Failover: leader killed -9 under a steady write load\n\n")
	if r.Setup != "" {
		fmt.Fprintf(&b, "%s. ", r.Setup)
	}
	fmt.Fprintf(&b, "%d sessions write (setData of %d bytes, each its own znode) at %.0f writes/s in total, open loop, spread over the members; "+
		"after %.1f s the leader is killed with SIGKILL. The figure is the time from just before the kill to the first write acknowledged "+
		"afterwards: a probe (a fresh connection, session and create, speaking the wire protocol itself, so no client library's back-off "+
		"counts) is started every %.0f ms round robin over the surviving members, attempts overlapping; it overstates the truth by at most one "+
		"interval plus one round trip. Beside it: the time until every survivor's srvr named its role with one leader, and the time until "+
		"the load's own go-zookeeper sessions had a write sent after the kill acknowledged (that library waits 1 s after each pass over "+
		"the members). Then the load stops, the killed member is restarted and every member serves again (rejoin) before the next kill; "+
		"%d kills per target, the targets taking turns. The failover benchmark took %s.\n\n",
		r.Writers, r.Value, r.Rate, r.SettleS, r.ProbeMs, r.Kills, r.Took.Round(time.Second))
	b.WriteString(r.Table())
	var errs [][2]string
	for _, res := range r.Results {
		errs = append(errs, [2]string{res.Target, res.Err})
	}
	writeErrorNotes(&b, errs)
	_, err := io.WriteString(w, b.String())
	return err
}
