package net

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"zabd/net/admin"
	"zabd/tree"
)

// SessionExpiries is implemented by a Processor that can say when each
// session it tracks expires (the dump command); others answer dump with
// an empty expiry map.
type SessionExpiries interface {
	// SessionExpiries maps each expiry time (Unix ms) to the sessions
	// expiring then.
	SessionExpiries() map[int64][]int64
}

// AdminCommands are Apache ZooKeeper 3.8's AdminServer commands this
// server answers, under ZooKeeper's names and aliases and with its field
// names, from the same figures as the four-letter words. The commands of
// quorum mode (leader, voting_view, zabstate...) and of the storage
// (last_snapshot, take_snapshot, purge) are the caller's to add.
func (s *Server) AdminCommands() []admin.Command {
	get := func(names []string, required bool, run func() admin.Fields) admin.Command {
		return admin.Command{Names: names, ServerRequired: required,
			Run: func(*http.Request) (admin.Fields, error) { return run(), nil }}
	}
	return []admin.Command{
		{Names: []string{"ruok"}, ServerRequired: true, Run: func(*http.Request) (admin.Fields, error) {
			// As the word: a server refusing writes is not "ok".
			if s.proc.Status().WritesRefused != "" {
				return nil, errors.New(admin.NotServing)
			}
			return admin.Fields{}, nil
		}},
		get([]string{"server_stats", "srvr"}, true, func() admin.Fields { return s.adminServerStats(false) }),
		get([]string{"stats", "stat"}, true, func() admin.Fields { return s.adminServerStats(true) }),
		get([]string{"monitor", "mntr"}, false, s.adminMonitor),
		get([]string{"configuration", "conf", "config"}, true, s.adminConfiguration),
		get([]string{"connections", "cons"}, true, func() admin.Fields {
			return admin.Fields{"connections": s.adminConnections(), "secure_connections": []admin.Fields{}}
		}),
		get([]string{"connection_stat_reset", "crst"}, true, func() admin.Fields {
			s.resetConnectionStats()
			return admin.Fields{}
		}),
		get([]string{"stat_reset", "srst"}, true, func() admin.Fields {
			s.stats.reset()
			return admin.Fields{}
		}),
		get([]string{"dirs"}, true, func() admin.Fields {
			var d, l int64
			if s.cfg.Dirs != nil {
				d, l = s.cfg.Dirs()
			}
			return admin.Fields{"datadir_size": d, "logdir_size": l}
		}),
		get([]string{"dump"}, true, s.adminDump),
		get([]string{"environment", "env", "envi"}, false, s.adminEnvironment),
		get([]string{"is_read_only", "isro"}, true, func() admin.Fields {
			return admin.Fields{"read_only": s.readOnly()}
		}),
		get([]string{"watch_summary", "wchs"}, true, func() admin.Fields {
			var conns, paths, total int
			s.proc.Watches(func(_ *tree.Tree, w *tree.Watches) []tree.Delivery {
				conns, paths, total = w.Watchers(), w.Paths(), w.DataCount()
				return nil
			})
			return admin.Fields{"num_connections": conns, "num_paths": paths, "num_total_watches": total}
		}),
		get([]string{"watches", "wchc"}, true, s.adminWatches),
		get([]string{"watches_by_path", "wchp"}, true, s.adminWatchesByPath),
	}
}

// Status is the processor's status, as the four-letter words see it.
func (s *Server) Status() Status { return s.proc.Status() }

// readOnly is isro's answer: a read-only member, or a server refusing
// writes.
func (s *Server) readOnly() bool {
	st := s.proc.Status()
	return st.WritesRefused != "" || st.Mode == "read-only"
}

func (s *Server) adminServerStats(withConnections bool) admin.Fields {
	st := s.proc.Status()
	sn := s.stats.snapshot()
	writes, writeBytes, _ := s.budget.snapshot()
	var d, l int64
	if s.cfg.Dirs != nil {
		d, l = s.cfg.Dirs()
	}
	// zabd does not cache serialized responses: the sizes are unknown,
	// as ZooKeeper reports them before its first response (-1).
	resp := admin.Fields{"last_buffer_size": -1, "min_buffer_size": -1, "max_buffer_size": -1}
	out := admin.Fields{
		"version":   s.cfg.Version,
		"read_only": s.readOnly(),
		"server_stats": admin.Fields{
			"packets_sent":                  sn.sent,
			"packets_received":              sn.received,
			"client_response_stats":         resp,
			"data_dir_size":                 d,
			"log_dir_size":                  l,
			"server_state":                  st.Mode,
			"last_processed_zxid":           st.LastZxid,
			"outstanding_requests":          s.outstanding(),
			"avg_latency":                   sn.avg,
			"max_latency":                   sn.max,
			"min_latency":                   sn.min,
			"num_alive_client_connections":  len(s.connections()),
			"uptime":                        s.cfg.Now().Sub(s.start).Milliseconds(),
			"auth_failed_count":             s.authFailed.Load(),
			"zabd_writes_refused_reason":    st.WritesRefused,
			"zabd_outstanding_write_bytes":  writeBytes,
			"zabd_outstanding_writes_count": writes,
		},
		"client_response": resp,
		"node_count":      st.NodeCount,
	}
	if withConnections {
		out["connections"] = s.adminConnections()
		out["secure_connections"] = []admin.Fields{}
	}
	return out
}

// MonitorFields is the monitor command's answer: mntr's figures by name
// (without "zk_"), numbers as numbers. The metrics endpoint reads its
// gauges from it.
func (s *Server) MonitorFields() map[string]any { return s.adminMonitor() }

// adminMonitor is mntr as JSON: the same keys without "zk_", numbers as
// numbers.
func (s *Server) adminMonitor() admin.Fields {
	out := admin.Fields{}
	for _, f := range s.monitor(s.proc.Status()) {
		v, ok := f.val.(string)
		if !ok {
			out[f.key] = f.val
			continue
		}
		// The processor's figures (Status.Extra) come as text.
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			out[f.key] = n
		} else if x, err := strconv.ParseFloat(v, 64); err == nil && f.key != "version" {
			out[f.key] = x
		} else {
			out[f.key] = v
		}
	}
	return out
}

// adminConfiguration is conf under ZooKeeper's JSON names, plus every
// line of conf under its own name for what has no JSON name.
func (s *Server) adminConfiguration() admin.Fields {
	conf := map[string]string{}
	for _, kv := range s.cfg.Conf {
		conf[kv[0]] = kv[1]
	}
	num := func(k string) any {
		if n, err := strconv.ParseInt(conf[k], 10, 64); err == nil {
			return n
		}
		return conf[k]
	}
	out := admin.Fields{
		"client_port":                num("clientPort"),
		"data_dir":                   conf["dataDir"],
		"data_log_dir":               conf["dataLogDir"],
		"tick_time":                  num("tickTime"),
		"max_client_cnxns":           num("maxClientCnxns"),
		"min_session_timeout":        num("minSessionTimeout"),
		"max_session_timeout":        num("maxSessionTimeout"),
		"server_id":                  num("serverId"),
		"client_port_listen_backlog": -1,
	}
	for _, kv := range s.cfg.Conf {
		switch kv[0] {
		case "clientPort", "dataDir", "dataLogDir", "tickTime", "maxClientCnxns", "minSessionTimeout", "maxSessionTimeout", "serverId":
		default:
			out[kv[0]] = kv[1]
		}
	}
	return out
}

// adminConnections is cons as JSON, one object per connection, with
// ZooKeeper's field names.
func (s *Server) adminConnections() []admin.Fields {
	conns := s.connections()
	out := make([]admin.Fields, 0, len(conns))
	for _, c := range conns {
		out = append(out, c.adminInfo())
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i]["remote_socket_address"].(string) < out[j]["remote_socket_address"].(string)
	})
	return out
}

func (c *conn) adminInfo() admin.Fields {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := admin.Fields{
		"remote_socket_address": c.nc.RemoteAddr().String(),
		"interest_ops":          1, // always reading
		"outstanding_requests":  c.inflight,
		"packets_received":      c.received,
		"packets_sent":          c.sent,
	}
	if c.sid == 0 {
		return f
	}
	lop, cxid, zxid := c.lastOp, int64(c.lastCxid), c.lastZxid
	if lop == "" {
		lop, cxid, zxid = "NA", -1, -1
	}
	lastResp, avg := c.lat.lastAndAvg()
	f["session_id"] = int64(c.sid)
	f["last_operation"] = lop
	f["established"] = c.established.UnixMilli()
	f["session_timeout"] = c.timeout.Milliseconds()
	f["last_cxid"] = cxid
	f["last_zxid"] = zxid
	f["last_response_time"] = lastResp
	f["last_latency"] = c.lat.last
	f["min_latency"] = c.lat.min
	f["avg_latency"] = avg
	f["max_latency"] = c.lat.max
	return f
}

// resetConnectionStats is crst: every connection's counters start again,
// as ZooKeeper's resetAllConnectionStats.
func (s *Server) resetConnectionStats() {
	for _, c := range s.connections() {
		c.mu.Lock()
		c.received, c.sent = 0, 0
		c.lastOp, c.lastCxid, c.lastZxid = "", -1, -1
		c.lat = connLatency{}
		c.mu.Unlock()
	}
}

func (s *Server) adminDump() admin.Fields {
	eph := map[string][]string{}
	s.proc.Watches(func(t *tree.Tree, _ *tree.Watches) []tree.Delivery {
		for sid := range t.Sessions() {
			if ps := t.Ephemerals(sid); len(ps) > 0 {
				eph[strconv.FormatInt(sid, 10)] = ps
			}
		}
		return nil
	})
	exp := map[string][]int64{}
	if se, ok := s.proc.(SessionExpiries); ok {
		for at, sids := range se.SessionExpiries() {
			exp[strconv.FormatInt(at, 10)] = sids
		}
	}
	return admin.Fields{"expiry_time_to_session_ids": exp, "session_id_to_ephemeral_paths": eph}
}

func (s *Server) adminEnvironment() admin.Fields {
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	out := admin.Fields{
		"zookeeper.version": s.cfg.Version,
		"host.name":         host,
		"go.version":        runtime.Version(),
		"os.name":           runtime.GOOS,
		"os.arch":           runtime.GOARCH,
		"user.dir":          wd,
		"os.processors":     runtime.NumCPU(),
		"os.gomaxprocs":     runtime.GOMAXPROCS(0),
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		out["os.version"] = strings.TrimSpace(string(rel))
	}
	if me, err := user.Current(); err == nil {
		out["user.name"], out["user.home"] = me.Username, me.HomeDir
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out["os.memory.total"] = fmt.Sprintf("%dMB", ms.Sys>>20)
	out["os.memory.heap"] = fmt.Sprintf("%dMB", ms.HeapAlloc>>20)
	return out
}

// watchSessions maps watchers to their connections' sessions.
func (s *Server) watchSessions() map[tree.WatcherID]int64 {
	sids := make(map[tree.WatcherID]int64)
	for _, c := range s.connections() {
		sids[c.id] = int64(c.session())
	}
	return sids
}

func (s *Server) adminWatches() admin.Fields {
	sids := s.watchSessions()
	out := map[string][]string{}
	s.proc.Watches(func(_ *tree.Tree, w *tree.Watches) []tree.Delivery {
		for id, paths := range w.ByWatcher() {
			k := strconv.FormatInt(sids[id], 10)
			out[k] = append(out[k], paths...)
		}
		return nil
	})
	for _, ps := range out {
		sort.Strings(ps)
	}
	return admin.Fields{"session_id_to_watched_paths": out}
}

func (s *Server) adminWatchesByPath() admin.Fields {
	sids := s.watchSessions()
	out := map[string][]int64{}
	s.proc.Watches(func(_ *tree.Tree, w *tree.Watches) []tree.Delivery {
		for p, ids := range w.ByPath() {
			for _, id := range ids {
				out[p] = append(out[p], sids[id])
			}
		}
		return nil
	})
	for _, ss := range out {
		sort.Slice(ss, func(i, j int) bool { return ss[i] < ss[j] })
	}
	return admin.Fields{"path_to_session_ids": out}
}
