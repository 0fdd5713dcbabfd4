package compat

import (
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"zabd/bench/launch"
)

// TestFourLetterWords checks the shape of ruok, isro, srvr, stat and mntr
// (keys and formats, not volatile values) and the values that have a
// meaning a test can drive: znode, ephemeral and watch counts. An ensemble
// member's Mode and zk_server_state say follower.
func TestFourLetterWords(t *testing.T) {
	forEachServer(t, func(t *testing.T, p *launch.Process) {
		mode := "standalone"
		if p.ID != 0 {
			mode = "follower"
		}
		word := func(w string) string {
			t.Helper()
			out, err := launch.FourLetter(p.Addr, w, 5*time.Second)
			if err != nil {
				t.Fatalf("%s: %v", w, err)
			}
			return out
		}
		if got := word("ruok"); got != "imok" {
			t.Errorf("ruok = %q, want imok", got)
		}
		if got := word("isro"); got != "rw" {
			t.Errorf("isro = %q, want rw", got)
		}
		if got := word("xxxx"); got != "" {
			t.Errorf("unknown word xxxx = %q, want nothing (connection closed)", got)
		}
		srvrLines := []string{
			`Zookeeper version: \S.*`,
			`Latency min/avg/max: \d+/\d+(\.\d+)?/\d+`,
			`Received: \d+`,
			`Sent: \d+`,
			`Connections: \d+`,
			`Outstanding: \d+`,
			`Zxid: 0x[0-9a-f]+`,
			`Mode: ` + mode,
			`Node count: \d+`,
		}
		srvr := word("srvr")
		checkLines(t, "srvr", srvr, srvrLines)
		stat := word("stat")
		if !strings.Contains(stat, "\nClients:\n") {
			t.Errorf("stat lacks a Clients: section:\n%s", stat)
		}
		var statRest []string
		inClients := false
		for _, l := range strings.Split(stat, "\n") {
			switch {
			case l == "Clients:":
				inClients = true
			case inClients && strings.HasPrefix(l, " /"):
			case inClients && l == "":
				inClients = false
			default:
				statRest = append(statRest, l)
			}
		}
		checkLines(t, "stat (without clients)", strings.Join(statRest, "\n"), srvrLines)

		mntr := func() map[string]string {
			kv := map[string]string{}
			for _, l := range strings.Split(strings.TrimSpace(word("mntr")), "\n") {
				k, v, ok := strings.Cut(l, "\t")
				if !ok {
					t.Errorf("mntr line %q is not key<TAB>value", l)
					continue
				}
				kv[k] = v
			}
			return kv
		}
		before := mntr()
		numeric := []string{"zk_avg_latency", "zk_max_latency", "zk_min_latency", "zk_packets_received", "zk_packets_sent",
			"zk_num_alive_connections", "zk_outstanding_requests", "zk_znode_count", "zk_watch_count", "zk_ephemerals_count",
			"zk_approximate_data_size", "zk_open_file_descriptor_count", "zk_max_file_descriptor_count"}
		for _, k := range numeric {
			if _, err := strconv.ParseFloat(before[k], 64); err != nil {
				t.Errorf("mntr %s = %q, want a number", k, before[k])
			}
		}
		if before["zk_version"] == "" || before["zk_server_state"] != mode {
			t.Errorf("mntr zk_version=%q zk_server_state=%q, want a version and %s", before["zk_version"], before["zk_server_state"], mode)
		}

		// Drive the counts: two znodes (one ephemeral) and one data watch.
		s, err := dialSession(p.Addr, 30000)
		if err != nil {
			t.Fatal(err)
		}
		defer s.close()
		for _, c := range []struct {
			op   int32
			body []byte
		}{
			{opCreate, encCreate("/flw", "", openACL, modePersistent)},
			{opCreate, encCreate("/flw/e", "", openACL, modeEphemeral)},
			{opGetData, encPathWatch("/flw", true)},
		} {
			if r, err := s.call(c.op, c.body); err != nil || r.Err != 0 {
				t.Fatalf("%s: %v %s", opName(c.op), err, codeName(r.Err))
			}
		}
		after := mntr()
		// cons: the session's line carries every field of ZooKeeper's,
		// in its order, and the three requests were counted.
		consLine := regexp.MustCompile(`^ /127\.0\.0\.1:\d+\[[0-9a-f]+\]\(queued=\d+,recved=(\d+),sent=(\d+),sid=0x` +
			strconv.FormatUint(uint64(s.SessionID), 16) + `,lop=\w+,est=\d+,to=\d+,lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)$`)
		var sessionLine []string
		for _, l := range strings.Split(word("cons"), "\n") {
			if m := consLine.FindStringSubmatch(l); m != nil {
				sessionLine = m
			}
		}
		if sessionLine == nil {
			t.Errorf("cons has no line for session 0x%x matching %s:\n%s", uint64(s.SessionID), consLine, word("cons"))
		} else if recved, _ := strconv.Atoi(sessionLine[1]); recved < 3 {
			t.Errorf("cons: the session's line says recved=%s, want at least the 3 requests sent", sessionLine[1])
		}
		delta := func(k string) int {
			a, _ := strconv.Atoi(after[k])
			b, _ := strconv.Atoi(before[k])
			return a - b
		}
		for k, want := range map[string]int{"zk_znode_count": 2, "zk_ephemerals_count": 1, "zk_watch_count": 1} {
			if got := delta(k); got != want {
				t.Errorf("mntr %s went %s -> %s, want +%d", k, before[k], after[k], want)
			}
		}
		if strings.HasPrefix(p.Name, "zabd") {
			// zabd's own: the Go collector's figures.
			gc := map[string]float64{}
			for _, k := range []string{"zk_gc_cycles", "zk_gc_pause_max_ms", "zk_gc_cpu_percent", "zk_heap_live_bytes"} {
				v, err := strconv.ParseFloat(after[k], 64)
				if err != nil {
					t.Errorf("mntr %s = %q, want a number", k, after[k])
				}
				gc[k] = v
			}
			if gc["zk_heap_live_bytes"] <= 0 || gc["zk_gc_cpu_percent"] < 0 || gc["zk_gc_cpu_percent"] > 100 || gc["zk_gc_pause_max_ms"] < 0 {
				t.Errorf("implausible collector figures %v", gc)
			}
			// A small heap serves at GOGC=50 (cmd/zabd paces it from the
			// live heap) unless the environment sets its own.
			if _, set := os.LookupEnv("GOGC"); !set && after["zk_gc_percent"] != "50" {
				t.Errorf("mntr zk_gc_percent = %q on a fresh server, want 50", after["zk_gc_percent"])
			}
			// It serves with one P where Go's default is two or fewer
			// (cmd/zabd), Go's default above that.
			if _, set := os.LookupEnv("GOMAXPROCS"); !set {
				want := runtime.GOMAXPROCS(0)
				if want <= 2 {
					want = 1
				}
				if got := after["zk_gomaxprocs"]; got != strconv.Itoa(want) {
					t.Errorf("mntr zk_gomaxprocs = %q with Go's default %d here, want %d", got, runtime.GOMAXPROCS(0), want)
				}
			}
		}
		if n := after["zk_num_alive_connections"]; n == "0" {
			t.Errorf("zk_num_alive_connections = 0 with a session open")
		}
		t.Logf("%s fresh: znode_count=%s (Apache ZooKeeper 3.8 says 5)", p.Name, before["zk_znode_count"])
	})
}

// checkLines requires out's lines to match pats in order (extra lines are
// allowed between them).
func checkLines(t *testing.T, what, out string, pats []string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	i := 0
	for _, p := range pats {
		re := regexp.MustCompile("^" + p + "$")
		for i < len(lines) && !re.MatchString(lines[i]) {
			i++
		}
		if i == len(lines) {
			t.Errorf("%s: no line matching %q (in order) in:\n%s", what, p, out)
			return
		}
		i++
	}
}
