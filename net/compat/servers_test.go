package compat

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// Which servers the suite runs against: ZABD_COMPAT_ONLY, a comma list of
// zk (Apache ZooKeeper standalone), zabd (zabd standalone), follower (a
// follower of a 3-member zabd ensemble) and zk-follower (a follower of a
// 3-member Apache ZooKeeper ensemble); unset means zk,zabd,follower.
var only = os.Getenv("ZABD_COMPAT_ONLY")

var update = flag.Bool("update", false, "rewrite testdata/zk38 golden transcripts from Apache ZooKeeper")

// want reports whether the kind called sel (zk, zabd, follower,
// zk-follower) is selected.
func want(sel string) bool {
	if only == "" {
		return sel == "zk" || sel == "zabd" || sel == "follower"
	}
	for _, s := range strings.Split(only, ",") {
		if strings.TrimSpace(s) == sel {
			return true
		}
	}
	return false
}

func wantZK() bool   { return want("zk") }
func wantZabd() bool { return want("zabd") }

// server is one kind of server the suite can start.
type server struct {
	name string
	sel  string // its name in ZABD_COMPAT_ONLY
	// follower: the client talks to a follower of an ensemble, whose
	// other members run too (ensembleOf finds the ensemble).
	follower bool
	start    func(t *testing.T) *launch.Process
}

var (
	zkServer   = server{"zookeeper", "zk", false, func(t *testing.T) *launch.Process { return zktest.StartApacheZK(t, launch.ZKOptions{}) }}
	zabdServer = server{"zabd", "zabd", false, func(t *testing.T) *launch.Process { return zktest.StartZabd(t, launch.ZabdOptions{}) }}
	// zabdFollowerServer is a follower of a 3-member zabd ensemble.
	zabdFollowerServer = server{"zabd-follower", "follower", true, func(t *testing.T) *launch.Process { return startFollower(t, "zabd") }}
	// zkFollowerServer is the same with Apache ZooKeeper: the reference
	// for zabd-follower when selected (it costs three JVMs per test).
	zkFollowerServer = server{"zookeeper-follower", "zk-follower", true, func(t *testing.T) *launch.Process { return startFollower(t, "zookeeper") }}
)

// servers returns the servers selected by ZABD_COMPAT_ONLY, reference first.
func servers() []server {
	var out []server
	for _, s := range []server{zkServer, zabdServer, zkFollowerServer, zabdFollowerServer} {
		if want(s.sel) {
			out = append(out, s)
		}
	}
	return out
}

// forEachServer runs fn as a subtest per selected server, each with a
// fresh server.
func forEachServer(t *testing.T, fn func(t *testing.T, p *launch.Process)) {
	for _, s := range servers() {
		t.Run(s.name, func(t *testing.T) {
			fn(t, s.start(t))
		})
	}
}

// ensembleQuorumCfg is the quorum timing of the follower kinds: tickTime
// 200 ms so that elections take tens of milliseconds, with the session
// timeout bounds a standalone server gets from tickTime 2000 (4 s and
// 40 s), so that session negotiation reads the same as there.
var ensembleQuorumCfg = map[string]string{
	"tickTime": "200", "initLimit": "10", "syncLimit": "5",
	"minSessionTimeout": "4000", "maxSessionTimeout": "40000",
}

// ensembles maps a follower kind's Process to its ensemble.
var ensembles sync.Map // *launch.Process -> *launch.Ensemble

// ensembleOf is the ensemble p is a member of, or nil.
func ensembleOf(p *launch.Process) *launch.Ensemble {
	if e, ok := ensembles.Load(p); ok {
		return e.(*launch.Ensemble)
	}
	return nil
}

// startFollower starts a 3-member ensemble of kind ("zabd" or
// "zookeeper") for the length of t and returns one of its followers. At
// cleanup every member is stopped; when t failed, every member's log tail
// is logged.
func startFollower(t *testing.T, kind string) *launch.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var e *launch.Ensemble
	var err error
	switch kind {
	case "zabd":
		e, err = launch.StartZabdEnsemble(ctx, zktest.BuildZabd(t), 3, launch.ZabdOptions{Dir: t.TempDir(), ExtraCfg: ensembleQuorumCfg, StartTimeout: 2 * time.Minute})
		if err != nil {
			t.Fatalf("starting a zabd ensemble: %v", err)
		}
	case "zookeeper":
		zktest.RequireInstalled(t, "zookeeper", launch.ZooKeeperInstalled())
		e, err = launch.StartZKEnsemble(ctx, 3, launch.ZKOptions{Dir: t.TempDir(), ExtraCfg: ensembleQuorumCfg, StartTimeout: 2 * time.Minute})
		zktest.RequireInstalled(t, "zookeeper", err)
	default:
		t.Fatalf("no ensemble kind %q", kind)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stopping the %s ensemble: %v", kind, err)
		}
		if t.Failed() {
			for _, m := range e.Members {
				t.Logf("%s (member %d) log %s, last lines:\n%s", m.Name, m.ID, m.LogPath, m.LogTail(40))
			}
		}
	})
	fs := e.Followers()
	if len(fs) == 0 {
		t.Fatalf("%s ensemble serves without a follower", kind)
	}
	p := e.Member(fs[0])
	ensembles.Store(p, e)
	t.Cleanup(func() { ensembles.Delete(p) })
	t.Logf("%s: talking to follower %d at %s (leader %d)", kind, p.ID, p.Addr, e.Leader())
	return p
}

// portNames maps each port of e's members (client, quorum, election) to a
// stable name, so transcripts of two ensembles compare.
func portNames(e *launch.Ensemble) map[string]string {
	m := map[string]string{}
	for i, p := range e.Members {
		m[fmt.Sprint(p.Port)] = fmt.Sprintf("<client.%d>", p.ID)
		m[fmt.Sprint(e.QuorumPorts[i])] = fmt.Sprintf("<quorum.%d>", p.ID)
		m[fmt.Sprint(e.ElectionPorts[i])] = fmt.Sprintf("<election.%d>", p.ID)
	}
	return m
}
