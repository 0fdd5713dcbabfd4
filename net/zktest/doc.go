// Package zktest holds test helpers for anything that talks to a real
// ZooKeeper-protocol server: build zabd once per test binary, start zabd or
// Apache ZooKeeper on a free 127.0.0.1 port for the length of one test, and
// connect a go-zookeeper client that already has a session.
//
// Invariants:
//   - Every server started here is stopped by t.Cleanup (SIGTERM, bounded,
//     then SIGKILL); when the test failed, the tail of its log is logged.
//   - Apache ZooKeeper missing is a loud skip on a developer machine and a
//     t.Fatal when CI=true: CI installs it, so CI never silently skips.
//   - zabd is built at most once per test binary (sync.Once); a failed build
//     fails every test that asked for it, with the compiler's output.
//     ZABD_BIN=/path/to/zabd uses a prebuilt binary instead.
//   - A go-zookeeper client's log goes to t.Log while the test runs and is
//     dropped after it ends (the client logs from its own goroutines, which
//     may outlive Close).
//
// Usage:
//
//	srv := zktest.StartApacheZK(t, launch.ZKOptions{})  // or zktest.StartZabd(t, launch.ZabdOptions{})
//	c := zktest.Connect(t, srv.Addr)
//	_, err := c.Create("/a", nil, 0, zk.WorldACL(zk.PermAll))
package zktest
