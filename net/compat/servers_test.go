package compat

import (
	"flag"
	"os"
	"testing"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// Which servers the suite runs against: both by default; ZABD_COMPAT_ONLY=zk
// or =zabd picks one.
var only = os.Getenv("ZABD_COMPAT_ONLY")

var update = flag.Bool("update", false, "rewrite testdata/zk38 golden transcripts from Apache ZooKeeper")

func wantZK() bool   { return only == "" || only == "zk" }
func wantZabd() bool { return only == "" || only == "zabd" }

// server is one kind of server the suite can start.
type server struct {
	name  string
	start func(t *testing.T) *launch.Process
}

var (
	zkServer   = server{"zookeeper", func(t *testing.T) *launch.Process { return zktest.StartApacheZK(t, launch.ZKOptions{}) }}
	zabdServer = server{"zabd", func(t *testing.T) *launch.Process { return zktest.StartZabd(t, launch.ZabdOptions{}) }}
)

// servers returns the servers selected by ZABD_COMPAT_ONLY, reference first.
func servers() []server {
	var out []server
	if wantZK() {
		out = append(out, zkServer)
	}
	if wantZabd() {
		out = append(out, zabdServer)
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
