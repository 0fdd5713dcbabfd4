package net

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"zabd/tree"
)

// maxFourLetterOutput bounds what one four-letter word may print; longer
// output (cons/wchc/wchp on a big server) is cut with a closing line.
const maxFourLetterOutput = 1 << 20

// fourLetter answers a four-letter word and closes the connection, as
// ZooKeeper does. Words outside the whitelist get ZooKeeper's refusal line.
func (c *conn) fourLetter(word string) {
	s := c.srv
	var out string
	if !s.four["*"] && !s.four[word] {
		out = word + " is not executed because it is not in the whitelist.\n"
	} else {
		out = s.fourLetterOutput(word)
	}
	if len(out) > maxFourLetterOutput {
		out = out[:maxFourLetterOutput] + "\n... output cut at " + fmt.Sprint(maxFourLetterOutput) + " bytes\n"
	}
	c.enqueue([]byte(out))
	c.closeAfterFlush("")
}

func (s *Server) fourLetterOutput(word string) string {
	st := s.proc.Status()
	var b strings.Builder
	switch word {
	case "ruok":
		// As ZooKeeper answers nothing when it is not serving: a server
		// that refuses writes is not "ok", whatever it still reads.
		if st.WritesRefused != "" {
			return ""
		}
		return "imok"
	case "isro":
		if st.WritesRefused != "" {
			return "ro"
		}
		return "rw"
	case "srvr", "stat":
		fmt.Fprintf(&b, "Zookeeper version: %s\n", s.cfg.Version)
		if word == "stat" {
			b.WriteString("Clients:\n")
			for _, c := range s.connections() {
				c.dumpInfo(&b, true)
				b.WriteString("\n")
			}
			b.WriteString("\n")
		}
		sn := s.stats.snapshot()
		fmt.Fprintf(&b, "Latency min/avg/max: %d/%.4f/%d\n", sn.min, sn.avg, sn.max)
		fmt.Fprintf(&b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n",
			sn.received, sn.sent, len(s.connections()), s.outstanding())
		fmt.Fprintf(&b, "Zxid: 0x%x\nMode: %s\nNode count: %d\n", st.LastZxid, st.Mode, st.NodeCount)
	case "cons":
		for _, c := range s.connections() {
			c.dumpInfo(&b, false)
			b.WriteString("\n")
		}
		b.WriteString("\n")
	case "crst":
		s.resetConnectionStats()
		return "Connection stats reset.\n"
	case "srst":
		s.stats.reset()
		return "Server stats reset.\n"
	case "conf":
		for _, kv := range s.cfg.Conf {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
	case "envi":
		host, _ := os.Hostname()
		wd, _ := os.Getwd()
		b.WriteString("Environment:\n")
		for _, kv := range [][2]string{
			{"zookeeper.version", s.cfg.Version},
			{"host.name", host},
			{"go.version", runtime.Version()},
			{"os.name", runtime.GOOS},
			{"os.arch", runtime.GOARCH},
			{"user.dir", wd},
			{"os.processors", fmt.Sprint(runtime.NumCPU())},
		} {
			fmt.Fprintf(&b, "%s=%s\n", kv[0], kv[1])
		}
	case "dirs":
		var d, l int64
		if s.cfg.Dirs != nil {
			d, l = s.cfg.Dirs()
		}
		fmt.Fprintf(&b, "datadir_size: %d\nlogdir_size: %d\n", d, l)
	case "mntr":
		for _, f := range s.monitor(st) {
			v := f.val
			if x, ok := v.(float64); ok {
				v = fmt.Sprintf("%.4f", x)
			}
			fmt.Fprintf(&b, "zk_%s\t%v\n", f.key, v)
		}
	case "wchs":
		var conns, paths, total int
		s.proc.Watches(func(_ *tree.Tree, w *tree.Watches) []tree.Delivery {
			conns, paths, total = w.Watchers(), w.Paths(), w.DataCount()
			return nil
		})
		fmt.Fprintf(&b, "%d connections watching %d paths\nTotal watches:%d\n", conns, paths, total)
	case "wchc", "wchp":
		sids := make(map[tree.WatcherID]SessionID)
		for _, c := range s.connections() {
			sids[c.id] = c.session()
		}
		s.proc.Watches(func(_ *tree.Tree, w *tree.Watches) []tree.Delivery {
			if word == "wchc" {
				by := w.ByWatcher()
				ids := make([]tree.WatcherID, 0, len(by))
				for id := range by {
					ids = append(ids, id)
				}
				sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
				for _, id := range ids {
					fmt.Fprintf(&b, "0x%x\n", uint64(sids[id]))
					for _, p := range by[id] {
						fmt.Fprintf(&b, "\t%s\n", p)
					}
				}
			} else {
				by := w.ByPath()
				ps := make([]string, 0, len(by))
				for p := range by {
					ps = append(ps, p)
				}
				sort.Strings(ps)
				for _, p := range ps {
					fmt.Fprintf(&b, "%s\n", p)
					for _, id := range by[p] {
						fmt.Fprintf(&b, "\t0x%x\n", uint64(sids[id]))
					}
				}
			}
			return nil
		})
		b.WriteString("\n")
	default:
		return word + " is not supported by zabd.\n"
	}
	return b.String()
}

// monitorField is one figure of mntr (and the monitor command): an
// integer, a float64 (written with 4 decimals) or a string.
type monitorField struct {
	key string
	val any
}

// monitor is mntr's figures, in its order: ZooKeeper's, zabd's, then the
// processor's own (Status.Extra).
func (s *Server) monitor(st Status) []monitorField {
	sn := s.stats.snapshot()
	var watches, paths int
	s.proc.Watches(func(_ *tree.Tree, w *tree.Watches) []tree.Delivery {
		watches, paths = w.Count(), w.Paths()
		return nil
	})
	var out []monitorField
	str := func(k, v string) { out = append(out, monitorField{k, v}) }
	num := func(k string, v int64) { out = append(out, monitorField{k, v}) }
	str("version", s.cfg.Version)
	str("server_state", st.Mode)
	out = append(out, monitorField{"avg_latency", sn.avg})
	num("max_latency", sn.max)
	num("min_latency", sn.min)
	num("packets_received", int64(sn.received))
	num("packets_sent", int64(sn.sent))
	num("num_alive_connections", int64(len(s.connections())))
	num("outstanding_requests", int64(s.outstanding()))
	num("auth_failed_count", s.authFailed.Load())
	// zabd's: the server-wide budget of writes in flight (see Config).
	bc, bb, bw := s.budget.snapshot()
	num("outstanding_writes", int64(bc))
	num("outstanding_write_bytes", bb)
	num("readers_throttled", int64(bw))
	// zabd's: the Go collector (the JVM's GC figures have no counterpart).
	gc := readGC()
	num("gc_cycles", gc.cycles)
	out = append(out, monitorField{"gc_pause_max_ms", gc.pauseMaxMs})
	out = append(out, monitorField{"gc_cpu_percent", gc.cpuPercent})
	num("heap_live_bytes", gc.liveBytes)
	num("gc_percent", gc.gcPercent)
	num("gomaxprocs", int64(runtime.GOMAXPROCS(0)))
	num("znode_count", int64(st.NodeCount))
	num("watch_count", int64(watches))
	num("watched_paths", int64(paths))
	num("ephemerals_count", int64(st.Ephemerals))
	num("approximate_data_size", st.ApproxDataSize)
	num("global_sessions", int64(st.Sessions))
	str("last_zxid", fmt.Sprintf("0x%x", st.LastZxid))
	num("uptime", s.cfg.Now().Sub(s.start).Milliseconds())
	if n, ok := openFDs(); ok {
		num("open_file_descriptor_count", int64(n))
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		out = append(out, monitorField{"max_file_descriptor_count", rl.Cur}) // uint64: unlimited is 2^64-1
	}
	if st.WritesRefused != "" {
		num("writes_refused", 1)
		str("writes_refused_reason", strings.ReplaceAll(st.WritesRefused, "\n", " "))
	} else {
		num("writes_refused", 0)
	}
	for _, e := range st.Extra {
		str(e[0], e[1])
	}
	return out
}

func (s *Server) outstanding() int {
	n := 0
	for _, c := range s.connections() {
		c.mu.Lock()
		n += c.inflight
		c.mu.Unlock()
	}
	return n
}

// dumpInfo writes one line of stat/cons output in ZooKeeper's format.
func (c *conn) dumpInfo(b *strings.Builder, brief bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(b, " /%s[1](queued=%d,recved=%d,sent=%d", c.nc.RemoteAddr().String(), c.inflight, c.received, c.sent)
	if !brief && c.sid != 0 {
		fmt.Fprintf(b, ",sid=0x%x,lop=%s,est=%d,to=%d", uint64(c.sid), c.lastOp,
			c.established.UnixMilli(), c.timeout.Milliseconds())
		if c.lastCxid >= 0 {
			fmt.Fprintf(b, ",lcxid=0x%x", c.lastCxid)
		}
		fmt.Fprintf(b, ",lzxid=0x%x", c.lastZxid)
		// As ZooKeeper: the last response's time, then the last, least,
		// mean and most request latency in ms (0 before any request).
		// The time is Unix ms where ZooKeeper's is its JVM's elapsed-time
		// clock, as in the AdminServer's connections.
		lresp, avg := c.lat.lastAndAvg()
		fmt.Fprintf(b, ",lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d", lresp, c.lat.last, c.lat.min, avg, c.lat.max)
	}
	b.WriteString(")")
}

func openFDs() (int, bool) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	return len(ents), true
}

func sidString(sid SessionID) string { return fmt.Sprintf("0x%x", uint64(sid)) }
