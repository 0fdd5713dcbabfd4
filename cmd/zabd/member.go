package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	stdnet "net"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/net"
	"zabd/net/secure"
	"zabd/tree"
	"zabd/zab"
	"zabd/zab/member"
	"zabd/zab/peer"
	"zabd/zab/transport"
)

// startMember starts this server as a member of the ensemble cfg.Quorum
// describes, over the recovered tree: the transport on its quorum and
// election ports, the ZAB member, the snapshotter and the client server.
// The client port is bound (s.ln) and the dirs locked by start before.
func (s *server) startMember(cfg Config, logger *slog.Logger, t *tree.Tree, snaps *engine.SnapshotStore, dd datadir.Dir) error {
	q := cfg.Quorum
	peers := make(map[peer.ID]transport.Addrs, len(q.Servers))
	var voters, observers []peer.ID
	for _, sv := range q.Servers {
		a := sv.Addrs[0] // multi-address lines: the first address is used
		host := a.Host
		peers[sv.ID] = transport.Addrs{
			Quorum:   stdnet.JoinHostPort(host, strconv.Itoa(a.QuorumPort)),
			Election: stdnet.JoinHostPort(host, strconv.Itoa(a.ElectionPort)),
		}
		if sv.Observer {
			observers = append(observers, sv.ID)
		} else {
			voters = append(voters, sv.ID)
		}
	}
	var serverTLS *tls.Config
	var clientTLS func(string) *tls.Config
	if qt := cfg.TLS.Quorum; qt.Enabled {
		store := qt.Store
		store.Logger = logger
		r, err := secure.New(store)
		if err != nil {
			return cli.Exit(fmt.Sprintf("TLS between members (sslQuorum): %v", err), exitConfig)
		}
		serverTLS = r.ServerConfigMutual()
		clientTLS = func(addr string) *tls.Config { return r.ClientConfig(addr, !qt.NoHostCheck) }
	}
	tr, err := transport.New(transport.Config{ID: q.MyID, Peers: peers, Logger: logger, ServerTLS: serverTLS, ClientTLS: clientTLS,
		OnBroken: func(from peer.ID) {
			if m := s.memberp.Load(); m != nil {
				m.Unreachable(from)
			}
		}})
	if err != nil {
		return cli.Exit(fmt.Sprintf("listening on the quorum and election ports of server.%d: %v", q.MyID, err), exitListen)
	}
	s.tr = tr
	s.snap, err = zab.NewSnapshotter(cfg.snapshotterConfig(lateStore{s}, latePurger{s, dd}, logger))
	if err != nil {
		return cli.Exit(err.Error(), exitConfig)
	}
	fatal := make(chan error, 1)
	configText := q.ConfigText()
	elections := &electionTimer{now: time.Now}
	if cfg.metrics != nil {
		elections.observe = cfg.metrics.ObserveElection
	}
	ro := newReadOnlyMode(cfg.ReadOnlyModeEnabled, int64(q.MyID), cfg.TickTime, time.Now, func(sids []int64) {
		if srv := s.srvp.Load(); srv != nil {
			for _, sid := range sids {
				srv.SessionExpired(net.SessionID(sid))
			}
		}
	})
	s.member, err = member.New(member.Config{
		ID: q.MyID, Voters: voters, Observers: observers,
		TickTime: cfg.TickTime, InitLimit: q.InitLimit, SyncLimit: q.SyncLimit,
		Engine: s.eng, Snaps: snaps, Dir: dd, SnapshotCodec: cfg.SnapshotCodec, Tree: t, Transport: tr,
		PrepareTree: func(t *tree.Tree) {
			t.SetConfigNode([]byte(configText), 0, time.Now().UnixMilli())
		},
		Deliver: func(ds []tree.Delivery) {
			if srv := s.srvp.Load(); srv != nil {
				srv.Deliver(ds)
			}
		},
		AfterApply:             s.snap.AfterApply,
		OnBatch:                s.batching,
		ContainerCheckInterval: cfg.ContainerCheckInterval,
		OnExpire: func(sid int64) {
			if srv := s.srvp.Load(); srv != nil {
				srv.SessionExpired(net.SessionID(sid))
			}
			if cfg.metrics != nil {
				cfg.metrics.SessionExpired()
			}
		},
		OnStatus: func(st peer.Status) {
			ro.status(st)
			elections.status(st)
		},
		OnStopServing: func(why string) {
			if srv := s.srvp.Load(); srv != nil {
				srv.CloseClients("this member stopped serving: " + why)
			}
		},
		Fatal: func(err error) {
			select {
			case fatal <- err:
			default:
			}
		},
		Logger: logger,
	})
	if err != nil {
		return storageExit(err.Error(), err, cfg.DataDir)
	}
	s.memberp.Store(s.member)
	s.srv = net.NewServer(cfg.netConfig(logger), memberProcessor{m: s.member, eng: s.eng, ro: ro, voters: len(voters)})
	s.srvp.Store(s.srv)
	s.snapSrc, s.snaps = s.member.SnapshotSource(), lateStore{s}
	s.snap.Start(s.snapSrc)
	go func() {
		// A member whose storage failed stops; the process exits so a
		// supervisor restarts it (it rejoins from its log).
		if err := <-fatal; err != nil {
			s.serveErr <- fmt.Errorf("storage failed: %w", err)
		}
	}()
	return nil
}

// lateStore and latePurger give the snapshotter the member's guarded
// store and log, which exist only once the member does (the member needs
// the snapshotter's AfterApply first).
type lateStore struct{ s *server }

func (l lateStore) Save(write func(w io.Writer) (log.Zxid, error)) (engine.SnapshotInfo, error) {
	return l.s.member.SnapshotStore().Save(write)
}

func (l lateStore) Purge(keep int) ([]engine.SnapshotInfo, engine.SnapshotInfo, error) {
	return l.s.member.SnapshotStore().Purge(keep)
}

func (l lateStore) List() ([]engine.SnapshotInfo, error) { return l.s.member.SnapshotStore().List() }

type latePurger struct {
	s  *server
	dd datadir.Dir
}

func (l latePurger) PurgeBefore(z log.Zxid) error {
	return l.dd.PurgeRecorder(l.s.member.LogPurger()).PurgeBefore(z)
}

// memberProcessor adapts a quorum member to net.Processor.
// electionTimer times each election, from the member's turning to
// looking to its leading or following (ZooKeeper's election_time), for
// the metrics. It runs on the member's status callback.
type electionTimer struct {
	now     func() time.Time
	observe func(time.Duration) // nil: not measured
	since   time.Time           // when looking began; zero while not looking
}

func (e *electionTimer) status(st peer.Status) {
	switch {
	case st.Role == peer.Looking && e.since.IsZero():
		e.since = e.now()
	case (st.Role == peer.Leading || st.Role == peer.Following) && !e.since.IsZero():
		if e.observe != nil {
			e.observe(e.now().Sub(e.since))
		}
		e.since = time.Time{}
	case st.Role == peer.Observing:
		e.since = time.Time{}
	}
}

type memberProcessor struct {
	m   *member.Member
	eng engine.StatsReporter
	ro  *readOnlyMode
	// voters is the voting members' count (ZooKeeper's quorum_size).
	voters int
}

// errNotReadOnlyClient refuses, in read-only mode, a client that does not
// accept a read-only server.
var errNotReadOnlyClient = errors.New("this member is in read-only mode (no quorum) and the client does not accept a read-only server")

// errEnsembleSessionInReadOnly refuses, in read-only mode, the re-attach
// of a session of the ensemble, as ZooKeeper's read-only server does: the
// connection closes unanswered and the client tries another member.
var errEnsembleSessionInReadOnly = errors.New("this member is in read-only mode (no quorum): sessions of the ensemble re-attach to a serving member")

var _ net.Processor = memberProcessor{}

func (p memberProcessor) CreateSession(timeout time.Duration, client string, readOnlyOK bool, done func(net.SessionID, []byte, bool, error)) {
	if p.ro.active() {
		if !readOnlyOK {
			done(0, nil, false, errNotReadOnlyClient)
			return
		}
		if sid, pw, ok := p.ro.create(timeout); ok {
			done(net.SessionID(sid), pw, true, nil)
			return
		}
	}
	p.m.CreateSession(timeout, client, func(sid int64, pw []byte, err error) { done(net.SessionID(sid), pw, false, err) })
}

func (p memberProcessor) ResumeSession(sid net.SessionID, pw []byte, timeout time.Duration) (ok, readOnly bool, err error) {
	if p.ro.owns(int64(sid)) {
		return p.ro.resume(int64(sid), pw, timeout), true, nil
	}
	if p.ro.active() {
		return false, false, errEnsembleSessionInReadOnly
	}
	ok, err = p.m.ResumeSession(int64(sid), pw, timeout)
	return ok, false, err
}

func (p memberProcessor) Touch(sid net.SessionID) bool {
	if p.ro.owns(int64(sid)) {
		return p.ro.touch(int64(sid))
	}
	return p.m.Touch(int64(sid))
}

func (p memberProcessor) CloseSession(sid net.SessionID, done func(tree.Result, error)) {
	if p.ro.owns(int64(sid)) {
		p.ro.close(int64(sid))
		done(tree.Result{Zxid: p.LastZxid()}, nil)
		return
	}
	p.m.CloseSession(int64(sid), done)
}

func (p memberProcessor) Submit(sid net.SessionID, req tree.Request, done func(tree.Result, error)) {
	p.m.Submit(int64(sid), req, done)
}

func (p memberProcessor) Read(sid net.SessionID, w tree.WatcherID, req tree.Request, answer func(tree.Result)) {
	p.m.ReadAnswer(int64(sid), w, req, answer)
}

func (p memberProcessor) Watches(fn func(*tree.Tree, *tree.Watches) []tree.Delivery) {
	p.m.WithWatches(fn)
}

func (p memberProcessor) LastZxid() int64 {
	var z int64
	p.m.WithTree(func(t *tree.Tree) { z = t.LastZxid() })
	return z
}

func (p memberProcessor) Status() net.Status {
	ms := p.m.Status()
	st := net.Status{Mode: ms.Mode, Sessions: ms.Sessions}
	if p.ro.active() {
		st.Mode = "read-only"
	}
	switch {
	case ms.Failed != "":
		st.WritesRefused = ms.Failed
	case !ms.Serving:
		st.WritesRefused = "not serving: no established leader (" + ms.Role.String() + ")"
	}
	p.m.WithTree(func(t *tree.Tree) { treeStatus(t, &st) })
	st.Extra = [][2]string{
		{"quorum_size", fmt.Sprint(p.voters)},
		{"zab_role", ms.Role.String()},
		{"zab_epoch", fmt.Sprint(ms.Epoch)},
		{"zab_leader", fmt.Sprint(ms.Leader)},
	}
	if ms.Mode == "leader" {
		// The leader-only lines of ZooKeeper 3.8's mntr.
		st.Extra = append(st.Extra,
			[2]string{"learners", fmt.Sprint(ms.Learners.Learners)},
			[2]string{"synced_followers", fmt.Sprint(ms.Learners.SyncedFollowers)},
			[2]string{"synced_non_voting_followers", "0"},
			[2]string{"synced_observers", fmt.Sprint(ms.Learners.SyncedObservers)},
			[2]string{"pending_syncs", fmt.Sprint(ms.Learners.PendingSyncs)},
			[2]string{"last_proposal_size", fmt.Sprint(ms.Proposals.LastSize)},
			[2]string{"max_proposal_size", fmt.Sprint(ms.Proposals.MaxSize)},
			[2]string{"min_proposal_size", fmt.Sprint(ms.Proposals.MinSize)},
		)
		// ZooKeeper's quorum_ack_latency summary (ms; its avg a float),
		// from a proposal to its commit, then zabd's in microseconds.
		qa := ms.Proposals.QuorumAck
		st.Extra = append(st.Extra,
			[2]string{"avg_quorum_ack_latency", fmt.Sprintf("%.4f", float64(qa.Avg().Microseconds())/1000)},
			[2]string{"min_quorum_ack_latency", fmt.Sprint(qa.Min.Milliseconds())},
			[2]string{"max_quorum_ack_latency", fmt.Sprint(qa.Max.Milliseconds())},
			[2]string{"cnt_quorum_ack_latency", fmt.Sprint(qa.Count)},
			[2]string{"sum_quorum_ack_latency", fmt.Sprint(qa.Sum.Milliseconds())},
			[2]string{"quorum_ack_latency_avg_us", fmt.Sprint(qa.Avg().Microseconds())},
			[2]string{"quorum_ack_latency_max_us", fmt.Sprint(qa.Max.Microseconds())},
		)
	}
	es := p.eng.Stats()
	st.Extra = append(st.Extra,
		[2]string{"fsyncs", fmt.Sprint(es.Fsyncs)},
		[2]string{"txns_per_fsync", fmt.Sprintf("%.2f", es.RecordsPerFsync())},
		[2]string{"fsync_latency_avg_us", fmt.Sprint(es.FsyncLatency.Mean.Microseconds())},
	)
	if ms.Failed != "" {
		st.Extra = append(st.Extra, [2]string{"storage_failure", ms.Failed})
	}
	return st
}
