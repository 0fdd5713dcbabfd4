// Package compat is the compatibility and acceptance suite: it holds zabd to
// Apache ZooKeeper 3.8's observable behaviour, using real servers started
// fresh per test on free 127.0.0.1 ports (see net/zktest and bench/launch)
// and real clients. It has no non-test code.
//
// What it checks:
//
//   - Differential scripts (TestDifferential, scripts*_test.go,
//     malformed_test.go): a table of steps sent over a small hand-written
//     wire client (wire_test.go; it does not use net/jute, so it checks that
//     package instead of trusting it, and it can send bytes real clients
//     refuse to). Each step's error code, decoded reply, and the watch
//     notifications its session received before the reply make one line of
//     a transcript. Transcripts of Apache ZooKeeper and zabd must be equal
//     after normalisation; ZooKeeper's is also kept as a golden file in
//     testdata/zk38/ (rewritten with -update), which is the oracle when
//     only zabd runs.
//   - Sessions (sessions_test.go): expiry after the timeout deletes
//     ephemerals and fires NodeDeleted elsewhere; resumption with the
//     password keeps them; a wrong password or an expired session is
//     refused.
//   - Four-letter words (fourletter_test.go): ruok, isro, srvr, stat, mntr
//     shapes and the counts a test can drive.
//   - Real clients: two zkCli.sh processes hand a lock over
//     (zkcli_test.go); kazoo's Lock and Election recipes and Curator's
//     InterProcessMutex keep mutual exclusion (testdata/*.py,
//     testdata/CuratorSmoke.java).
//   - Durability (zabd only): acknowledged creates and multis survive kill -9
//     and restart, five cycles, and nothing is half applied.
//
// Normalisation (script_test.go): zxids become their rank among the
// distinct nonzero zxids seen in stats in that run (z1 < z2 < ...; 0 stays
// 0), nonzero times become "t" and are checked separately (inside the
// run's wall-clock window, ctime <= mtime, non-decreasing in zxid order),
// an ephemeralOwner that is one of the run's sessions becomes its name
// (s0, s1, ...), and children and getEphemerals lists are sorted (ZooKeeper
// answers in hash order). Everything else (codes, versions, cversion,
// aversion, dataLength, numChildren, ACLs, sequential names, event type and
// path and order) is compared exactly. Reply-header zxids are not compared:
// ZooKeeper spends a zxid on failed writes and on session creation, which
// no client can rely on.
//
// Followers (servers_test.go): the suites that take any server
// (differential scripts, sessions, four-letter words, zkCli, kazoo,
// Curator) also run with every client connected to a follower of a fresh
// 3-member zabd ensemble (tickTime 200 ms, session bounds 4 s to 40 s as a
// standalone server's); writes go through its leader, the rest is served
// there. Its transcripts are held to Apache ZooKeeper's as an ensemble
// member shows them (ensembleView: /zookeeper/config holds the ensemble's
// config), or to a real ZooKeeper follower's when that runs too; ports in
// follower transcripts are named, so two ensembles compare. Durability
// and the data dir lock restart or kill a standalone zabd and do not take
// a follower. A difference that is a known zabd bug is listed in
// knownFollowerDiffs: the script's subtest is skipped naming it, as long
// as only those steps differ.
//
// Selecting servers: ZABD_COMPAT_ONLY is a comma list of zk (Apache
// ZooKeeper standalone), zabd (zabd standalone), follower (a zabd
// ensemble's follower) and zk-follower (an Apache ZooKeeper ensemble's
// follower, three JVMs per test, off by default); unset means
// zk,zabd,follower. Without zk the differential scripts compare against
// the golden files. ZABD_BIN uses a prebuilt zabd. Missing ZooKeeper,
// kazoo or Curator skips loudly, or fails when CI=true.
//
// Invariants of the suite: only 127.0.0.1 and free ports; every wait has a
// deadline; waits for conditions are on events or replies, and the only
// fixed wait is the 2s "nothing happened" window of malformed-input cases.
package compat
