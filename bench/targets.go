package bench

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"zabd/bench/launch"
)

// ZooKeeperTarget starts Apache ZooKeeper (from the installed jars, via
// bench/launch) in a fresh directory under dir, with forceSync on so its
// writes are as durable as zabd's; pinned to cpus (taskset's list) unless
// that is empty.
func ZooKeeperTarget(dir, cpus string) Target {
	return Target{Name: "zookeeper", Start: func(ctx context.Context) ([]string, func() error, error) {
		d, err := os.MkdirTemp(dir, "zookeeper-")
		if err != nil {
			return nil, nil, err
		}
		p, err := launch.StartApacheZK(ctx, launch.ZKOptions{Dir: d, ForceSync: true, CPUs: cpus})
		if err != nil {
			return nil, nil, err
		}
		return []string{p.Addr}, stopAndRemove(p, d), nil
	}}
}

// ZabdTarget starts the zabd binary bin with the given storage engine in a
// fresh directory under dir, forceSync on; pinned to cpus unless empty.
func ZabdTarget(dir, bin, engine, cpus string) Target {
	return Target{Name: "zabd-" + engine, Start: func(ctx context.Context) ([]string, func() error, error) {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, nil, err
		}
		d, err := os.MkdirTemp(dir, "zabd-"+engine+"-")
		if err != nil {
			return nil, nil, err
		}
		p, err := launch.StartZabd(ctx, abs, launch.ZabdOptions{Dir: d, Engine: engine, ForceSync: true, CPUs: cpus})
		if err != nil {
			return nil, nil, err
		}
		return []string{p.Addr}, stopAndRemove(p, d), nil
	}}
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
