// Package zkcli implements Apache ZooKeeper 3.8's zkCli.sh commands for
// zabctl: the same command names, options (parsed as commons-cli does, so
// options may follow the path), output on the same stream (stdout or
// stderr) byte for byte, and the same error sentences, so scripts written
// against zkCli.sh work against zabctl and zabd.
//
// A Client is one session of github.com/go-zookeeper/zk. The five requests
// go-zookeeper v1.0.4 has no method for (getEphemerals,
// getAllChildrenNumber, whoAmI, addWatch, removeWatches) go through the
// tap: a wrapper around go-zookeeper's TCP connection, installed as its
// Dialer, that writes extra request frames (encoded by net/jute) between
// go-zookeeper's own frames and takes their replies out of the stream
// before go-zookeeper reads it. They therefore run on the same session
// (getEphemerals sees this session's ephemerals, whoami sees addauth's
// identities, addWatch's events arrive with the others).
//
// Invariants:
//   - Every line a command prints goes to Options.Out or Options.Err as
//     zkCli prints it to System.out or System.err; failures come back as
//     *Error whose Msg is zkCli's stderr line and whose Kind (ZK, usage,
//     connection) picks the exit code.
//   - Watch events are printed in the order the server sent them relative
//     to replies: a notification that precedes a reply on the wire is
//     printed before the command that got the reply returns.
//   - The tap's xids (from 0x60000001 up) never collide with
//     go-zookeeper's (from 1 up); frames are written whole under one mutex.
//   - The client mirrors the session's watches as the Java client does
//     (ZKWatchManager), because removewatches checks them locally first.
//
// Usage:
//
//	err := zkcli.RunOnce(zkcli.Options{Server: addr, Out: os.Stdout, Err: os.Stderr}, []string{"ls", "-s", "/"})
//	err = zkcli.Shell(opts, os.Stdin, false)
package zkcli
