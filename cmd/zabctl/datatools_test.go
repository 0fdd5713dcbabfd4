package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// A native data dir written by a real zabd, converted to pebble and to
// badger (and back to native from badger): a zabd started on each copy
// with the new engine serves every znode with its stat, keeps the live
// session's ephemeral, and takes writes at zxids above every old one.
func TestDataConvertThenServe(t *testing.T) {
	p := zktest.StartZabd(t, launch.ZabdOptions{ExtraCfg: map[string]string{"snapCount": "40"}})
	c, _ := zktest.Dial(t, p.Addr, zktest.ConnOptions{})
	open := zk.WorldACL(zk.PermAll)
	for i := range 100 { // past snapCount: snapshots beside the log
		if _, err := c.Create(fmt.Sprintf("/n%03d", i), []byte(fmt.Sprint(i)), 0, open); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/eph", []byte("e"), zk.FlagEphemeral, open); err != nil {
		t.Fatal(err)
	}
	_, before, err := c.Get("/n042")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{"native": p.DataDir}
	for _, step := range []struct{ from, to string }{{"native", "pebble"}, {"native", "badger"}, {"badger", "native"}} {
		to := filepath.Join(t.TempDir(), step.to)
		r := zabctl(t, "", "data", "convert", "--from", dirs[step.from], "--to", to, "--engine", step.to)
		if r.code != 0 || !regexp.MustCompile(`^converted \S+ \(`+step.from+`\) to \S+ \(`+step.to+`\): \d+ txns 0x\S+\.\.0x\S+, [1-9]\d* snapshots, markers \[currentEpoch\] in \S+\nverified in \S+: the same records \(count, zxids, xxhash64 of every record\) and the same tree at 0x\S+ \(10[5-9] znodes, [12] sessions\)\nstart it with: zabd --data-dir \S+ --engine `+step.to+`\n$`).MatchString(r.stdout) {
			t.Fatalf("convert %s → %s: exit %d\nstdout:\n%s\nstderr:\n%s", step.from, step.to, r.code, r.stdout, r.stderr)
		}
		dirs[step.to+"-copy"] = to
		if step.from == "native" && step.to == "badger" {
			dirs["badger"] = to
		}
		q := zktest.StartZabd(t, launch.ZabdOptions{DataDir: to, Engine: step.to})
		cc := zktest.Connect(t, q.Addr)
		data, st, err := cc.Get("/n042")
		if err != nil || string(data) != "42" || *st != *before {
			t.Fatalf("%s copy: /n042 %q %+v %v, want \"42\" %+v", step.to, data, st, err, before)
		}
		kids, _, err := cc.Children("/")
		if err != nil || len(kids) != 102 || !strings.Contains(strings.Join(kids, ","), "eph") {
			t.Fatalf("%s copy: %d children of / (%v)", step.to, len(kids), err)
		}
		st2, err := cc.Set("/n000", []byte("new"), -1)
		if err != nil || st2.Mzxid>>32 <= before.Mzxid>>32 {
			t.Fatalf("%s copy: a write after the conversion: %+v %v (epoch must pass %d)", step.to, st2, err, before.Mzxid>>32)
		}
		if err := q.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	r := zabctl(t, "", "data", "convert", "--from", p.DataDir, "--to", dirs["pebble-copy"], "--engine", "pebble")
	if r.code != exitUsage || !strings.Contains(r.stderr, "the destination exists and is not empty") {
		t.Errorf("convert onto a used dir: exit %d %s", r.code, r.stderr)
	}
	r = zabctl(t, "", "data", "convert", "--from", p.DataDir, "--to", t.TempDir()+"/x", "--engine", "rocks")
	if r.code != exitUsage || !strings.Contains(r.stderr, `--engine "rocks": want native, pebble or badger`) {
		t.Errorf("unknown engine: exit %d %s", r.code, r.stderr)
	}
}
