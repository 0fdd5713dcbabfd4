// Package buildinfo says which build of zabd or zabctl is running: the
// ZooKeeper version the server reports itself as, the commit it was built
// from (with "-dirty" when the tree had uncommitted changes), when that
// commit was made, and the Go version, all from the binary's build
// information (runtime/debug.ReadBuildInfo).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"
)

// ZooKeeperVersion is the Apache ZooKeeper release whose client protocol
// and behaviour zabd follows; clients that parse the version see it first.
const ZooKeeperVersion = "3.8.4"

// Info describes a build.
type Info struct {
	Commit string // 12 hex digits, "-dirty" appended if modified; "" if unknown
	Time   string // the commit's time, UTC, "2006-01-02 15:04 UTC"; "" if unknown
	Go     string // the Go version that built it
}

// Read returns the running binary's build information.
func Read() Info {
	i := Info{Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return i
	}
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.Commit = s.Value[:min(12, len(s.Value))]
		case "vcs.time":
			if t, err := time.Parse(time.RFC3339, s.Value); err == nil {
				i.Time = t.UTC().Format("2006-01-02 15:04 UTC")
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && i.Commit != "" {
		i.Commit += "-dirty"
	}
	return i
}

// ServerVersion is what the server reports as its version (srvr, stat,
// mntr's zk_version, envi's zookeeper.version), in Apache ZooKeeper's
// form "3.8.4-<commit>, built on <time>": "3.8.4-zabd-<commit>, built on
// <time>".
func (i Info) ServerVersion() string {
	v := ZooKeeperVersion + "-zabd"
	if i.Commit != "" {
		v += "-" + i.Commit
	}
	if i.Time != "" {
		v += ", built on " + i.Time
	}
	return v
}

// Line is one line for --version: the program, the version it reports,
// the commit and the Go version.
func (i Info) Line(program string) string {
	commit := i.Commit
	if commit == "" {
		commit = "unknown"
	}
	built := ""
	if i.Time != "" {
		built = ", committed " + i.Time
	}
	return fmt.Sprintf("%s %s-zabd (commit %s%s, %s)", program, ZooKeeperVersion, commit, built, i.Go)
}
