package compat

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"github.com/go-zookeeper/zk"

	"zabd/bench/launch"
	"zabd/net/zktest"
)

// servletJar is what ZooKeeper's AdminServer (Jetty) needs beyond the
// jars its own manifest names; Debian ships it in libservlet-api-java.
const servletJar = "/usr/share/java/servlet-api.jar"

// zkCommandsNotInZabd are Apache ZooKeeper 3.8's admin commands zabd does
// not answer, and why (README, deliberate differences).
var zkCommandsNotInZabd = map[string]string{
	"get_trace_mask":                 "the JVM's request tracing: zabd has --log-level",
	"set_trace_mask":                 "the JVM's request tracing: zabd has --log-level",
	"system_properties":              "the JVM's system properties: environment has zabd's",
	"hash":                           "ZooKeeper's digest log (zookeeper.digest.enabled): zabd verifies with zabctl log verify",
	"observers":                      "a leader's observer connections: mntr's zk_synced_observers has the count",
	"observer_connection_stat_reset": "a leader's observer connections",
}

// zkFieldsNotInZabd are fields of ZooKeeper's answers zabd leaves out, by
// command and JSON path, because it has nothing true to put there.
var zkFieldsNotInZabd = map[string]map[string]bool{
	"server_stats": serverStatsNotInZabd,
	"stats":        serverStatsNotInZabd,
}

var serverStatsNotInZabd = map[string]bool{
	"server_stats.fsync_threshold_exceed_count": true, // no fsync.warningthresholdms
	"server_stats.provider_null":                true, // Java's metrics provider
	"server_stats.non_mtlsremote_conn_count":    true, // no TLS yet
	"server_stats.non_mtlslocal_conn_count":     true,
}

// keyedByData are answers' objects keyed by session ids, times or paths:
// their keys are data, compared below, not fields.
var keyedByData = map[string]bool{
	"expiry_time_to_session_ids": true, "session_id_to_ephemeral_paths": true,
	"session_id_to_watched_paths": true, "path_to_session_ids": true, "current_config": true,
}

// adminCore are the monitor (mntr) fields the public ZooKeeper dashboards
// and alerts read; zabd answers each (ZooKeeper's monitor has ~400, most
// of them its JVM's and its processors' internals).
var adminCore = []string{"version", "server_state", "ephemerals_count", "num_alive_connections", "avg_latency",
	"min_latency", "max_latency", "outstanding_requests", "znode_count", "global_sessions", "packets_sent",
	"packets_received", "watch_count", "max_file_descriptor_count", "open_file_descriptor_count",
	"approximate_data_size", "uptime", "auth_failed_count"}

// TestAdminServerAgainstApacheZooKeeper runs the same client operations on
// Apache ZooKeeper 3.8 and zabd, each with its AdminServer on, and holds
// zabd's answers to ZooKeeper's: every command ZooKeeper lists (but those
// above), under the same names and aliases, with the same fields of the
// same JSON types, and the same values where both servers' states say the
// same (znodes, watches, ephemerals, configuration).
func TestAdminServerAgainstApacheZooKeeper(t *testing.T) {
	if _, err := os.Stat(servletJar); err != nil {
		zktest.RequireInstalled(t, "libservlet-api-java", fmt.Errorf("%w: %v", launch.ErrNotInstalled, err))
	}
	cp, err := launch.ZooKeeperClassPath()
	zktest.RequireInstalled(t, "zookeeper", err)
	ports, err := launch.FreePorts(1) // ZooKeeper's; zabd's is picked with its start (PortKeys)
	if err != nil {
		t.Fatal(err)
	}
	// ZooKeeper reads zoo.cfg's admin.* keys as the system properties.
	zkp := zktest.StartApacheZK(t, launch.ZKOptions{ClassPath: cp + ":" + servletJar, ExtraCfg: map[string]string{
		"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1", "admin.serverPort": strconv.Itoa(ports[0]),
	}})
	zbp := zktest.StartZabd(t, launch.ZabdOptions{ExtraCfg: map[string]string{
		"admin.enableServer": "true", "admin.serverAddress": "127.0.0.1",
	}, PortKeys: []string{"admin.serverPort"}})
	type side struct {
		name, base string
		addr       string
		sid        int64
	}
	sides := []*side{
		{name: "zookeeper", base: fmt.Sprintf("http://127.0.0.1:%d/commands", ports[0]), addr: zkp.Addr},
		{name: "zabd", base: fmt.Sprintf("http://127.0.0.1:%d/commands", zbp.Ports["admin.serverPort"]), addr: zbp.Addr},
	}
	for _, s := range sides {
		c := zktest.Connect(t, s.addr)
		s.sid = c.SessionID()
		if _, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Create("/a/e", []byte("y"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.GetW("/a"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := c.ExistsW("/nope"); err != nil {
			t.Fatal(err)
		}
	}
	get := func(s *side, cmd string) map[string]any {
		t.Helper()
		resp, err := http.Get(s.base + "/" + cmd)
		if err != nil {
			t.Fatalf("%s %s: %v", s.name, cmd, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s %s: not JSON: %v\n%s", s.name, cmd, err, b)
		}
		return out
	}
	list := func(s *side) []string {
		resp, err := http.Get(s.base)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var names []string
		for _, m := range regexp.MustCompile(`>([a-z_]+)</a>`).FindAllStringSubmatch(string(b), -1) {
			names = append(names, m[1])
		}
		return names
	}
	zkNames, zbNames := list(sides[0]), list(sides[1])
	have := map[string]bool{}
	for _, n := range zbNames {
		have[n] = true
	}
	var common []string
	for _, n := range zkNames {
		switch {
		case have[n]:
			common = append(common, n)
		case zkCommandsNotInZabd[n] == "":
			t.Errorf("ZooKeeper lists %s, zabd does not", n)
		}
	}
	if len(common) < 20 {
		t.Fatalf("only %d commands in common: ZooKeeper %v, zabd %v", len(common), zkNames, zbNames)
	}
	// The reset commands last: they change the counters the others show.
	sort.SliceStable(common, func(i, j int) bool { return !isReset(common[i]) && isReset(common[j]) })
	answers := map[string][2]map[string]any{}
	for _, cmd := range common {
		zkA, zbA := get(sides[0], cmd), get(sides[1], cmd)
		answers[cmd] = [2]map[string]any{zkA, zbA}
		if cmd == "monitor" {
			for _, k := range adminCore {
				if _, ok := zbA[k]; !ok {
					t.Errorf("monitor: zabd lacks %s (ZooKeeper: %v)", k, zkA[k])
				} else if jsonType(zkA[k]) != jsonType(zbA[k]) {
					t.Errorf("monitor.%s: ZooKeeper's is a %s (%v), zabd's a %s (%v)", k, jsonType(zkA[k]), zkA[k], jsonType(zbA[k]), zbA[k])
				}
			}
			continue
		}
		if cmd == "environment" || cmd == "initial_configuration" {
			continue // the JVM's and the files' own; checked below
		}
		sameShape(t, cmd, "", zkA, zbA, zkFieldsNotInZabd[cmd])
	}
	// Aliases answer as their command.
	for alias, cmd := range map[string]string{"srvr": "server_stats", "mntr": "monitor", "conf": "configuration", "cons": "connections",
		"wchs": "watch_summary", "wchc": "watches", "wchp": "watches_by_path", "isro": "is_read_only", "envi": "environment", "lsnp": "last_snapshot"} {
		for _, s := range sides {
			if got := get(s, alias)["command"]; got != cmd {
				t.Errorf("%s %s answered as %v, want %s", s.name, alias, got, cmd)
			}
		}
	}
	// Values both states decide alike.
	both := func(cmd, path string) {
		t.Helper()
		a := answers[cmd]
		zv, zbv := lookup(a[0], path), lookup(a[1], path)
		if fmt.Sprint(zv) != fmt.Sprint(zbv) {
			t.Errorf("%s %s: ZooKeeper %v, zabd %v", cmd, path, zv, zbv)
		}
	}
	for _, c := range [][2]string{
		{"server_stats", "node_count"}, {"server_stats", "read_only"}, {"server_stats", "server_stats.server_state"},
		{"server_stats", "server_stats.num_alive_client_connections"},
		{"watch_summary", "num_connections"}, {"watch_summary", "num_paths"}, {"watch_summary", "num_total_watches"},
		{"is_read_only", "read_only"}, {"configuration", "tick_time"}, {"configuration", "max_client_cnxns"},
		{"configuration", "min_session_timeout"}, {"configuration", "max_session_timeout"}, {"configuration", "server_id"},
		{"zabstate", "voting"}, {"zabstate", "zabstate"}, {"leader", "error"}, {"voting_view", "current_config"},
		{"monitor", "znode_count"}, {"monitor", "ephemerals_count"}, {"monitor", "watch_count"}, {"monitor", "server_state"},
		{"monitor", "num_alive_connections"},
	} {
		both(c[0], c[1])
	}
	// Session-keyed answers, each side with its own session id.
	for i, s := range sides {
		sid := strconv.FormatInt(s.sid, 10)
		if got := fmt.Sprint(lookup(answers["dump"][i], "session_id_to_ephemeral_paths")); got != "map["+sid+":[/a/e]]" {
			t.Errorf("%s dump: ephemerals %s", s.name, got)
		}
		if got := fmt.Sprint(lookup(answers["watches"][i], "session_id_to_watched_paths")); got != "map["+sid+":[/a /nope]]" {
			t.Errorf("%s watches: %s", s.name, got)
		}
		if got := fmt.Sprint(lookup(answers["watches_by_path"][i], "path_to_session_ids")); got != fmt.Sprintf("map[/a:[%v] /nope:[%v]]", float64(s.sid), float64(s.sid)) {
			t.Errorf("%s watches_by_path: %s", s.name, got)
		}
		exp, _ := lookup(answers["dump"][i], "expiry_time_to_session_ids").(map[string]any)
		for at, sids := range exp {
			// ZooKeeper keeps a bucket the session was moved out of,
			// empty, until that bucket's time has passed.
			if l, ok := sids.([]any); ok && len(l) == 0 {
				delete(exp, at)
			}
		}
		if len(exp) != 1 || fmt.Sprint(exp) == "" {
			t.Errorf("%s dump: expiries %v, want the one session", s.name, exp)
		}
		for _, sids := range exp {
			if fmt.Sprint(sids) != fmt.Sprintf("[%v]", float64(s.sid)) {
				t.Errorf("%s dump: expiries %v, want session %d", s.name, exp, s.sid)
			}
		}
		conns, _ := lookup(answers["connections"][i], "connections").([]any)
		if len(conns) != 1 || fmt.Sprint(conns[0].(map[string]any)["session_id"]) != fmt.Sprint(float64(s.sid)) {
			t.Errorf("%s connections: %v", s.name, conns)
		}
	}
	for _, k := range []string{"zookeeper.version", "host.name", "os.name", "os.arch", "os.version", "user.name", "user.home", "user.dir"} {
		if _, ok := answers["environment"][1][k]; !ok {
			t.Errorf("environment: zabd lacks %s (ZooKeeper: %v)", k, answers["environment"][0][k])
		}
	}
	if got, _ := answers["initial_configuration"][1]["initial_configuration"].(string); !regexp.MustCompile(`(?m)^admin\.enableServer=true$`).MatchString(got) {
		t.Errorf("initial_configuration is not zabd's zoo.cfg: %q", got)
	}
	// After connection_stat_reset, the connection's counters start again.
	for _, s := range sides {
		c := get(s, "connections")["connections"].([]any)[0].(map[string]any)
		if c["last_operation"] != "NA" || c["last_cxid"] != -1.0 || c["packets_received"] != 0.0 {
			t.Errorf("%s: a connection after connection_stat_reset: %v", s.name, c)
		}
	}
}

func isReset(cmd string) bool { return cmd == "stat_reset" || cmd == "connection_stat_reset" }

// sameShape checks that b has every field of a (but those in skip, by
// dotted path) with the same JSON type, recursing into objects and into
// the first element of arrays of objects.
func sameShape(t *testing.T, cmd, prefix string, a, b map[string]any, skip map[string]bool) {
	t.Helper()
	for k, av := range a {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if skip[path] {
			continue
		}
		bv, ok := b[k]
		if !ok {
			t.Errorf("%s: zabd lacks %s (ZooKeeper: %v)", cmd, path, av)
			continue
		}
		if k == "error" && (av == nil) != (bv == nil) {
			t.Errorf("%s: ZooKeeper's error %v, zabd's %v", cmd, av, bv)
			continue
		}
		if av != nil && jsonType(av) != jsonType(bv) {
			t.Errorf("%s: %s is a %s in ZooKeeper (%v), a %s in zabd (%v)", cmd, path, jsonType(av), av, jsonType(bv), bv)
			continue
		}
		switch av := av.(type) {
		case map[string]any:
			if keyedByData[k] {
				continue
			}
			sameShape(t, cmd, path, av, bv.(map[string]any), skip)
		case []any:
			bl := bv.([]any)
			if len(av) > 0 && len(bl) > 0 {
				if ao, ok := av[0].(map[string]any); ok {
					if bo, ok := bl[0].(map[string]any); ok {
						sameShape(t, cmd, path+"[0]", ao, bo, skip)
					}
				}
			}
		}
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// lookup follows a dotted path through nested objects.
func lookup(m map[string]any, path string) any {
	var cur any = m
	for _, k := range regexp.MustCompile(`\.`).Split(path, -1) {
		o, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = o[k]
	}
	return cur
}
