package main

import (
	"bytes"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zabd/log"
	"zabd/tools/logread"
	"zabd/tools/logtool"
)

// Real-process fault tests of quorum mode: members SIGSTOPped and
// continued, killed -9 and restarted under write load, a follower caught
// up by SNAP and a member truncated by TRUNC, on 3 and 5 members. Each
// waits on what it can observe (srvr's Mode, acknowledged writes, the
// members' logs and log files), never on a sleep to prove that something
// did not happen. After every fault every acknowledged create must be on
// every member.

var ensembleRounds = flag.Int("ensemble-rounds", 5, "leader kill rounds of TestEnsembleLeaderKillRounds")

// fastRestart makes the native log's segments 1 MiB (preallocated whole):
// a restart under the race detector reads a 64 MiB segment for seconds.
const fastRestart = "preAllocSize=1024"

// followerOf returns a running member that is not leader.
func (e *ensemble) followerOf(leader int) int {
	for i := 1; i <= e.n; i++ {
		if i != leader && e.up(i) {
			return i
		}
	}
	e.t.Fatal("no follower")
	return 0
}

// waitLog waits until server i's log after from matches re and returns
// the match.
func (e *ensemble) waitLog(i, from int, re *regexp.Regexp, timeout time.Duration) string {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindString(e.logSince(i, from)); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			e.dumpModes()
			e.t.Fatalf("server %d logged nothing matching %q within %v", i, re, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logBounds returns the first and last zxid of server i's log (read
// beside the server when it runs).
func (e *ensemble) logBounds(i int) (log.Zxid, log.Zxid) {
	e.t.Helper()
	d, err := logread.Open(e.dataDir(i), logread.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	sum, err := d.Records(0, func(logread.Record) error { return nil })
	if err != nil {
		e.t.Fatalf("server %d: reading its log: %v", i, err)
	}
	return sum.First, sum.Last
}

// logHas says whether server i's log holds a txn on a path with prefix.
func (e *ensemble) logHas(i int, prefix string) (bool, string) {
	e.t.Helper()
	d, err := logread.Open(e.dataDir(i), logread.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	var b bytes.Buffer
	res, err := logtool.Dump(&b, d, logtool.DumpOptions{Filter: logtool.Filter{PathPrefix: prefix}})
	if err != nil {
		e.t.Fatalf("server %d: dumping its log: %v", i, err)
	}
	return res.Printed > 0, strings.TrimSpace(b.String())
}

// TestEnsemblePauseLeader: the leader is SIGSTOPped under write load; the
// others elect a new leader and writes go on; continued, the old leader
// steps down and follows. Every acknowledged create is on every member.
func TestEnsemblePauseLeader(t *testing.T) {
	e := newEnsemble(t, 3, fastRestart)
	leader := e.waitModes(30 * time.Second)
	l := e.startLoad("p", 3, 0)
	l.waitCount(t, 200, 30*time.Second)
	from := e.logSize(leader)
	pausedAt := time.Now()
	e.pause(leader)
	newLeader := e.waitModes(30 * time.Second)
	elected := time.Since(pausedAt)
	failover := l.firstAckAfter(t, pausedAt, 30*time.Second)
	e.logf("leader %d stopped; %d leads after %v; first write acknowledged after %v", leader, newLeader,
		elected.Round(time.Millisecond), failover.Round(time.Millisecond))
	l.waitCount(t, l.count()+200, 30*time.Second)
	e.resume(leader)
	if got := e.waitModes(30 * time.Second); got != newLeader {
		t.Fatalf("after the old leader %d continued, %d leads, not %d", leader, got, newLeader)
	}
	if m := e.mode(leader); m != "follower" {
		t.Fatalf("old leader %d: mode %q, want follower", leader, m)
	}
	e.waitLog(leader, from, regexp.MustCompile(fmt.Sprintf(`following leader %d in epoch`, newLeader)), 10*time.Second)
	l.waitCount(t, l.count()+100, 30*time.Second)
	all := l.finish()
	e.logf("%d creates acknowledged", len(all))
	e.checkAll(all)
	e.checkSame(3)
}

// TestEnsemblePauseFollower: a follower SIGSTOPped under load is dropped
// by the leader and falls behind; continued, it catches up by DIFF.
func TestEnsemblePauseFollower(t *testing.T) {
	e := newEnsemble(t, 3, fastRestart)
	leader := e.waitModes(30 * time.Second)
	f := e.followerOf(leader)
	l := e.startLoad("f", 3, 0)
	l.waitCount(t, 200, 30*time.Second)
	from := e.logSize(leader)
	e.pause(f)
	// The leader notices the silence after syncLimit (or the broken
	// connection) and drops it; writes go on with the other two.
	e.waitLog(leader, from, regexp.MustCompile(fmt.Sprintf(`learner %d[^"]*dropped`, f)), 30*time.Second)
	l.waitCount(t, l.count()+500, 30*time.Second)
	e.logf("follower %d stopped; %d creates acknowledged", f, l.count())
	from = e.logSize(leader)
	e.resume(f)
	if got := e.waitModes(30 * time.Second); got != leader {
		t.Fatalf("after follower %d continued, %d leads, not %d", f, got, leader)
	}
	plan := e.waitLog(leader, from, regexp.MustCompile(fmt.Sprintf(`syncing %d \(last [^)]*\) in epoch \d+: [A-Z+]+`, f)), 30*time.Second)
	if !strings.HasSuffix(plan, "DIFF") {
		t.Errorf("follower %d caught up by %q, want a DIFF", f, plan)
	}
	l.waitCount(t, l.count()+100, 30*time.Second)
	all := l.finish()
	e.logf("%s; %d creates acknowledged", plan, len(all))
	e.checkAll(all)
	e.checkSame(3)
}

// TestEnsembleSnapCatchUp: with snapCount=100, autopurge after every
// snapshot and 16 KiB log segments, a follower killed -9 and restarted
// after thousands of creates is behind the oldest txn of the leader's log,
// so it gets the leader's snapshot (SNAP), restores it and has every
// acknowledged create.
func TestEnsembleSnapCatchUp(t *testing.T) {
	e := newEnsemble(t, 3, "snapCount=100\nautopurge.snapRetainCount=3\nautopurge.purgeInterval=1\npreAllocSize=16")
	leader := e.waitModes(30 * time.Second)
	f := e.followerOf(leader)
	l := e.startLoad("s", 4, 0)
	l.waitCount(t, 200, 30*time.Second)
	e.kill(f)
	_, fLast := e.logBounds(f)
	// Write until the leader's log no longer holds the txn after the
	// follower's last (its purge follows its snapshots).
	deadline := time.Now().Add(60 * time.Second)
	for {
		first, _ := e.logBounds(leader)
		if first > fLast+1 && l.count() >= 2000 {
			e.logf("follower %d killed at %v; the leader's log starts at %v; %d creates acknowledged", f, fLast, first, l.count())
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader's log still starts at %v (follower's last %v) after %d creates", first, fLast, l.count())
		}
		time.Sleep(50 * time.Millisecond)
	}
	fromL, fromF := e.logSize(leader), e.logSize(f)
	e.start(f)
	if got := e.waitModes(30 * time.Second); got != leader {
		t.Fatalf("after follower %d restarted, %d leads, not %d", f, got, leader)
	}
	plan := e.waitLog(leader, fromL, regexp.MustCompile(fmt.Sprintf(`syncing %d \(last [^)]*\) in epoch \d+: [A-Z+]+`, f)), 30*time.Second)
	if !strings.HasSuffix(plan, "SNAP") {
		t.Errorf("follower %d caught up by %q, want a SNAP", f, plan)
	}
	e.waitLog(f, fromF, regexp.MustCompile(`restored the leader's snapshot`), 10*time.Second)
	l.waitCount(t, l.count()+100, 30*time.Second)
	all := l.finish()
	e.logf("%s; %d creates acknowledged", plan, len(all))
	e.checkAll(all)
	e.checkSame(3)
}

// TestEnsembleTruncUncommitted: both followers SIGSTOPped, a create sent
// to the leader is logged there but cannot commit (its client must not be
// told ok). The leader is killed -9, then the followers too, stopped: the
// proposal in their sockets' buffers dies unread (continued, they would
// read and log it, and rightly commit it in the next epoch). Restarted,
// they elect a leader of a new epoch and take writes; the old leader
// restarted must drop the txn (TRUNC) and end up equal to the others: the
// create that only it logged is on no member.
func TestEnsembleTruncUncommitted(t *testing.T) {
	e := newEnsemble(t, 3, fastRestart)
	leader := e.waitModes(30 * time.Second)
	c, err := e.connect(leader)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	acl := zk.WorldACL(zk.PermAll)
	var acked []string
	for k := 0; k < 20; k++ {
		p := fmt.Sprintf("/before-%02d", k)
		if _, err := c.Create(p, nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, p)
	}
	_, before := e.logBounds(leader)
	for i := 1; i <= e.n; i++ {
		if i != leader {
			e.pause(i)
		}
	}
	res := make(chan error, 1)
	go func() {
		_, err := c.Create("/uncommitted", []byte("never acknowledged"), 0, acl)
		res <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ok, _ := e.logHas(leader, "/uncommitted"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the leader did not log the create within 10s:\n%s", e.logTail(leader))
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.kill(leader)
	c.Close()
	if err := <-res; err == nil {
		t.Fatal("a create that no follower logged was acknowledged")
	} else {
		e.logf("the uncommitted create: %v", err)
	}
	if ok, dump := e.logHas(leader, "/uncommitted"); !ok {
		t.Fatal("the killed leader's log lost the create")
	} else {
		e.logf("logged by the old leader %d alone (its log had ended at %v): %s", leader, before, dump)
	}
	for i := 1; i <= e.n; i++ {
		if i != leader {
			e.kill(i)
			if ok, dump := e.logHas(i, "/uncommitted"); ok {
				t.Fatalf("follower %d logged the create while stopped: %s", i, dump)
			}
			e.start(i)
		}
	}
	newLeader := e.waitModes(30 * time.Second)
	c2, err := e.connect(newLeader)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for k := 0; k < 20; k++ {
		p := fmt.Sprintf("/after-%02d", k)
		if _, err := c2.Create(p, nil, 0, acl); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, p)
	}
	fromL, fromOld := e.logSize(newLeader), e.logSize(leader)
	e.start(leader)
	if got := e.waitModes(30 * time.Second); got != newLeader {
		t.Fatalf("after the old leader %d restarted, %d leads, not %d", leader, got, newLeader)
	}
	plan := e.waitLog(newLeader, fromL, regexp.MustCompile(fmt.Sprintf(`syncing %d \(last [^)]*\) in epoch \d+: TRUNC[^"]*`, leader)), 30*time.Second)
	e.waitLog(leader, fromOld, regexp.MustCompile(`truncated the log and rebuilt the state`), 10*time.Second)
	e.logf("%s", plan)
	e.checkAll(acked)
	e.checkSame(1)
	for i := 1; i <= e.n; i++ {
		cc, err := e.connect(i)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cc.Sync("/"); err != nil {
			t.Fatal(err)
		}
		if ok, _, err := cc.Exists("/uncommitted"); err != nil || ok {
			t.Errorf("server %d: /uncommitted exists=%v (err %v): a txn only the old leader logged survived its epoch", i, ok, err)
		}
		cc.Close()
	}
	if ok, dump := e.logHas(leader, "/uncommitted"); ok {
		t.Errorf("the old leader's log still holds the txn: %s", dump)
	}
}

// TestEnsembleFiveKillTwo: of 5 members, the leader and a follower are
// killed -9 under load; the other 3 go on taking writes; both restarted
// catch up.
func TestEnsembleFiveKillTwo(t *testing.T) {
	e := newEnsemble(t, 5, fastRestart)
	leader := e.waitModes(30 * time.Second)
	f := e.followerOf(leader)
	l := e.startLoad("v", 5, 0)
	l.waitCount(t, 300, 30*time.Second)
	killedAt := time.Now()
	e.kill(leader)
	e.kill(f)
	newLeader := e.waitModes(30 * time.Second)
	failover := l.firstAckAfter(t, killedAt, 30*time.Second)
	recordFailover(failover)
	e.logf("leader %d and follower %d killed; %d leads after %v; first write acknowledged after %v", leader, f, newLeader,
		time.Since(killedAt).Round(time.Millisecond), failover.Round(time.Millisecond))
	l.waitCount(t, l.count()+300, 30*time.Second)
	e.start(leader)
	e.start(f)
	e.waitModes(30 * time.Second)
	l.waitCount(t, l.count()+100, 30*time.Second)
	all := l.finish()
	e.logf("%d creates acknowledged", len(all))
	e.checkAll(all)
	e.checkSame(3)
}

// TestEnsembleLeaderKillRounds repeats, in one ensemble under load, kill
// -9 of the leader, a new leader, the old one restarted; after each round
// every create acknowledged since the last is checked on every member.
// -ensemble-rounds sets the count (5 by default). The kill-to-first-
// acknowledged-write times are logged with their median.
func TestEnsembleLeaderKillRounds(t *testing.T) {
	rounds := *ensembleRounds
	e := newEnsemble(t, 3, fastRestart)
	leader := e.waitModes(30 * time.Second)
	l := e.startLoad("r", 3, time.Millisecond)
	began := time.Now()
	var fos, elections []time.Duration
	checked := 0
	for r := 1; r <= rounds; r++ {
		l.waitCount(t, l.count()+100, 30*time.Second)
		killedAt := time.Now()
		e.kill(leader)
		newLeader := e.waitModes(30 * time.Second)
		elections = append(elections, time.Since(killedAt))
		fo := l.firstAckAfter(t, killedAt, 30*time.Second)
		fos = append(fos, fo)
		recordFailover(fo)
		e.start(leader)
		e.waitModes(30 * time.Second)
		l.waitCount(t, l.count()+50, 30*time.Second)
		ps, n := l.acked(checked)
		e.checkAll(ps)
		checked = n
		e.logf("round %d: leader %d killed, %d leads after %v, first write acknowledged after %v; %d creates checked",
			r, leader, newLeader, elections[r-1].Round(time.Millisecond), fo.Round(time.Millisecond), n)
		leader = newLeader
	}
	all := l.finish()
	e.checkAll(all)
	e.checkSame(3)
	t.Logf("%d rounds in %v, %d creates acknowledged, none lost; kill to first acknowledged write: median %v, max %v; kill to new leader's srvr: median %v",
		rounds, time.Since(began).Round(time.Millisecond), len(all), median(fos).Round(time.Millisecond),
		maxDuration(fos).Round(time.Millisecond), median(elections).Round(time.Millisecond))
}

func maxDuration(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

// TestEnsembleSessionSurvivesFailover: a client's session (and its
// ephemeral) must outlive a leader failover, the client moving to another
// member. A member that is not serving (electing, syncing) cannot judge a
// re-attach and closes the connection unanswered; answering "expired"
// would end a session the quorum still holds.
func TestEnsembleSessionSurvivesFailover(t *testing.T) {
	e := newEnsemble(t, 3, fastRestart)
	leader := e.waitModes(30 * time.Second)
	lost := 0
	const clients = 6
	var cs []*zk.Conn
	var sids []int64
	for k := 0; k < clients; k++ {
		// Each on a follower first, so the leader's death moves it.
		f := e.followerOf(leader)
		if k%2 == 1 {
			for i := e.n; i >= 1; i-- {
				if i != leader {
					f = i
					break
				}
			}
		}
		servers := []string{e.client[f-1]}
		for i := 1; i <= e.n; i++ {
			if i != f {
				servers = append(servers, e.client[i-1])
			}
		}
		c, _, err := zkConnect(servers, true)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for c.State() != zk.StateHasSession {
			time.Sleep(5 * time.Millisecond)
		}
		if _, err := c.Create(fmt.Sprintf("/eph-%d", k), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		cs, sids = append(cs, c), append(sids, c.SessionID())
	}
	e.kill(leader)
	e.waitModes(30 * time.Second)
	for k, c := range cs {
		deadline := time.Now().Add(10 * time.Second)
		for c.State() != zk.StateHasSession && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		ok, _, err := c.Exists(fmt.Sprintf("/eph-%d", k))
		if c.SessionID() != sids[k] || err != nil || !ok {
			lost++
			t.Errorf("client %d: session 0x%x, now 0x%x; its ephemeral exists=%v (err %v)", k, sids[k], c.SessionID(), ok, err)
		}
	}
	e.logf("%d of %d sessions lost in the failover", lost, clients)
}
