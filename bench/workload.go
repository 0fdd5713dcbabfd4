package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-zookeeper/zk"
)

// opFunc performs request number slot; it must return once the server has
// answered (or the session is closed).
type opFunc func(ctx context.Context, slot int64) error

// Workload is one kind of load. It is implemented by this package's
// workload types (Create, Set, Get, ...); build one by name with
// ParseWorkload. A Workload value is read-only and may be reused.
type Workload interface {
	// Name is the workload's name as ParseWorkload takes it.
	Name() string
	// Params describes the workload's own parameters ("" if none).
	Params() string
	// plan says how many persistent sessions and workers a run needs.
	plan(cfg Config) (sessions, workers int)
	// maxSlots bounds the requests of a run (0: unbounded).
	maxSlots(cfg Config) int64
	// setup prepares e.dir (not measured).
	setup(ctx context.Context, e *env) error
	// worker returns worker w's request function; conn is its session
	// (nil when the workload has no persistent sessions per worker).
	worker(e *env, conn *zk.Conn, w int) opFunc
	// cleanup deletes what the run created, given how many slots were
	// handed out.
	cleanup(ctx context.Context, e *env, slots int64) error
}

// driver is implemented by workloads whose load is not one request per
// slot (watch fan-out); Run hands them the whole load phase.
type driver interface {
	drive(ctx context.Context, e *env, p *pacer, rec *recorder)
}

// WorkloadOptions carries the workload-specific knobs of ParseWorkload.
type WorkloadOptions struct {
	Keyed     bool    // create: keyed names instead of sequential
	ReadRatio float64 // mixed: share of reads in [0,1]
	MultiOps  int     // multi: ops per transaction
}

// WorkloadNames lists the names ParseWorkload accepts.
func WorkloadNames() []string {
	return []string{"create", "set", "get", "exists", "delete", "mixed", "multi", "churn", "watch", "lock"}
}

// ParseWorkload builds the workload called name.
func ParseWorkload(name string, o WorkloadOptions) (Workload, error) {
	switch name {
	case "create":
		return Create{Keyed: o.Keyed}, nil
	case "set":
		return Set{}, nil
	case "get":
		return Get{}, nil
	case "exists":
		return Exists{}, nil
	case "delete":
		return Delete{}, nil
	case "mixed":
		if o.ReadRatio < 0 || o.ReadRatio > 1 {
			return nil, fmt.Errorf("%w: read ratio %g out of [0,1]", ErrConfig, o.ReadRatio)
		}
		return Mixed{ReadRatio: o.ReadRatio}, nil
	case "multi":
		if o.MultiOps < 1 || o.MultiOps > 1000 {
			return nil, fmt.Errorf("%w: multi ops %d out of [1,1000]", ErrConfig, o.MultiOps)
		}
		return Multi{OpsPerTxn: o.MultiOps}, nil
	case "churn", "ephemeral-churn":
		return EphemeralChurn{}, nil
	case "watch", "watch-fanout":
		return WatchFanout{}, nil
	case "lock", "lock-contention":
		return LockContention{}, nil
	}
	return nil, fmt.Errorf("%w: unknown workload %q (have %s)", ErrConfig, name, strings.Join(WorkloadNames(), ", "))
}

// perSession is the common plan: Sessions sessions, InFlight workers each.
type perSession struct{}

func (perSession) plan(cfg Config) (int, int)        { return cfg.Sessions, cfg.Sessions * cfg.InFlight }
func (perSession) maxSlots(cfg Config) int64         { return 0 }
func (perSession) setup(context.Context, *env) error { return nil }

// parallel runs fn(i) for i in [0, n) on up to len(e.persistent)*InFlight
// goroutines (at most 64), each using one session, and returns the first
// error other than the ones ok accepts. It stops early when ctx is done.
func parallel(ctx context.Context, e *env, n int64, fn func(conn *zk.Conn, i int64) error, ok func(error) bool) error {
	g := min(len(e.persistent)*e.cfg.InFlight, 64)
	if int64(g) > n {
		g = int(n)
	}
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn := e.persistent[w%len(e.persistent)]
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= n {
					return
				}
				if err := fn(conn, i); err != nil && !ok(err) {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

func isNodeExists(err error) bool { return errors.Is(err, zk.ErrNodeExists) }
func isNoNode(err error) bool     { return errors.Is(err, zk.ErrNoNode) }

// populate creates keys [0, KeySpace) with the run's value.
func populate(ctx context.Context, e *env) error {
	err := parallel(ctx, e, int64(e.cfg.KeySpace), func(c *zk.Conn, i int64) error {
		_, err := c.Create(e.key(i), e.value, 0, worldACL)
		return err
	}, isNodeExists)
	if err != nil {
		return fmt.Errorf("bench: creating %d keys under %s: %w", e.cfg.KeySpace, e.dir, err)
	}
	return nil
}

// deleteAll deletes names [0, n) and then whatever is left in e.dir, and
// e.dir itself. NONODE is fine: not every slot created its name.
func deleteAll(ctx context.Context, e *env, n int64, name func(i int64) string) error {
	err := parallel(ctx, e, n, func(c *zk.Conn, i int64) error {
		return c.Delete(name(i), -1)
	}, isNoNode)
	if err != nil {
		return err
	}
	return deleteTree(ctx, e.persistent[0], e.dir)
}

// deleteTree deletes path and its descendants, depth first. It is used
// only after the named deletes, when what is left is small.
func deleteTree(ctx context.Context, c *zk.Conn, path string) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	kids, _, err := c.Children(path)
	if isNoNode(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("bench: listing %s: %w", path, err)
	}
	sort.Strings(kids)
	for _, k := range kids {
		if err := deleteTree(ctx, c, path+"/"+k); err != nil {
			return err
		}
	}
	if err := c.Delete(path, -1); err != nil && !isNoNode(err) {
		return fmt.Errorf("bench: deleting %s: %w", path, err)
	}
	return nil
}

// keyed is embedded by the workloads that work on KeySpace existing keys.
type keyed struct{ perSession }

func (keyed) setup(ctx context.Context, e *env) error { return populate(ctx, e) }
func (keyed) picksKeys()                              {}
func (keyed) cleanup(ctx context.Context, e *env, _ int64) error {
	return deleteAll(ctx, e, int64(e.cfg.KeySpace), e.key)
}
