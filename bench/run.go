package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/go-zookeeper/zk"

	"zabd/bench/wire"
)

// Progress is a live snapshot handed to Config.Progress.
//
// Phases come in order: "setup" (sessions, the run's znodes), "warmup",
// "measure", "drain" (the measured phase is over, outstanding requests
// finish), "cleanup" (the run's znodes deleted) and "done". Only "done"
// carries the run's figures: OpsPerSec and P99Ms are then the report's
// (the measured phase as a whole), Ops and Errors its measured
// successes and failures. Before it, OpsPerSec and P99Ms are over the
// last interval and Ops and Errors count every phase so far.
type Progress struct {
	Phase string
	// Elapsed is the time spent in this phase; Length the phase's planned
	// length (warmup and measure with a --duration), else 0.
	Elapsed, Length time.Duration
	OpsPerSec       float64
	P99Ms           float64
	Ops             int64
	Errors          int64
}

// maxRecorders caps how many recorders (each two histograms) a run keeps;
// workers share them round robin.
const maxRecorders = 64

// generatorLimitPct is the generator CPU (percent of one core) above which
// a figure is flagged as possibly limited by the generator.
const generatorLimitPct = 80

// stealNoisyPct: a run during which the hypervisor took more than this
// share of the machine's CPU (steal) is flagged as noisy.
const stealNoisyPct = 5

// otherNoisyPct: a run during which other processes of this machine used
// more than this share of one core is flagged as noisy.
const otherNoisyPct = 20

// Run runs workload w as cfg says and reports what it measured. It returns
// an error only when the run could not take place (bad config, no session,
// setup failed); request failures during the load are counted in the
// report. Cleanup failures become notes.
func Run(ctx context.Context, cfg Config, w Workload) (Report, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return Report{}, err
	}
	if w == nil {
		return Report{}, fmt.Errorf("%w: no workload", ErrConfig)
	}
	if cfg.Seed == 0 {
		cfg.Seed = time.Now().UnixNano() & (1<<53 - 1) // exact in JSON
	}
	dir := fmt.Sprintf("%s/%s-%d-%x", cfg.Root, w.Name(), cfg.Seed, uint32(time.Now().UnixNano()))
	e := newEnv(cfg, dir)
	defer e.closeAll()

	nsess, nworkers := w.plan(cfg)
	lean := usesLean(cfg, w)
	phase := phaseClock{cfg: cfg}
	phase.enter("setup", 0)
	setupCtx, cancelSetup := context.WithTimeout(ctx, cfg.Timeout)
	defer cancelSetup()
	adminN := nsess
	if lean {
		adminN = min(nsess, adminSessions) // setup and cleanup only
	}
	if err := e.connect(setupCtx, adminN); err != nil {
		return Report{}, err
	}
	made, err := makeDirs(e.persistent[0], dir)
	if err != nil {
		return Report{}, err
	}
	if err := w.setup(setupCtx, e); err != nil {
		return Report{}, fmt.Errorf("bench: %s setup: %w", w.Name(), err)
	}
	var leanConns []*wire.Conn
	if lean {
		// Last, so the sessions are not idle through a long setup.
		if leanConns, err = e.dialLean(setupCtx, nsess); err != nil {
			return Report{}, err
		}
	}
	cancelSetup()

	res := runLoad(ctx, e, w, nworkers, leanConns)

	if cfg.Cleanup && len(e.persistent) > 0 {
		phase.enter("cleanup", 0)
		cctx, cancel := context.WithTimeout(context.Background(), cfg.CleanupTimeout)
		if err := w.cleanup(cctx, e, res.slots); err != nil {
			e.note("cleanup of %s incomplete: %v", dir, err)
		} else {
			removeMadeDirs(e.persistent[0], made)
		}
		cancel()
	}
	e.closeAll()
	r := buildReport(cfg, w, e, res)
	if cfg.Progress != nil {
		cfg.Progress(Progress{Phase: "done", Elapsed: time.Duration(r.DurationS * float64(time.Second)),
			OpsPerSec: r.OpsPerSec, P99Ms: r.P99Ms, Ops: r.Succeeded, Errors: r.Failed})
	}
	return r, nil
}

// phaseClock tells Config.Progress when a phase without a live load
// (setup, cleanup) begins.
type phaseClock struct{ cfg Config }

func (p phaseClock) enter(name string, length time.Duration) {
	if p.cfg.Progress != nil {
		p.cfg.Progress(Progress{Phase: name, Length: length})
	}
}

// makeDirs creates the run's directory and its parents, and returns the
// ones this call created, parents first.
func makeDirs(c *zk.Conn, dir string) ([]string, error) {
	var made []string
	for i := 1; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		_, err := c.Create(dir[:i], nil, 0, worldACL)
		switch {
		case err == nil:
			made = append(made, dir[:i])
		case !isNodeExists(err):
			return made, fmt.Errorf("bench: creating %s: %w", dir[:i], err)
		}
	}
	return made, nil
}

// removeMadeDirs deletes, children first, the parents makeDirs created
// for the run (the run's own directory is the workload's cleanup), so a
// run leaves nothing behind. One that another run is using is not empty
// and stays.
func removeMadeDirs(c *zk.Conn, made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		if err := c.Delete(made[i], -1); err != nil && !isNoNode(err) {
			return
		}
	}
}

// loadResult is what the load phase leaves for the report.
type loadResult struct {
	recs      []*recorder
	start     time.Time // load phase start (real clock)
	warmEnd   time.Time
	wall      time.Duration // load phase incl. drain
	cpu       time.Duration // generator CPU over wall
	cpuOK     bool
	stealPct  float64 // machine steal over the load phase, -1 if unknown
	cpuSamp   *cpuSampler
	slots     int64
	exhausted bool
	forced    bool // drain bound hit: sessions were closed under requests
	open      bool
	planned   time.Duration
}

// runLoad runs the load phase: with leanConns (a lean run), one session
// driver per connection; otherwise nworkers go-zookeeper workers, or the
// workload's own driver.
func runLoad(ctx context.Context, e *env, w Workload, nworkers int, leanConns []*wire.Conn) loadResult {
	cfg := e.cfg
	cpu0, cpuOK := processCPU()
	steal0, ticks0, ticksOK := machineTicks()
	start := cfg.Clock.Now()
	p := newPacer(start, cfg.Rate, cfg.Warmup, cfg.Duration, cfg.Timeout, cfg.Ops, w.maxSlots(cfg))
	planned := cfg.Warmup + cfg.Duration
	if cfg.Duration == 0 {
		planned = 0
	}
	loadBound := cfg.Timeout
	if cfg.Duration > 0 {
		loadBound = cfg.Warmup + cfg.Duration
	}

	samp := startCPUSampler(ctx, cfg.Clock, p.warmEnd, cfg.ServerCPU)
	progress := cfg.Progress != nil
	nrec := max(min(nworkers, maxRecorders), 1)
	recs := make([]*recorder, nrec)
	for i := range recs {
		recs[i] = newRecorder(progress)
	}
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if lw, ok := w.(leanWorkload); ok && leanConns != nil {
		e.mu.Lock()
		e.leanReading = true
		e.mu.Unlock()
		nrec = max(min(len(leanConns), maxRecorders), 1)
		recs = recs[:min(nrec, len(recs))]
		sessions := make([]*leanSession, len(leanConns))
		for i, c := range leanConns {
			sessions[i] = &leanSession{e: e, conn: c, p: p, rec: recs[i%len(recs)], enc: lw.encoder(e, i), inFlight: cfg.InFlight}
		}
		for _, s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if p.open {
					s.runOpen(loadCtx)
				} else {
					s.runClosed(loadCtx)
				}
			}()
		}
	} else if d, ok := w.(driver); ok {
		wg.Add(1)
		go func() { defer wg.Done(); d.drive(loadCtx, e, p, recs[0]) }()
	} else {
		for i := range nworkers {
			var conn *zk.Conn
			if len(e.persistent) > 0 {
				conn = e.persistent[i%len(e.persistent)]
			}
			op := w.worker(e, conn, i)
			wg.Add(1)
			go func() { defer wg.Done(); runWorker(loadCtx, cfg.Clock, p, recs[i%nrec], op) }()
		}
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		e.mu.Lock()
		e.leanReading = false
		e.mu.Unlock()
		close(finished)
	}()

	hard := time.NewTimer(loadBound + cfg.DrainTimeout)
	defer hard.Stop()
	var tick <-chan time.Time
	if progress {
		t := time.NewTicker(cfg.ProgressInterval)
		defer t.Stop()
		tick = t.C
	}
	var forced bool
	var totOps, totErrs int64
	lastTick := time.Now()
	iv := newHist()
	var drainFrom time.Time
	report := func(phase string, elapsed, length time.Duration) {
		iv.Reset()
		var ops, errs int64
		for _, r := range recs {
			o, er := r.readInterval(iv)
			ops += o
			errs += er
		}
		totOps += ops
		totErrs += errs
		now := time.Now()
		secs := now.Sub(lastTick).Seconds()
		lastTick = now
		pr := Progress{Phase: phase, Elapsed: elapsed, Length: length,
			Ops: totOps, Errors: totErrs, P99Ms: float64(iv.ValueAtQuantile(99)) / 1000}
		if secs > 0 {
			pr.OpsPerSec = float64(ops) / secs
		}
		cfg.Progress(pr)
	}
wait:
	for {
		select {
		case <-finished:
			break wait
		case <-tick:
			now := cfg.Clock.Now()
			switch {
			case p.done.Load() || (cfg.Duration > 0 && !now.Before(p.end)):
				if drainFrom.IsZero() {
					drainFrom = now
					if cfg.Duration > 0 && p.end.Before(now) {
						drainFrom = p.end
					}
				}
				report("drain", now.Sub(drainFrom), 0)
			case now.Before(p.warmEnd):
				report("warmup", now.Sub(start), cfg.Warmup)
			default:
				report("measure", now.Sub(p.warmEnd), cfg.Duration)
			}
		case <-hard.C:
			forced = true
			break wait
		case <-ctx.Done():
			forced = true
			break wait
		}
	}
	if forced {
		// Stop handing out slots, then close every session: outstanding
		// requests fail (CLOSING) and the workers return.
		p.done.Store(true)
		cancel()
		e.closeAll()
		<-finished
	}
	// The closing CPU sample: every measured request has finished, no
	// session has been closed yet.
	samp.stop(cfg.Clock)
	cpu1, cpuOK1 := processCPU()
	steal1, ticks1, ticksOK1 := machineTicks()
	stealPct := -1.0
	if ticksOK && ticksOK1 && ticks1 > ticks0 {
		stealPct = 100 * float64(steal1-steal0) / float64(ticks1-ticks0)
	}
	return loadResult{
		stealPct: stealPct, cpuSamp: samp,
		recs: recs, start: start, warmEnd: p.warmEnd,
		wall: cfg.Clock.Now().Sub(start), cpu: cpu1 - cpu0, cpuOK: cpuOK && cpuOK1,
		slots: p.slots(), exhausted: p.exhausted.Load(), forced: forced,
		open: p.open, planned: planned,
	}
}

// runWorker is one worker's loop: take a slot, wait for its intended start
// (open loop), issue it, record the outcome. It returns when the pacer says
// the load phase is over or ctx is done. Latency is measured from the
// intended start; in closed loop that is when the slot was taken.
func runWorker(ctx context.Context, clock Clock, p *pacer, rec *recorder, op opFunc) {
	for ctx.Err() == nil {
		slot, intended, measured, ok := p.take(clock.Now())
		if !ok {
			return
		}
		if p.open {
			if err := clock.SleepUntil(ctx, intended); err != nil {
				return // never issued, so never counted
			}
		}
		rec.issue(measured)
		began := clock.Now()
		err := op(ctx, slot)
		end := clock.Now()
		rec.done(measured, end.Sub(intended), began.Sub(intended), end, err)
	}
}

// totals merges the recorders.
type totals struct {
	hist           *hdrhistogram.Histogram
	measured, warm counts
	errs           map[string]int64
	max, maxLag    time.Duration
	lastEnd        time.Time
	late           int64
}

func mergeRecorders(recs []*recorder) totals {
	t := totals{hist: newHist(), errs: map[string]int64{}}
	for _, r := range recs {
		r.mu.Lock()
		t.hist.Merge(r.hist)
		t.measured.add(r.measured)
		t.warm.add(r.warm)
		for k, v := range r.errs {
			t.errs[k] += v
		}
		t.max = max(t.max, r.max)
		t.maxLag = max(t.maxLag, r.maxLag)
		if r.lastEnd.After(t.lastEnd) {
			t.lastEnd = r.lastEnd
		}
		t.late += r.late
		r.mu.Unlock()
	}
	return t
}

// clientOf names the connection code a run of w with cfg drives its load
// with.
func clientOf(cfg Config, w Workload) string {
	if usesLean(cfg, w) {
		return ClientLean
	}
	return ClientGoZK
}

// keySpaceOf is the key space w picks from, or 0 for a workload that
// picks no existing keys (creates, churn, watch, lock).
func keySpaceOf(w Workload, cfg Config) int {
	if _, ok := w.(interface{ picksKeys() }); ok {
		return cfg.KeySpace
	}
	return 0
}

func buildReport(cfg Config, w Workload, e *env, res loadResult) Report {
	t := mergeRecorders(res.recs)
	window := time.Duration(0)
	if t.lastEnd.After(res.warmEnd) {
		window = t.lastEnd.Sub(res.warmEnd)
	}
	r := Report{
		Workload:       w.Name(),
		Params:         w.Params(),
		Seed:           cfg.Seed,
		Servers:        cfg.Servers,
		Sessions:       cfg.Sessions,
		InFlight:       cfg.InFlight,
		Mode:           cfg.Mode(),
		Client:         clientOf(cfg, w),
		TargetRate:     cfg.Rate,
		ValueBytes:     cfg.ValueBytes,
		KeySpace:       keySpaceOf(w, cfg),
		WarmupS:        cfg.Warmup.Seconds(),
		DurationS:      window.Seconds(),
		Issued:         t.measured.Issued,
		Succeeded:      t.measured.Succeeded,
		Failed:         t.measured.Failed,
		Errors:         t.measured.Failed,
		ErrorsByCode:   t.errs,
		WarmupIssued:   t.warm.Issued,
		WarmupFailed:   t.warm.Failed,
		LateStarts:     t.late,
		MaxStartLagMs:  float64(t.maxLag.Microseconds()) / 1000,
		GeneratorCores: runtime.NumCPU(),
		GeneratorProcs: runtime.GOMAXPROCS(0),
		hist:           t.hist,
	}
	if window > 0 {
		r.OpsPerSec = float64(t.measured.Succeeded) / window.Seconds()
	}
	p := percentilesOf(t.hist, t.max)
	r.P50Ms, r.P90Ms, r.P99Ms, r.P999Ms, r.MaxMs, r.MeanMs = p.P50, p.P90, p.P99, p.P999, p.Max, p.Mean
	if res.cpuOK && res.wall > 0 {
		r.GeneratorCPUPct = 100 * res.cpu.Seconds() / res.wall.Seconds()
		if done := t.measured.Succeeded + t.measured.Failed + t.warm.Succeeded + t.warm.Failed; done > 0 {
			r.GeneratorUsPerOp = float64(res.cpu.Microseconds()) / float64(done)
		}
	}
	r.StealPct = res.stealPct
	r.OtherCPUPct = -1
	r.Notes = append(r.Notes, e.notes...)
	if res.cpuSamp != nil {
		var note string
		r.ServerCPU, note = res.cpuSamp.result(t.measured.Succeeded)
		r.ServerCPUUsPerOp, r.ServerCPUPct = sumCPU(r.ServerCPU)
		r.OtherCPUPct = res.cpuSamp.otherPct(r.ServerCPU)
		if note != "" {
			r.Notes = append(r.Notes, note)
		}
	}
	if res.exhausted {
		r.Notes = append(r.Notes, fmt.Sprintf("ran out of keys after %d requests (warm-up included); raise the key space", cfg.KeySpace))
	}
	if res.forced {
		r.Notes = append(r.Notes, fmt.Sprintf("requests still outstanding %v after the load phase; their sessions were closed and they count as failed", cfg.DrainTimeout))
	}
	r.flag()
	return r
}
