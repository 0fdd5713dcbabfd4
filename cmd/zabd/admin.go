package main

import (
	"fmt"
	"log/slog"
	stdnet "net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/net/admin"
	"zabd/zab/peer"
)

// serving reports whether the server serves clients now (the AdminServer
// answers the commands that need it with ZooKeeper's "not serving" error
// otherwise): a standalone server once started, a member while it has an
// established leader (or serves read-only).
func (s *server) serving() bool {
	srv := s.srvp.Load()
	if srv == nil {
		return false
	}
	if m := s.memberp.Load(); m != nil {
		return m.Status().Serving || srv.Status().Mode == "read-only"
	}
	return true
}

// serveAdmin starts answering on the AdminServer bound at start: the
// client server's commands (ZooKeeper's), the storage's and the quorum's.
func (s *server) serveAdmin(cfg Config, logger *slog.Logger) error {
	if s.admin == nil {
		return nil
	}
	cmds := append(s.srv.AdminCommands(), s.storageCommands(cfg)...)
	cmds = append(cmds, s.quorumCommands(cfg)...)
	if err := s.admin.Serve(cmds); err != nil {
		return cli.Exit(fmt.Sprintf("AdminServer: %v", err), exitConfig)
	}
	logger.Info("AdminServer serving", "url", s.admin.URL())
	return nil
}

// storageCommands are last_snapshot (ZooKeeper's) and zabd's take_snapshot
// and purge, both POST only.
func (s *server) storageCommands(cfg Config) []admin.Command {
	return []admin.Command{
		{Names: []string{"initial_configuration", "icfg"}, ServerRequired: true, Run: func(*http.Request) (admin.Fields, error) {
			return admin.Fields{"initial_configuration": cfg.cfgText}, nil // the zoo.cfg as read ("" without one)
		}},
		{Names: []string{"last_snapshot", "lsnp"}, ServerRequired: true, Run: func(*http.Request) (admin.Fields, error) {
			// As ZooKeeper: the newest snapshot's zxid in hex and its
			// time in seconds; "0" and the start time before the first.
			out := admin.Fields{"zxid": "0", "timestamp": time.Now().Unix()}
			infos, err := s.snaps.List()
			if err != nil {
				return nil, fmt.Errorf("listing the snapshots: %w", err)
			}
			if len(infos) > 0 {
				last := infos[len(infos)-1]
				out["zxid"] = strconv.FormatUint(uint64(last.StartZxid), 16)
				if st, err := os.Stat(last.Path); err == nil {
					out["timestamp"] = st.ModTime().Unix()
				}
			}
			return out, nil
		}},
		{Names: []string{"take_snapshot"}, ServerRequired: true, Post: true, Run: func(*http.Request) (admin.Fields, error) {
			began := time.Now()
			info, err := s.snap.TakeSnapshot(s.snapSrc)
			if err != nil {
				return nil, fmt.Errorf("taking a snapshot: %w", err)
			}
			st := s.snap.Stats()
			return admin.Fields{
				"zxid": info.StartZxid.String(), "end_zxid": st.LastMeta.EndZxid.String(), "file": info.Path, "bytes": info.Bytes,
				"znodes": st.LastMeta.Nodes, "sessions": st.LastMeta.Sessions, "took_ms": time.Since(began).Milliseconds(),
			}, nil
		}},
		{Names: []string{"purge"}, ServerRequired: true, Post: true, Run: func(r *http.Request) (admin.Fields, error) {
			keep := cfg.SnapRetainCount
			if v := r.URL.Query().Get("keep"); v != "" {
				n, err := strconv.Atoi(v)
				if err != nil || n < 3 {
					return nil, &admin.UserError{Msg: fmt.Sprintf("keep=%q: want a whole number of snapshots, at least 3", v)}
				}
				keep = n
			}
			res, err := s.snap.PurgeKeeping(keep)
			if err != nil {
				return nil, fmt.Errorf("purging: %w", err)
			}
			removed := []string{}
			for _, r := range res.Removed {
				removed = append(removed, r.Path)
			}
			out := admin.Fields{"keep": keep, "snapshots_removed": removed, "snapshots_kept": res.Kept}
			if res.LogPurgedBefore != 0 {
				out["log_purged_before"] = res.LogPurgedBefore.String()
			}
			return out, nil
		}},
	}
}

// quorumCommands are zabstate, leader and voting_view, as ZooKeeper 3.8
// answers them standalone and in an ensemble.
func (s *server) quorumCommands(cfg Config) []admin.Command {
	q := cfg.Quorum
	return []admin.Command{
		{Names: []string{"zabstate"}, Run: func(*http.Request) (admin.Fields, error) {
			m := s.memberp.Load()
			if m == nil {
				return admin.Fields{"voting": false, "zabstate": ""}, nil
			}
			st := m.Status()
			state := "synchronization"
			switch {
			case st.Serving:
				state = "broadcast"
			case st.Role == peer.Looking:
				state = "election"
			}
			return admin.Fields{"voting": !q.Observer, "zabstate": state}, nil
		}},
		{Names: []string{"leader", "lead"}, ServerRequired: true, Run: func(*http.Request) (admin.Fields, error) {
			m := s.memberp.Load()
			if m == nil {
				return nil, fmt.Errorf("server is not initialized") // ZooKeeper's answer standalone
			}
			st := m.Status()
			out := admin.Fields{"is_leader": st.Role == peer.Leading, "leader_id": st.Leader}
			for _, qs := range q.Servers {
				if qs.ID == st.Leader && len(qs.Addrs) > 0 {
					out["leader_ip"] = qs.Addrs[0].Host
				}
			}
			return out, nil
		}},
		{Names: []string{"voting_view"}, ServerRequired: true, Run: func(*http.Request) (admin.Fields, error) {
			view := admin.Fields{}
			if q != nil {
				for _, qs := range q.Servers {
					if !qs.Observer {
						view[strconv.FormatUint(qs.ID, 10)] = votingViewEntry(qs)
					}
				}
			}
			return admin.Fields{"current_config": view}, nil
		}},
	}
}

// votingViewEntry is a voter as ZooKeeper's QuorumServer.toString writes
// it: host:quorumPort:electionPort:participant;clientAddr.
func votingViewEntry(qs QuorumServer) string {
	var out string
	for i, a := range qs.Addrs {
		if i > 0 {
			out += "|"
		}
		out += stdnet.JoinHostPort(a.Host, strconv.Itoa(a.QuorumPort)) + ":" + strconv.Itoa(a.ElectionPort)
	}
	out += ":participant"
	if qs.ClientAddr != "" {
		out += ";" + qs.ClientAddr
	}
	return out
}
