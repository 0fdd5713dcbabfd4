// Package launch starts, stops, kills and restarts ZooKeeper-protocol servers
// as child processes: Apache ZooKeeper (the reference, run from the jars a
// distribution installed) and zabd (a binary built from this module). Tests
// use it through net/zktest; the bench suite uses it directly to run both
// servers side by side under the same load.
//
// What it owns: picking free 127.0.0.1 ports, rendering zoo.cfg, building
// the command line, sending the process's stdout and stderr to one log file
// per process (Process.LogPath), waiting (bounded) until the server answers
// the four-letter word "ruok" with "imok", and stopping it (SIGTERM, bounded
// wait, then SIGKILL). Ensembles (StartZKEnsemble, StartZabdEnsemble): N
// members, each its own Process (member i is server.i, with its myid),
// started together and waited for until every running member's srvr names
// its role with one leader (Ensemble.WaitServing; a member's Restart waits
// for its role the same way). A process's CPU time (utime+stime from
// /proc) is there for CPU-per-op accounting.
//
// What it does not: it never talks the client protocol beyond four-letter
// words, never installs anything, and never listens on anything but
// 127.0.0.1.
//
// Invariants:
//   - Every wait is bounded: start by ZKOptions.StartTimeout (default 30s),
//     stop by StopTimeout (default 15s) after which the process is killed.
//   - A Process owns exactly one child at a time; Restart starts the same
//     command line again (same port, same data dir, same config) only after
//     the previous child has exited.
//   - On Linux the child gets SIGKILL if the process that started it dies,
//     so a crashed test binary does not leave servers behind.
//   - When the jars or java are missing, StartApacheZK returns an error
//     matching ErrNotInstalled (errors.Is), naming what was looked for.
//
// Usage:
//
//	zk, err := launch.StartApacheZK(ctx, launch.ZKOptions{Dir: dir})
//	if errors.Is(err, launch.ErrNotInstalled) { ... }
//	defer zk.Stop()
//	out, err := launch.FourLetter(zk.Addr, "srvr", time.Second)
//
//	e, err := launch.StartZabdEnsemble(ctx, bin, 3, launch.ZabdOptions{Dir: dir})
//	defer e.Stop()
//	leader := e.Leader()
//	_ = e.Member(leader).Kill()
//	next, err := e.WaitServing(ctx)
//	err = e.Member(leader).Restart(ctx)
package launch
