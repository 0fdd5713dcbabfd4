package member

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"zabd/engine"
	"zabd/engine/datadir"
	"zabd/log"
	"zabd/log/vfs"
	"zabd/snapshot"
	"zabd/tree"
	"zabd/zab"
	"zabd/zab/peer"
)

// hub is an in-memory network: Send puts a message on its recipient's
// channel unless the link is cut.
type hub struct {
	mu    sync.Mutex
	inbox map[peer.ID]chan peer.Message
	cut   map[[2]peer.ID]bool
	// holdCommits: COMMITs to these members wait in held until
	// releaseCommits; sent is told of every message sent, if set.
	holdCommits map[peer.ID]bool
	held        []peer.Message
	sent        func(peer.Message)
}

func newHub() *hub {
	return &hub{inbox: make(map[peer.ID]chan peer.Message), cut: make(map[[2]peer.ID]bool), holdCommits: make(map[peer.ID]bool)}
}

// releaseCommits delivers the held COMMITs to id and stops holding them.
func (h *hub) releaseCommits(id peer.ID) {
	h.mu.Lock()
	delete(h.holdCommits, id)
	var mine []peer.Message
	kept := h.held[:0]
	for _, m := range h.held {
		if m.To == id {
			mine = append(mine, m)
		} else {
			kept = append(kept, m)
		}
	}
	h.held = kept
	c := h.inbox[id]
	h.mu.Unlock()
	for _, m := range mine {
		c <- m
	}
}

type hubPort struct {
	h  *hub
	id peer.ID
}

func (h *hub) port(id peer.ID) hubPort {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.inbox[id] == nil {
		h.inbox[id] = make(chan peer.Message, 1<<16)
	}
	return hubPort{h: h, id: id}
}

// drain empties id's inbox (a member that was down missed it all).
func (h *hub) drain(id peer.ID) {
	h.mu.Lock()
	c := h.inbox[id]
	h.mu.Unlock()
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

func (h *hub) isolate(id peer.ID, ids []peer.ID, cut bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range ids {
		h.cut[[2]peer.ID{id, o}] = cut
		h.cut[[2]peer.ID{o, id}] = cut
	}
}

func (p hubPort) Send(m peer.Message) {
	p.h.mu.Lock()
	c := p.h.inbox[m.To]
	cut := p.h.cut[[2]peer.ID{m.From, m.To}]
	sent := p.h.sent
	if m.Type == peer.Commit && p.h.holdCommits[m.To] && !cut {
		p.h.held = append(p.h.held, m)
		p.h.mu.Unlock()
		return
	}
	p.h.mu.Unlock()
	if sent != nil {
		sent(m)
	}
	if c == nil || cut {
		return
	}
	select {
	case c <- m:
	default: // full: dropped, as a transport may
	}
}

func (p hubPort) Recv() <-chan peer.Message {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	return p.h.inbox[p.id]
}

type testMember struct {
	*Member
	id    peer.ID
	dir   string
	eng   engine.Full
	snaps *engine.SnapshotStore
	dd    datadir.Dir
}

func testLogger(id peer.ID) *slog.Logger {
	var w io.Writer = io.Discard
	if testing.Verbose() {
		w = os.Stderr
	}
	return slog.New(slog.NewTextHandler(w, nil)).With("member", id)
}

type cluster struct {
	t         testing.TB
	hub       *hub
	ids       []peer.ID
	voters    []peer.ID
	observers []peer.ID
	dirs      map[peer.ID]string
	nodes     map[peer.ID]*testMember
	mu        sync.Mutex
	closed    map[peer.ID]int // OnStopServing calls

	// Set before the members start (newClusterOpts):
	syncAppends bool                                   // Config.SyncAppends
	snapCodec   snapshot.Codec                         // Config.SnapshotCodec
	wrap        func(peer.ID, engine.Full) engine.Full // the engine a member is given
	fatal       func(peer.ID, error)                   // Config.Fatal (default: the test fails)
}

func newCluster(t testing.TB, n int) *cluster { return newClusterWith(t, n, 0) }

// newClusterWith starts voters 1..n and observers n+1..n+observers.
func newClusterWith(t testing.TB, n, observers int) *cluster {
	return newClusterOn(t, n, observers, newHub())
}

// newClusterOn starts voters and observers as newClusterWith does, on h.
func newClusterOn(t testing.TB, n, observers int, h *hub) *cluster {
	return newClusterOpts(t, n, observers, h, func(*cluster) {})
}

// newClusterOpts is newClusterOn with set run on the cluster before any
// member starts.
func newClusterOpts(t testing.TB, n, observers int, h *hub, set func(*cluster)) *cluster {
	c := &cluster{t: t, hub: h, dirs: map[peer.ID]string{}, nodes: map[peer.ID]*testMember{}, closed: map[peer.ID]int{}}
	set(c)
	for i := 1; i <= n+observers; i++ {
		id := peer.ID(i)
		c.ids = append(c.ids, id)
		if i <= n {
			c.voters = append(c.voters, id)
		} else {
			c.observers = append(c.observers, id)
		}
		c.dirs[id] = filepath.Join(t.TempDir(), fmt.Sprint(i))
	}
	for _, id := range c.ids {
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.ids {
			c.stop(id)
		}
	})
	return c
}

// start recovers member id from its data dir and starts it.
func (c *cluster) start(id peer.ID) {
	t := c.t
	dir := c.dirs[id]
	// Small segments, so a purge after a snapshot removes some.
	eng, err := engine.Open("native", dir, engine.Options{Native: engine.NativeOptions{Log: log.Options{SegmentBytes: 64 << 10}}})
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := engine.OpenSnapshotStore(vfs.Default, filepath.Join(dir, engine.SnapshotDirName))
	if err != nil {
		t.Fatal(err)
	}
	dd := datadir.Open(vfs.Default, dir)
	if err := FinishRestore(eng, snaps, dd); err != nil {
		t.Fatal(err)
	}
	rec, err := dd.Recover(eng, snaps, tree.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.hub.drain(id)
	var given engine.Full = eng
	if c.wrap != nil {
		given = c.wrap(id, eng)
	}
	fatal := func(err error) { t.Errorf("member %d: storage failed: %v", id, err) }
	if c.fatal != nil {
		fatal = func(err error) { c.fatal(id, err) }
	}
	m, err := New(Config{
		ID: id, Voters: c.voters, Observers: c.observers, TickTime: 100 * time.Millisecond, InitLimit: 10, SyncLimit: 5,
		Engine: given, Snaps: snaps, Dir: dd, Tree: rec.Tree, Transport: c.hub.port(id), SyncAppends: c.syncAppends, SnapshotCodec: c.snapCodec,
		OnStopServing: func(string) {
			c.mu.Lock()
			c.closed[id]++
			c.mu.Unlock()
		},
		Fatal:  fatal,
		Logger: testLogger(id),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.nodes[id] = &testMember{Member: m, id: id, dir: dir, eng: eng, snaps: snaps, dd: dd}
}

func (c *cluster) stop(id peer.ID) {
	n := c.nodes[id]
	if n == nil {
		return
	}
	n.Close()
	n.eng.Close()
	delete(c.nodes, id)
}

// leader waits until every running member serves, one of them leading,
// and returns it.
func (c *cluster) leader() *testMember {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var lead *testMember
		all := true
		for _, n := range c.nodes {
			st := n.Status()
			if !st.Serving {
				all = false
				break
			}
			if st.Role == peer.Leading {
				lead = n
			}
		}
		if all && lead != nil {
			return lead
		}
		time.Sleep(10 * time.Millisecond)
	}
	for id, n := range c.nodes {
		c.t.Logf("member %d: %v", id, n.Status())
	}
	c.t.Fatal("no leader served by every member within 20s")
	return nil
}

func (c *cluster) follower() *testMember {
	for _, n := range c.nodes {
		if n.Status().Role == peer.Following {
			return n
		}
	}
	c.t.Fatal("no follower")
	return nil
}

func wait[T any](t testing.TB, f func(done func(T))) T {
	t.Helper()
	ch := make(chan T, 1)
	f(func(v T) { ch <- v })
	select {
	case v := <-ch:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("no answer within 20s")
	}
	var zero T
	return zero
}

type answer struct {
	res tree.Result
	err error
}

func submit(t testing.TB, n *testMember, sid int64, req tree.Request) tree.Result {
	t.Helper()
	a := wait(t, func(done func(answer)) {
		n.Submit(sid, req, func(res tree.Result, err error) { done(answer{res, err}) })
	})
	if a.err != nil {
		t.Fatalf("member %d: %v %s: %v", n.id, req.Op, req.Path, a.err)
	}
	return a.res
}

func session(t testing.TB, n *testMember) int64 {
	t.Helper()
	type created struct {
		sid int64
		err error
	}
	var a created
	deadline := time.Now().Add(10 * time.Second)
	for {
		a = wait(t, func(done func(created)) {
			n.CreateSession(10*time.Second, "127.0.0.1:40000", func(sid int64, _ []byte, err error) { done(created{sid, err}) })
		})
		// The first leader logs the session secret just after it
		// starts serving.
		if a.err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if a.err != nil {
		t.Fatalf("member %d: createSession: %v", n.id, a.err)
	}
	return a.sid
}

func create(path string, data string) tree.Request {
	return tree.Request{Op: tree.OpCreate, Path: path, Data: []byte(data), ACL: tree.OpenACLUnsafe}
}

// read syncs member n, then reads path.
func read(t testing.TB, n *testMember, sid int64, path string) tree.Result {
	t.Helper()
	submit(t, n, sid, tree.Request{Op: tree.OpSync, Path: path})
	return n.Read(sid, 0, tree.Request{Op: tree.OpGetData, Path: path})
}

func TestWritesThroughEveryMemberReachEveryMember(t *testing.T) {
	writesReachEveryMember(t, newCluster(t, 3))
}

// writesReachEveryMember writes through each member of c and reads every
// write back on each.
func writesReachEveryMember(t *testing.T, c *cluster) {
	lead := c.leader()
	sids := map[peer.ID]int64{}
	for _, id := range c.ids {
		sids[id] = session(t, c.nodes[id])
	}
	for i, id := range c.ids {
		n := c.nodes[id]
		res := submit(t, n, sids[id], create(fmt.Sprintf("/from-%d", id), fmt.Sprint(i)))
		if res.Err != tree.CodeOK {
			t.Fatalf("create via member %d (leader %d): %v", id, lead.id, res.Err)
		}
		// The same create again fails the same way on every member.
		res = submit(t, n, sids[id], create(fmt.Sprintf("/from-%d", id), "again"))
		if res.Err != tree.CodeNodeExists {
			t.Fatalf("second create via member %d: %v, want NodeExists", id, res.Err)
		}
	}
	for _, id := range c.ids {
		for j, from := range c.ids {
			res := read(t, c.nodes[id], sids[id], fmt.Sprintf("/from-%d", from))
			if res.Err != tree.CodeOK || string(res.Data) != fmt.Sprint(j) {
				t.Fatalf("member %d reads /from-%d: %v %q", id, from, res.Err, res.Data)
			}
		}
	}
}

func TestLeaderLossThenRejoin(t *testing.T) {
	c := newCluster(t, 3)
	lead := c.leader()
	f := c.follower()
	sid := session(t, f)
	for i := 0; i < 50; i++ {
		submit(t, f, sid, create(fmt.Sprintf("/a%d", i), "x"))
	}
	old := lead.id
	c.stop(old)
	lead2 := c.leader()
	if lead2.id == old {
		t.Fatal("the stopped member leads")
	}
	sid2 := session(t, lead2)
	for i := 0; i < 50; i++ {
		submit(t, lead2, sid2, create(fmt.Sprintf("/b%d", i), "y"))
	}
	c.start(old)
	c.leader()
	n := c.nodes[old]
	sid3 := session(t, n)
	for _, p := range []string{"/a0", "/a49", "/b0", "/b49"} {
		if res := read(t, n, sid3, p); res.Err != tree.CodeOK {
			t.Fatalf("restarted member %d reads %s: %v", old, p, res.Err)
		}
	}
}

func TestPartitionedLeaderStepsDown(t *testing.T) {
	c := newCluster(t, 3)
	lead := c.leader()
	f := c.follower()
	sid := session(t, f)
	submit(t, f, sid, create("/before", ""))
	var others []peer.ID
	for _, id := range c.ids {
		if id != lead.id {
			others = append(others, id)
		}
	}
	oldEpoch := lead.Status().Epoch
	c.hub.isolate(lead.id, others, true)
	// The others elect a leader among themselves; the old one stops
	// serving (it lost its quorum).
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := lead.Status()
		n2 := c.nodes[others[0]].Status()
		if !st.Serving && n2.Serving && n2.Epoch > oldEpoch {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new leader: old %v, other %v", st, n2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.hub.isolate(lead.id, others, false)
	c.leader()
	n := c.nodes[lead.id]
	sid2 := session(t, n)
	if res := read(t, n, sid2, "/before"); res.Err != tree.CodeOK {
		t.Fatalf("old leader reads /before after healing: %v", res.Err)
	}
}

// expectEverywhere reads each path through every running member (after a
// sync, in a fresh session) and wants the code given for it.
func (c *cluster) expectEverywhere(want map[string]tree.Code) {
	c.t.Helper()
	for _, id := range c.ids {
		n := c.nodes[id]
		if n == nil {
			continue
		}
		s := session(c.t, n)
		for p, code := range want {
			if res := read(c.t, n, s, p); res.Err != code {
				c.t.Fatalf("member %d reads %s: %v, want %v", id, p, res.Err, code)
			}
		}
	}
}

func (c *cluster) others(id peer.ID) []peer.ID {
	var out []peer.ID
	for _, o := range c.ids {
		if o != id {
			out = append(out, o)
		}
	}
	return out
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A txn the old leader logged but no quorum did is truncated when it
// rejoins a newer epoch, also after a restart applied it to its tree (the
// tree is rebuilt), and its client never hears "ok".
func TestUncommittedTxnOfAnOldEpochIsTruncated(t *testing.T) {
	for _, restart := range []bool{false, true} {
		t.Run(fmt.Sprintf("restart=%v", restart), func(t *testing.T) {
			c := newCluster(t, 3)
			lead := c.leader()
			sid := session(t, lead)
			submit(t, lead, sid, create("/before", ""))
			_, lastBefore := lead.log.Bounds()
			oldEpoch := lead.Status().Epoch
			c.hub.isolate(lead.id, c.others(lead.id), true)
			lost := make(chan answer, 1)
			lead.Submit(sid, create("/lost", ""), func(res tree.Result, err error) { lost <- answer{res, err} })
			waitFor(t, "the old leader logs /lost", func() bool { _, last := lead.log.Bounds(); return last > lastBefore })
			waitFor(t, "a new leader among the others", func() bool {
				st := c.nodes[c.others(lead.id)[0]].Status()
				return st.Serving && st.Epoch > oldEpoch
			})
			if a := <-lost; a.err == nil && a.res.Err == tree.CodeOK {
				t.Fatal("the client of the isolated leader was told ok for a txn no quorum logged")
			}
			var lead2 *testMember
			for _, id := range c.others(lead.id) {
				if c.nodes[id].Status().Role == peer.Leading {
					lead2 = c.nodes[id]
				}
			}
			if lead2 == nil {
				t.Fatal("no new leader")
			}
			sid2 := session(t, lead2)
			submit(t, lead2, sid2, create("/after", ""))
			old := lead.id
			if restart {
				c.stop(old) // recovery then applies /lost to the tree
			}
			c.hub.isolate(old, c.others(old), false)
			if restart {
				c.start(old)
			}
			c.leader()
			c.expectEverywhere(map[string]tree.Code{"/lost": tree.CodeNoNode, "/before": tree.CodeOK, "/after": tree.CodeOK})
		})
	}
}

// A learner behind the leader's purged log gets the leader's snapshot
// (SNAP), and restarts from it.
func TestFarBehindLearnerGetsASnapshot(t *testing.T) {
	for _, tc := range []struct {
		codec       snapshot.Codec
		wantVersion int
		wantCodec   snapshot.Codec
	}{
		{0, snapshot.Version, snapshot.CodecS2},
		{snapshot.CodecZstd, snapshot.Version2, snapshot.CodecZstd}, // what members before format 3 read
		{snapshot.CodecNone, snapshot.Version, snapshot.CodecNone},
	} {
		t.Run(fmt.Sprintf("codec=%v", tc.wantCodec), func(t *testing.T) {
			c := newClusterOpts(t, 3, 0, newHub(), func(c *cluster) { c.snapCodec = tc.codec })
			farBehindLearnerGetsASnapshot(t, c, tc.wantVersion, tc.wantCodec)
		})
	}
}

// farBehindLearnerGetsASnapshot: the SNAP a learner is sent, and saves
// as it is, is written in the leader's snapshotCodec (format wantVersion).
func farBehindLearnerGetsASnapshot(t *testing.T, c *cluster, wantVersion int, wantCodec snapshot.Codec) {
	lead := c.leader()
	f := c.follower()
	sid := session(t, lead)
	submit(t, lead, sid, create("/early", ""))
	behind := f.id
	c.stop(behind)
	big := strings.Repeat("x", 2000)
	for i := 0; i < 200; i++ {
		submit(t, lead, sid, create(fmt.Sprintf("/n%03d", i), big))
	}
	// The leader snapshots and purges its log below the snapshot.
	snapper, err := zab.NewSnapshotter(zab.SnapshotterConfig{Store: lead.SnapshotStore(), Log: lead.dd.PurgeRecorder(lead.LogPurger()), RetainCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := snapper.TakeSnapshot(lead.SnapshotSource()); err != nil {
			t.Fatal(err)
		}
	}
	if err := snapper.Purge(); err != nil {
		t.Fatal(err)
	}
	snapper.Close()
	if base := lead.log.Base(); base == 0 {
		t.Fatal("the leader's log is still whole after the purge")
	}
	c.start(behind)
	c.leader()
	check := func() {
		t.Helper()
		n := c.nodes[behind]
		s := session(t, n)
		for _, p := range []string{"/early", "/n000", "/n199"} {
			if res := read(t, n, s, p); res.Err != tree.CodeOK {
				t.Fatalf("member %d reads %s: %v", behind, p, res.Err)
			}
		}
	}
	check()
	infos, _ := c.nodes[behind].snaps.List()
	if len(infos) == 0 {
		t.Fatal("the learner has no snapshot: it was not sent one")
	}
	for _, info := range infos {
		m, err := c.nodes[behind].snaps.ReadMeta(info)
		if err != nil {
			t.Fatal(err)
		}
		if m.Version != wantVersion || m.Codec != wantCodec {
			t.Errorf("the learner's snapshot %s: format %d, codec %v; want format %d, codec %v", info.Path, m.Version, m.Codec, wantVersion, wantCodec)
		}
	}
	// It restarts from the snapshot it was sent and the log after it.
	c.stop(behind)
	c.start(behind)
	c.leader()
	check()
}

// Observers get every committed txn, forward their clients' writes, and
// never count toward a quorum: with one voter of three left, nothing is
// served.
func TestObserver(t *testing.T) {
	c := newClusterWith(t, 3, 1)
	c.leader()
	obs := c.nodes[4]
	if st := obs.Status(); st.Role != peer.Observing {
		t.Fatalf("member 4: %v", st)
	}
	sid := session(t, obs)
	submit(t, obs, sid, create("/via-observer", "o"))
	for _, id := range c.voters {
		n := c.nodes[id]
		if res := read(t, n, session(t, n), "/via-observer"); res.Err != tree.CodeOK {
			t.Fatalf("voter %d reads /via-observer: %v", id, res.Err)
		}
	}
	lead := c.leader()
	for _, id := range c.voters {
		if id != lead.id {
			c.stop(id)
			break
		}
	}
	for _, id := range c.voters {
		if id != lead.id && c.nodes[id] != nil {
			c.stop(id)
		}
	}
	// The leader and the observer alone are no quorum.
	waitFor(t, "the leader stops serving", func() bool { return !lead.Status().Serving })
}

// Five voters tolerate two down, the leader among them.
func TestFiveMembersTwoDown(t *testing.T) {
	c := newCluster(t, 5)
	lead := c.leader()
	f := c.follower()
	sid := session(t, f)
	submit(t, f, sid, create("/one", ""))
	c.stop(lead.id)
	c.stop(f.id)
	lead2 := c.leader()
	sid2 := session(t, lead2)
	submit(t, lead2, sid2, create("/two", ""))
	c.start(lead.id)
	c.start(f.id)
	c.leader()
	c.expectEverywhere(map[string]tree.Code{"/one": tree.CodeOK, "/two": tree.CodeOK})
}

// The leader expires a session a follower's client stopped touching (its
// ephemerals go everywhere, and the follower hears of it), and not one
// the follower keeps touching.
func TestSessionExpiryOwnedByTheLeader(t *testing.T) {
	c := newCluster(t, 3)
	c.leader()
	f := c.follower()
	expired := make(chan int64, 4)
	f.cfg.OnExpire = func(sid int64) { expired <- sid }
	mk := func() int64 {
		type created struct {
			sid int64
			err error
		}
		a := wait(t, func(done func(created)) {
			f.CreateSession(500*time.Millisecond, "127.0.0.1:40000", func(sid int64, _ []byte, err error) { done(created{sid, err}) })
		})
		if a.err != nil {
			// The first leader logs the session secret just after it
			// starts serving.
			time.Sleep(20 * time.Millisecond)
			return 0
		}
		return a.sid
	}
	var kept, dropped int64
	waitFor(t, "two sessions", func() bool {
		if kept == 0 {
			kept = mk()
		} else if dropped == 0 {
			dropped = mk()
		}
		return kept != 0 && dropped != 0
	})
	eph := tree.Request{Op: tree.OpCreate, Path: "/kept", ACL: tree.OpenACLUnsafe, Mode: tree.ModeEphemeral}
	submit(t, f, kept, eph)
	eph.Path = "/dropped"
	submit(t, f, dropped, eph)
	deadline := time.Now().Add(3 * time.Second) // six timeouts of the dropped one
	var got int64
	for got == 0 && time.Now().Before(deadline) {
		f.Touch(kept)
		select {
		case got = <-expired:
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got != dropped {
		t.Fatalf("expired %#x, want %#x (the untouched one)", got, dropped)
	}
	c.expectEverywhere(map[string]tree.Code{"/dropped": tree.CodeNoNode, "/kept": tree.CodeOK})
}

// Reads go on while a follower becomes leader and while a cut-off leader
// steps down: each change hands the tree to a new pipeline, and a reader
// still holding the old one must be excluded from the new one's applies
// (the race detector is the check; the tree lock is shared across them).
func TestReadsDuringLeaderChanges(t *testing.T) {
	c := newCluster(t, 3)
	for round := 0; round < 3; round++ {
		lead := c.leader()
		sid := session(t, lead)
		submit(t, lead, sid, create(fmt.Sprintf("/r%d", round), "x"))
		if round%2 == 0 {
			// The cut-off leader steps down, readers on every member.
			stop := c.readConstantly(c.ids)
			others := c.others(lead.id)
			oldEpoch := lead.Status().Epoch
			c.hub.isolate(lead.id, others, true)
			waitFor(t, "the cut-off leader to step down and the others to elect", func() bool {
				o := c.nodes[others[0]].Status()
				return !lead.Status().Serving && o.Serving && o.Epoch > oldEpoch
			})
			wrote := false
			for _, id := range others {
				if n := c.nodes[id]; n.Status().Role == peer.Leading {
					sid := session(t, n)
					submit(t, n, sid, create(fmt.Sprintf("/w%d", round), "y"))
					wrote = true
				}
			}
			if !wrote {
				t.Fatalf("round %d: no leader among %v: %v, %v", round, others, c.nodes[others[0]].Status(), c.nodes[others[1]].Status())
			}
			c.hub.isolate(lead.id, others, false)
			stop()
		} else {
			// A follower becomes leader, readers on the others.
			stop := c.readConstantly(c.others(lead.id))
			old := lead.id
			c.stop(old)
			lead2 := c.leader()
			sid := session(t, lead2)
			for i := 0; i < 20; i++ {
				submit(t, lead2, sid, create(fmt.Sprintf("/w%d-%d", round, i), "y"))
			}
			submit(t, lead2, sid, create(fmt.Sprintf("/w%d", round), "y"))
			stop()
			c.start(old)
		}
	}
	c.leader()
	c.expectEverywhere(map[string]tree.Code{"/r0": tree.CodeOK, "/r1": tree.CodeOK, "/r2": tree.CodeOK,
		"/w0": tree.CodeOK, "/w1": tree.CodeOK, "/w2": tree.CodeOK})
}

// readConstantly reads on each of the members ids until the returned stop
// is called: through the member, and through the request path it had at
// the start, as a slow reader that took the path before a change and
// reads after the next pipeline applies (one that lost the CPU between).
func (c *cluster) readConstantly(ids []peer.ID) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, id := range ids {
		n := c.nodes[id]
		held := n.currentPipeline()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				n.Read(0, 0, tree.Request{Op: tree.OpGetChildren, Path: "/"})
				n.WithTree(func(t *tree.Tree) { _ = t.NodeCount() })
				n.WithWatches(func(*tree.Tree, *tree.Watches) []tree.Delivery { return nil })
				held.Read(0, 0, tree.Request{Op: tree.OpGetChildren, Path: "/"})
				held.WithTree(func(t *tree.Tree) { _ = t.LastZxid() })
				time.Sleep(time.Millisecond)
			}
		}()
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// A session created through one member re-attaches to a member that has
// not applied its createSession yet (the client saw no zxid since, so
// its lastZxidSeen cannot tell the member it is behind): the member
// catches up with the leader before it judges, as ZooKeeper's follower
// asks its leader (REVALIDATE), instead of calling the session expired.
func TestResumeOnALaggingFollower(t *testing.T) {
	c := newCluster(t, 3)
	l := c.leader()
	var f1, f2 *testMember
	for _, id := range c.others(l.id) {
		if f1 == nil {
			f1 = c.nodes[id]
		} else {
			f2 = c.nodes[id]
		}
	}
	session(t, l) // the session secret is logged before the first session
	// f2 has applied all that (the secret too) before its COMMITs are
	// held: only the next session is what it lags behind on.
	var lz int64
	l.WithTree(func(tr *tree.Tree) { lz = tr.LastZxid() })
	waitFor(t, "the lagging follower to apply the first session", func() bool {
		var z int64
		f2.WithTree(func(tr *tree.Tree) { z = tr.LastZxid() })
		return z >= lz
	})
	c.hub.mu.Lock()
	c.hub.holdCommits[f2.id] = true
	syncReq := make(chan struct{}, 1)
	c.hub.sent = func(m peer.Message) {
		if m.Type == peer.SyncReq && m.From == f2.id {
			select {
			case syncReq <- struct{}{}:
			default:
			}
		}
	}
	c.hub.mu.Unlock()
	sid := session(t, f1)
	pw := f1.currentTracker().Password(sid)
	live := false
	f2.WithTree(func(tr *tree.Tree) { _, live = tr.SessionTimeout(sid) })
	if live {
		t.Fatal("the lagging follower applied the createSession while its COMMITs were held")
	}
	type resumed struct {
		ok  bool
		err error
	}
	res := make(chan resumed, 1)
	go func() {
		ok, err := f2.ResumeSession(sid, pw, 10*time.Second)
		res <- resumed{ok, err}
	}()
	// The SYNC's reply carries the leader's commit point, so the answer
	// may come before the held COMMIT is released: what matters is that
	// the SYNC left first (the hub reports a message before delivering
	// it, so a sync that happened is seen by the time its answer is).
	var r resumed
	select {
	case <-syncReq:
		c.hub.releaseCommits(f2.id)
		r = <-res
	case r = <-res:
		select {
		case <-syncReq:
		default:
			t.Fatalf("re-attach judged without catching up: ok %v err %v", r.ok, r.err)
		}
		c.hub.releaseCommits(f2.id)
	case <-time.After(10 * time.Second):
		t.Fatal("the lagging follower neither synced nor answered")
	}
	if !r.ok || r.err != nil {
		t.Fatalf("re-attach on the lagging follower: ok %v err %v, want ok", r.ok, r.err)
	}
}

// A client that reaches a follower of a new ensemble before the first
// leader's session secret is applied there gets its session once the
// secret arrives, instead of a closed connection.
func TestCreateSessionBeforeTheSecret(t *testing.T) {
	h := newHub()
	syncReq := make(chan peer.ID, 8)
	h.sent = func(m peer.Message) {
		if m.Type == peer.SyncReq {
			select {
			case syncReq <- m.From:
			default:
			}
		}
	}
	// COMMITs to every member wait: the followers serve (UPTODATE) but
	// apply nothing, the secret included, until released.
	for id := peer.ID(1); id <= 3; id++ {
		h.holdCommits[id] = true
	}
	c := newClusterOn(t, 3, 0, h)
	l := c.leader() // every member serves
	// The follower whose sync ended before the leader served (it made
	// the quorum) lacks the secret; one that synced later may have it
	// from its DIFF, committed by UPTODATE, so it is not the one to ask.
	var f *testMember
	for _, id := range c.others(l.id) {
		var secret []byte
		c.nodes[id].WithTree(func(t *tree.Tree) { secret = t.SessionSecret() })
		if secret == nil {
			f = c.nodes[id]
		}
	}
	if f == nil {
		t.Fatal("every follower has the session secret although COMMITs are held")
	}
	type created struct {
		sid int64
		err error
	}
	res := make(chan created, 1)
	go f.CreateSession(10*time.Second, "127.0.0.1:40000", func(sid int64, _ []byte, err error) { res <- created{sid, err} })
	select {
	case id := <-syncReq:
		if id != f.id {
			t.Fatalf("a sync from member %d, not the follower %d", id, f.id)
		}
	case r := <-res:
		t.Fatalf("createSession answered before the secret was there: %x %v", r.sid, r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the follower neither synced nor answered")
	}
	for id := peer.ID(1); id <= 3; id++ {
		h.releaseCommits(id)
	}
	if r := <-res; r.err != nil || r.sid == 0 {
		t.Fatalf("createSession on the follower: %x %v", r.sid, r.err)
	}
}

// A follower keeps each session's queue of forwarded writes while the
// session lives (emptied, so the next write queues without allocating)
// and forgets it when the session's closeSession is applied.
func TestForwardedWaitersEndWithTheirSession(t *testing.T) {
	c := newCluster(t, 3)
	session(t, c.leader()) // the session secret is logged before the first session
	f := c.follower()
	sid := session(t, f)
	submit(t, f, sid, create("/w", ""))
	for i := range 3 {
		submit(t, f, sid, create(fmt.Sprintf("/w/%d", i), "v"))
	}
	f.waitMu.Lock()
	q, ok := f.waiters[sid]
	f.waitMu.Unlock()
	if !ok || len(q) != 0 || cap(q) == 0 {
		t.Fatalf("after answered writes the session's queue is %v (present %v, cap %d), want empty and kept", q, ok, cap(q))
	}
	a := wait(t, func(done func(answer)) {
		f.CloseSession(sid, func(res tree.Result, err error) { done(answer{res, err}) })
	})
	if a.err != nil {
		t.Fatal(a.err)
	}
	f.waitMu.Lock()
	_, ok = f.waiters[sid]
	f.waitMu.Unlock()
	if ok {
		t.Fatal("the closed session's queue is still kept")
	}
}

// dropWaiter fails exactly the write that could not be sent, and the
// session's other writes stay queued in order.
func TestDropWaiterFailsOnlyItsWrite(t *testing.T) {
	m := &Member{waiters: make(map[int64][]waiter)}
	var got []string
	answer := func(name string) zab.Done {
		return func(_ tree.Result, err error) { got = append(got, fmt.Sprintf("%s: %v", name, err)) }
	}
	m.waiters[7] = []waiter{{seq: 1, cxid: 1, done: answer("a")}, {seq: 2, cxid: 2, done: answer("b")}, {seq: 3, cxid: 3, done: answer("c")}}
	m.dropWaiter(7, 2)
	m.dropWaiter(7, 9) // unknown: nothing
	m.dropWaiter(8, 1) // another session: nothing
	if want := []string{"b: " + ErrNotServing.Error()}; !slices.Equal(got, want) {
		t.Fatalf("answered %q, want %q", got, want)
	}
	q := m.waiters[7]
	if len(q) != 2 || q[0].seq != 1 || q[1].seq != 3 {
		t.Fatalf("left %+v, want seqs 1 and 3", q)
	}
	if full := q[:3]; full[2].done != nil {
		t.Fatal("the dropped slot still holds a callback")
	}
}
