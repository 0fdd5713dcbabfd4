package bench

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
)

// LoadStats is what building a recovery data set measured.
type LoadStats struct {
	Znodes int           // leaves created
	Took   time.Duration // from the first create to the last reply
	// GeneratorCPUPct is this process's CPU over Took, in % of one core.
	GeneratorCPUPct float64
	// From the server's srvr answer after the load; NodeCount and Txns
	// are -1 when srvr did not say.
	NodeCount int64
	Zxid      string
	Txns      int64 // the zxid's counter: txns in the current epoch
}

// ZnodesPerSec is the load's rate of leaf creation.
func (l LoadStats) ZnodesPerSec() float64 {
	if l.Took <= 0 {
		return 0
	}
	return float64(l.Znodes) / l.Took.Seconds()
}

// LoadRecoveryData builds rc's data set on the server at addr through the
// client protocol: the root, then the parents (each holding
// recoveryFanout leaves), then rc.Znodes leaves of rc.ValueBytes bytes,
// rc.OpsPerTxn creates per multi (plain creates when 1), from rc.Sessions
// sessions with rc.InFlight requests each outstanding. Any failed request
// fails the load (the data set must be whole). Bounded by rc.LoadTimeout.
func LoadRecoveryData(ctx context.Context, addr string, rc RecoveryConfig) (LoadStats, error) {
	return loadData(ctx, []string{addr}, rc)
}

// loadData is LoadRecoveryData through servers: session i uses
// servers[i%len(servers)]; srvr is asked of servers[0] afterwards.
func loadData(ctx context.Context, servers []string, rc RecoveryConfig) (LoadStats, error) {
	rc = rc.withDefaults()
	if err := rc.validate(); err != nil {
		return LoadStats{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, rc.LoadTimeout)
	defer cancel()
	cfg := Config{Servers: servers, Sessions: rc.Sessions, Seed: rc.Seed}.withDefaults()
	e := newEnv(cfg, rc.Root)
	value := make([]byte, rc.ValueBytes)
	x := uint64(rc.Seed)
	for i := range value {
		x = splitmix64(x)
		value[i] = 'a' + byte(x%26)
	}
	defer e.closeAll()
	if err := e.connect(ctx, rc.Sessions); err != nil {
		return LoadStats{}, err
	}
	// Closing the sessions when ctx ends makes blocked requests return.
	stopWatch := context.AfterFunc(ctx, e.closeAll)
	defer stopWatch()

	cpu0, cpuOK := processCPU()
	began := time.Now()
	if _, err := e.persistent[0].Create(rc.Root, nil, 0, worldACL); err != nil {
		return LoadStats{}, fmt.Errorf("bench: create %s: %w", rc.Root, err)
	}
	parents := (rc.Znodes + recoveryFanout - 1) / recoveryFanout
	parentPath := func(i int) string { return rc.Root + "/p" + strconv.Itoa(i) }
	if err := createAll(ctx, e, rc, parents, parentPath, nil); err != nil {
		return LoadStats{}, err
	}
	if err := createAll(ctx, e, rc, rc.Znodes, rc.leafPath, value); err != nil {
		return LoadStats{}, err
	}
	ls := LoadStats{Znodes: rc.Znodes, Took: time.Since(began), NodeCount: -1, Txns: -1}
	if cpu1, ok := processCPU(); ok && cpuOK && ls.Took > 0 {
		ls.GeneratorCPUPct = 100 * float64(cpu1-cpu0) / float64(ls.Took)
	}
	if out, err := launch.FourLetter(servers[0], "srvr", 5*time.Second); err == nil {
		ls.NodeCount, ls.Zxid, ls.Txns = parseSrvr(out)
	}
	return ls, nil
}

var (
	srvrNodeCount = regexp.MustCompile(`(?m)^Node count: (\d+)`)
	srvrZxid      = regexp.MustCompile(`(?m)^Zxid: 0x([0-9a-fA-F]+)`)
)

// parseSrvr picks the node count and zxid out of a srvr answer (-1 and
// "" for what it lacks); txns is the zxid's low 32 bits.
func parseSrvr(out string) (nodes int64, zxid string, txns int64) {
	nodes, txns = -1, -1
	if m := srvrNodeCount.FindStringSubmatch(out); m != nil {
		nodes, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := srvrZxid.FindStringSubmatch(out); m != nil {
		if z, err := strconv.ParseUint(m[1], 16, 64); err == nil {
			zxid = "0x" + m[1]
			txns = int64(z & 0xffffffff)
		}
	}
	return nodes, zxid, txns
}

// createAll creates znodes path(0) .. path(n-1) with data, in batches of
// rc.OpsPerTxn (one multi each, or plain creates when 1), spread over
// every session with rc.InFlight workers each. The first error stops the
// work and is returned.
func createAll(ctx context.Context, e *env, rc RecoveryConfig, n int, path func(int) string, data []byte) error {
	batches := (n + rc.OpsPerTxn - 1) / rc.OpsPerTxn
	var next atomic.Int64
	var once sync.Once
	var first error
	failed := make(chan struct{})
	fail := func(err error) {
		once.Do(func() { first = err; close(failed) })
	}
	var wg sync.WaitGroup
	for s := range e.persistent {
		conn := e.persistent[s]
		for range rc.InFlight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ops := make([]any, 0, rc.OpsPerTxn)
				for {
					select {
					case <-failed:
						return
					default:
					}
					if ctx.Err() != nil {
						fail(fmt.Errorf("bench: load: %w", ctx.Err()))
						return
					}
					b := int(next.Add(1) - 1)
					if b >= batches {
						return
					}
					lo, hi := b*rc.OpsPerTxn, min((b+1)*rc.OpsPerTxn, n)
					if err := createBatch(conn, ops[:0], lo, hi, path, data); err != nil {
						fail(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = fmt.Errorf("bench: load: %w", ctx.Err())
	}
	return first
}

// createBatch creates path(lo) .. path(hi-1): one multi, or one create
// when the batch has a single znode.
func createBatch(conn *zk.Conn, ops []any, lo, hi int, path func(int) string, data []byte) error {
	if hi-lo == 1 {
		if _, err := conn.Create(path(lo), data, 0, worldACL); err != nil {
			return fmt.Errorf("bench: load: create %s: %w", path(lo), err)
		}
		return nil
	}
	for i := lo; i < hi; i++ {
		ops = append(ops, &zk.CreateRequest{Path: path(i), Data: data, Acl: worldACL})
	}
	res, err := conn.Multi(ops...)
	if err != nil {
		return fmt.Errorf("bench: load: multi of %d creates from %s: %w", hi-lo, path(lo), err)
	}
	for i, r := range res {
		if r.Error != nil {
			return fmt.Errorf("bench: load: multi create %s: %w", path(lo+i), r.Error)
		}
	}
	return nil
}
