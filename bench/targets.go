package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"zabd/bench/launch"
)

// ZooKeeperHeapTarget is ZooKeeperTarget with the JVM's -Xmx set to heap
// (ZooKeeperTarget keeps launch's default, 512m).
func ZooKeeperHeapTarget(dir, cpus, heap string) Target {
	return Target{Name: "zookeeper", Start: func(ctx context.Context) (*Started, error) {
		d, err := os.MkdirTemp(dir, "zookeeper-")
		if err != nil {
			return nil, err
		}
		p, err := launch.StartApacheZK(ctx, launch.ZKOptions{Dir: d, ForceSync: true, CPUs: cpus, JVMFlags: []string{"-Xmx" + heap}, StopTimeout: time.Minute})
		if err != nil {
			os.RemoveAll(d)
			return nil, err
		}
		return &Started{Servers: []string{p.Addr}, Stop: stopAndRemove(p, d), CPU: processCPUs(p), RSS: processRSS(p)}, nil
	}}
}

// ZooKeeperTarget starts Apache ZooKeeper (from the installed jars, via
// bench/launch) in a fresh directory under dir, with forceSync on so its
// writes are as durable as zabd's; pinned to cpus (taskset's list) unless
// that is empty.
func ZooKeeperTarget(dir, cpus string) Target {
	return Target{Name: "zookeeper", Start: func(ctx context.Context) (*Started, error) {
		d, err := os.MkdirTemp(dir, "zookeeper-")
		if err != nil {
			return nil, err
		}
		p, err := launch.StartApacheZK(ctx, launch.ZKOptions{Dir: d, ForceSync: true, CPUs: cpus})
		if err != nil {
			return nil, err
		}
		return &Started{Servers: []string{p.Addr}, Stop: stopAndRemove(p, d), CPU: processCPUs(p), RSS: processRSS(p)}, nil
	}}
}

// ZabdTarget starts the zabd binary bin with the given storage engine in a
// fresh directory under dir, forceSync on; pinned to cpus unless empty.
func ZabdTarget(dir, bin, engine, cpus string) Target {
	return Target{Name: "zabd-" + engine, Start: func(ctx context.Context) (*Started, error) {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		d, err := os.MkdirTemp(dir, "zabd-"+engine+"-")
		if err != nil {
			return nil, err
		}
		p, err := launch.StartZabd(ctx, abs, launch.ZabdOptions{Dir: d, Engine: engine, ForceSync: true, CPUs: cpus})
		if err != nil {
			return nil, err
		}
		return &Started{Servers: []string{p.Addr}, Stop: stopAndRemove(p, d), CPU: processCPUs(p), RSS: processRSS(p)}, nil
	}}
}

// ClusterOptions are the settings both kinds of ensemble get, so their
// figures compare.
type ClusterOptions struct {
	Size      int    // members (default 3)
	TickTime  int    // ms (default 200, the failover setting of the issue)
	InitLimit int    // ticks (default 10)
	SyncLimit int    // ticks (default 5)
	ZKHeap    string // each ZooKeeper member's -Xmx (default 1g)
	CPUs      string // pin every member to this CPU list (taskset); "" for none
}

func (o ClusterOptions) withDefaults() ClusterOptions {
	if o.Size == 0 {
		o.Size = 3
	}
	if o.TickTime == 0 {
		o.TickTime = 200
	}
	if o.InitLimit == 0 {
		o.InitLimit = 10
	}
	if o.SyncLimit == 0 {
		o.SyncLimit = 5
	}
	if o.ZKHeap == "" {
		o.ZKHeap = "1g"
	}
	return o
}

// quorumCfg is the zoo.cfg timing of o's ensembles.
func (o ClusterOptions) quorumCfg() map[string]string {
	return map[string]string{
		"tickTime":  strconv.Itoa(o.TickTime),
		"initLimit": strconv.Itoa(o.InitLimit),
		"syncLimit": strconv.Itoa(o.SyncLimit),
	}
}

// Describe is a line about o's ensembles for reports.
func (o ClusterOptions) Describe() string {
	o = o.withDefaults()
	return fmt.Sprintf("%d-member ensembles on 127.0.0.1, tickTime %d ms, initLimit %d, syncLimit %d, forceSync yes (ZooKeeper: QuorumPeerMain, -Xmx%s per member)",
		o.Size, o.TickTime, o.InitLimit, o.SyncLimit, o.ZKHeap)
}

// ZooKeeperEnsembleTarget starts an Apache ZooKeeper ensemble of o.Size
// members (QuorumPeerMain) in a fresh directory under dir.
func ZooKeeperEnsembleTarget(dir string, o ClusterOptions) Target {
	o = o.withDefaults()
	return Target{Name: fmt.Sprintf("zookeeper-x%d", o.Size), Start: func(ctx context.Context) (*Started, error) {
		d, err := os.MkdirTemp(dir, "zookeeper-ensemble-")
		if err != nil {
			return nil, err
		}
		e, err := launch.StartZKEnsemble(ctx, o.Size, launch.ZKOptions{Dir: d, ForceSync: true, CPUs: o.CPUs,
			ExtraCfg: o.quorumCfg(), JVMFlags: []string{"-Xmx" + o.ZKHeap}, StopTimeout: time.Minute})
		if err != nil {
			os.RemoveAll(d)
			return nil, err
		}
		return ensembleStarted(e, d), nil
	}}
}

// ZabdEnsembleTarget starts a zabd ensemble of o.Size members (binary
// bin, storage engine) in a fresh directory under dir.
func ZabdEnsembleTarget(dir, bin, engine string, o ClusterOptions) Target {
	o = o.withDefaults()
	return Target{Name: fmt.Sprintf("zabd-%s-x%d", engine, o.Size), Start: func(ctx context.Context) (*Started, error) {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		d, err := os.MkdirTemp(dir, "zabd-"+engine+"-ensemble-")
		if err != nil {
			return nil, err
		}
		e, err := launch.StartZabdEnsemble(ctx, abs, o.Size, launch.ZabdOptions{Dir: d, Engine: engine, ForceSync: true,
			CPUs: o.CPUs, ExtraCfg: o.quorumCfg(), StopTimeout: time.Minute})
		if err != nil {
			os.RemoveAll(d)
			return nil, err
		}
		return ensembleStarted(e, d), nil
	}}
}

func ensembleStarted(e *launch.Ensemble, dir string) *Started {
	return &Started{
		Servers:  e.Addrs(),
		Ensemble: e,
		CPU:      processCPUs(e.Members...),
		Stop: func() error {
			err := e.Stop()
			if rerr := os.RemoveAll(dir); err == nil {
				err = rerr
			}
			return err
		},
	}
}

// processCPUs is a Started.CPU over ps: each one's CPU time (from /proc)
// and role (srvr's Mode).
func processCPUs(ps ...*launch.Process) func() ([]ProcCPU, error) {
	return func() ([]ProcCPU, error) {
		out := make([]ProcCPU, 0, len(ps))
		for _, p := range ps {
			d, err := p.CPUTime()
			if err != nil {
				return nil, err
			}
			pc := ProcCPU{Name: p.Name, CPU: d}
			if st, err := launch.Srvr(p.Addr, time.Second); err == nil {
				pc.Role = st.Mode
			}
			out = append(out, pc)
		}
		return out, nil
	}
}

// processRSS is a Started.RSS over ps: their resident set sizes summed.
func processRSS(ps ...*launch.Process) func() (int64, error) {
	return func() (int64, error) {
		var sum int64
		for _, p := range ps {
			n, err := p.RSS()
			if err != nil {
				return 0, err
			}
			sum += n
		}
		return sum, nil
	}
}

func stopAndRemove(p *launch.Process, dir string) func() error {
	return func() error {
		err := p.Stop()
		if rerr := os.RemoveAll(dir); err == nil {
			err = rerr
		}
		return err
	}
}

// Recovery log lines: what each server says about loading its data dir.
var (
	zabdRecoveryLog      = regexp.MustCompile(`(?i)msg="?(recovered|[^"=]*snapshot)`)
	zookeeperRecoveryLog = regexp.MustCompile(`Snapshot loaded in|txns loaded in|Snapshotting:|Snapshot taken in|Reading snapshot`)
)

// ZooKeeperRecoveryTarget starts Apache ZooKeeper (forceSync on, its other
// settings at their defaults: snapCount 100000, snapshots on start-up)
// on an empty data dir under dir, with heap as the JVM's -Xmx (a million
// znodes do not fit in bench/launch's default 512m).
func ZooKeeperRecoveryTarget(dir, heap string) RecoveryTarget {
	return RecoveryTarget{Name: "zookeeper", Start: func(ctx context.Context) (*RecoveryServer, error) {
		d, err := os.MkdirTemp(dir, "recovery-zookeeper-")
		if err != nil {
			return nil, err
		}
		o := launch.ZKOptions{Dir: d, ForceSync: true, StopTimeout: time.Minute}
		if heap != "" {
			o.JVMFlags = []string{"-Xmx" + heap}
		}
		p, err := launch.StartApacheZK(ctx, o)
		if err != nil {
			os.RemoveAll(d)
			return nil, err
		}
		return &RecoveryServer{Addr: p.Addr, Proc: p, DataDir: p.DataDir, LogPath: p.LogPath,
			LogPattern: zookeeperRecoveryLog, Cleanup: stopAndRemove(p, d)}, nil
	}}
}

// ZabdRecoveryTarget starts the zabd binary bin with engine on an empty
// data dir under dir, forceSync on, everything else at zabd's defaults.
func ZabdRecoveryTarget(dir, bin, engine string) RecoveryTarget {
	return RecoveryTarget{Name: "zabd-" + engine, Start: func(ctx context.Context) (*RecoveryServer, error) {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		d, err := os.MkdirTemp(dir, "recovery-zabd-"+engine+"-")
		if err != nil {
			return nil, err
		}
		p, err := launch.StartZabd(ctx, abs, launch.ZabdOptions{Dir: d, Engine: engine, ForceSync: true, StopTimeout: time.Minute})
		if err != nil {
			os.RemoveAll(d)
			return nil, err
		}
		return &RecoveryServer{Addr: p.Addr, Proc: p, DataDir: p.DataDir, LogPath: p.LogPath,
			LogPattern: zabdRecoveryLog, Cleanup: stopAndRemove(p, d)}, nil
	}}
}
