package bench

import (
	"context"
	"os"
	"path/filepath"

	"zabd/bench/launch"
)

// ZooKeeperTarget starts Apache ZooKeeper (from the installed jars, via
// bench/launch) in a fresh directory under dir, with forceSync on so its
// writes are as durable as zabd's.
func ZooKeeperTarget(dir string) Target {
	return Target{Name: "zookeeper", Start: func(ctx context.Context) ([]string, func() error, error) {
		d, err := os.MkdirTemp(dir, "zookeeper-")
		if err != nil {
			return nil, nil, err
		}
		p, err := launch.StartApacheZK(ctx, launch.ZKOptions{Dir: d, ForceSync: true})
		if err != nil {
			return nil, nil, err
		}
		return []string{p.Addr}, stopAndRemove(p, d), nil
	}}
}

// ZabdTarget starts the zabd binary bin with the given storage engine in a
// fresh directory under dir, forceSync on.
func ZabdTarget(dir, bin, engine string) Target {
	return Target{Name: "zabd-" + engine, Start: func(ctx context.Context) ([]string, func() error, error) {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, nil, err
		}
		d, err := os.MkdirTemp(dir, "zabd-"+engine+"-")
		if err != nil {
			return nil, nil, err
		}
		p, err := launch.StartZabd(ctx, abs, launch.ZabdOptions{Dir: d, Engine: engine, ForceSync: true})
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
