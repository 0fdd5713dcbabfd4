package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"zabd/bench"
	"zabd/bench/launch"
	"zabd/net/zktest"
)

// zabctl bench --server-pid reports the server process's CPU per op
// beside the generator's, in the text and the JSON.
func TestBenchServerPID(t *testing.T) {
	p := zktest.StartZabd(t, launch.ZabdOptions{})
	r := zabctl(t, "", "bench", "--servers", p.Addr, "-w", "create", "-c", "4", "--ops", "400", "--warmup", "0s",
		"--server-pid", strconv.Itoa(p.PID()), "--json", "--no-progress")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var rep bench.Report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.ServerCPU) != 1 || rep.ServerCPU[0].Name != "pid "+strconv.Itoa(p.PID()) || rep.GeneratorUsPerOp <= 0 {
		t.Errorf("server CPU %+v, generator %.1f µs/op", rep.ServerCPU, rep.GeneratorUsPerOp)
	}
	if !strings.Contains(r.stderr, "server CPU  ") || !strings.Contains(r.stderr, "(pid "+strconv.Itoa(p.PID())) {
		t.Errorf("the text report has no server CPU line:\n%s", r.stderr)
	}
	if r := zabctl(t, "", "bench", "--servers", p.Addr, "--ops", "10", "--server-pid", "999999999", "--no-progress"); r.code == 0 &&
		!strings.Contains(r.stdout+r.stderr, "999999999") {
		t.Errorf("a pid that does not exist: exit 0 and nothing said\n%s%s", r.stdout, r.stderr)
	}
}
