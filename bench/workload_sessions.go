package bench

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/go-zookeeper/zk"
)

// EphemeralChurn measures a whole short session per request: connect to a
// server (round robin by slot), create an ephemeral znode, close the
// session. Sessions is the number of concurrent churners; each request's
// latency covers all three steps.
type EphemeralChurn struct{}

func (EphemeralChurn) Name() string   { return "churn" }
func (EphemeralChurn) Params() string { return "" }

// plan keeps one persistent session for setup and cleanup only.
func (EphemeralChurn) plan(cfg Config) (int, int)        { return 1, cfg.Sessions * cfg.InFlight }
func (EphemeralChurn) maxSlots(Config) int64             { return 0 }
func (EphemeralChurn) setup(context.Context, *env) error { return nil }
func (EphemeralChurn) worker(e *env, _ *zk.Conn, _ int) opFunc {
	return func(ctx context.Context, slot int64) error {
		conn, err := e.dial(ctx, e.cfg.Servers[int(slot%int64(len(e.cfg.Servers)))])
		if err != nil {
			return err
		}
		_, err = conn.Create(e.dir+"/e"+strconv.FormatInt(slot, 10), e.value, zk.FlagEphemeral, worldACL)
		e.hangUp(conn)
		return err
	}
}

// cleanup: the ephemerals went with their sessions; only the directory
// is left.
func (EphemeralChurn) cleanup(ctx context.Context, e *env, _ int64) error {
	return deleteTree(ctx, e.persistent[0], e.dir)
}

// LockContention runs ZooKeeper's lock recipe (ephemeral sequential child
// of one lock znode; the lowest holds the lock, every other waits for the
// deletion of the one just before it) on all workers against one lock. A
// request is acquire + release; its latency includes the wait in line.
type LockContention struct {
	// Hold is how long the lock is held once acquired (default 0).
	Hold time.Duration
}

func (LockContention) Name() string { return "lock" }
func (l LockContention) Params() string {
	if l.Hold > 0 {
		return "hold=" + l.Hold.String()
	}
	return ""
}
func (LockContention) plan(cfg Config) (int, int) { return perSession{}.plan(cfg) }
func (LockContention) maxSlots(Config) int64      { return 0 }
func (LockContention) setup(ctx context.Context, e *env) error {
	_, err := e.persistent[0].Create(e.dir+"/lock", nil, 0, worldACL)
	if err != nil && !isNodeExists(err) {
		return err
	}
	return nil
}

// worker uses go-zookeeper's Lock, which implements the recipe; each
// worker has its own Lock (a Lock is one contender).
func (l LockContention) worker(e *env, conn *zk.Conn, _ int) opFunc {
	lk := zk.NewLock(conn, e.dir+"/lock", worldACL)
	return func(ctx context.Context, _ int64) error {
		if err := lk.Lock(); err != nil {
			return err
		}
		if l.Hold > 0 {
			_ = e.clock.SleepUntil(ctx, e.clock.Now().Add(l.Hold))
		}
		return lk.Unlock()
	}
}

func (LockContention) cleanup(ctx context.Context, e *env, _ int64) error {
	return deleteTree(ctx, e.persistent[0], e.dir)
}

// WatchFanout has Sessions watcher sessions each keep a data watch on one
// znode while one more session writes it. A round is one write; it is sent
// only once every watcher has re-armed, so every write must reach every
// watcher. Each delivered event is one request in the figures
// (Issued = rounds x watchers) and its latency runs from the write's
// acknowledgement to the watcher's receipt of the event (an event that
// beats the ack counts as 0 and is reported in the notes). Ops bounds
// rounds, not events. A round whose events do not all arrive within
// DrainTimeout counts the missing ones as failed (TIMEOUT) and ends the run.
type WatchFanout struct{}

func (WatchFanout) Name() string                      { return "watch" }
func (WatchFanout) Params() string                    { return "" }
func (WatchFanout) plan(cfg Config) (int, int)        { return cfg.Sessions + 1, 1 }
func (WatchFanout) maxSlots(Config) int64             { return 0 }
func (WatchFanout) worker(*env, *zk.Conn, int) opFunc { return nil } // drive is used instead
func (WatchFanout) setup(ctx context.Context, e *env) error {
	_, err := e.persistent[0].Create(e.dir+"/watched", e.value, 0, worldACL)
	if err != nil && !isNodeExists(err) {
		return err
	}
	return nil
}
func (WatchFanout) cleanup(ctx context.Context, e *env, _ int64) error {
	return deleteTree(ctx, e.persistent[0], e.dir)
}

type armed struct {
	watcher int
	err     error
}

type delivery struct {
	at  time.Time
	ev  zk.Event
	err error
}

func (WatchFanout) drive(ctx context.Context, e *env, p *pacer, rec *recorder) {
	path := e.dir + "/watched"
	writer, watchers := e.persistent[0], e.persistent[1:]
	n := len(watchers)
	stop := make(chan struct{})
	armedc := make(chan armed, n)
	events := make(chan delivery, n)
	done := make(chan struct{}, n)
	for j, c := range watchers {
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				_, _, ch, err := c.GetW(path)
				select {
				case armedc <- armed{j, err}:
				case <-stop:
					return
				}
				if err != nil {
					return
				}
				var d delivery
				select {
				case ev := <-ch:
					d = delivery{at: e.clock.Now(), ev: ev, err: ev.Err}
					if d.err == nil && ev.Type != zk.EventNodeDataChanged {
						d.err = errors.New("bench: unexpected watch event " + ev.Type.String())
					}
				case <-stop:
					return
				}
				select {
				case events <- d:
				case <-stop:
					return
				}
			}
		}()
	}
	defer func() {
		close(stop)
		for range n {
			<-done
		}
	}()

	bound := e.cfg.DrainTimeout
	var early int64
	defer func() {
		if early > 0 {
			e.note("%d watch events arrived before the writer's ack; counted as 0 ms", early)
		}
	}()
	waitArmed := 0
	for {
		// Every watcher must hold a watch before the next write.
		timer := time.NewTimer(bound)
		for waitArmed < n {
			select {
			case a := <-armedc:
				if a.err != nil {
					timer.Stop()
					e.note("watcher %d could not set its watch: %v", a.watcher, a.err)
					return
				}
				waitArmed++
			case <-timer.C:
				e.note("watchers did not re-arm within %v", bound)
				return
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		timer.Stop()
		slot, intended, measured, ok := p.take(e.clock.Now())
		if !ok {
			return
		}
		if p.open {
			if e.clock.SleepUntil(ctx, intended) != nil {
				return
			}
		}
		for range n {
			rec.issue(measured)
		}
		_, err := writer.Set(path, []byte(strconv.FormatInt(slot, 10)), -1)
		ack := e.clock.Now()
		if err != nil {
			// No event will come; the watchers are still armed.
			for range n {
				rec.done(measured, 0, 0, ack, err)
			}
			if ctx.Err() != nil {
				return
			}
			continue
		}
		waitArmed = 0
		timer = time.NewTimer(bound)
		for got := 0; got < n; got++ {
			select {
			case d := <-events:
				lat := d.at.Sub(ack)
				if lat < 0 {
					early++
					lat = 0
				}
				rec.done(measured, lat, 0, d.at, d.err)
			case <-timer.C:
				for ; got < n; got++ {
					rec.done(measured, 0, 0, e.clock.Now(), ErrEventTimeout)
				}
				e.note("watch events missing %v after write %d; run stopped", bound, slot)
				return
			case <-ctx.Done():
				timer.Stop()
				for ; got < n; got++ {
					rec.done(measured, 0, 0, e.clock.Now(), ctx.Err())
				}
				return
			}
		}
		timer.Stop()
	}
}
