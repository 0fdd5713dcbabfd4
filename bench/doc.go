// Package bench is a load generator for any server that speaks the ZooKeeper
// client protocol (Apache ZooKeeper, zabd). It drives seeded workloads over
// many sessions, measures latency into HDR histograms and returns a Report
// that names the seed, so a figure can be reproduced and compared.
//
// What it owns: the workloads (create, set, get, exists, delete, mixed,
// multi, ephemeral churn, watch fan-out, lock contention), the pacing of
// requests (closed loop or open loop at a fixed rate), latency and error
// accounting, the generator's own CPU measurement, the human and JSON
// reports, and the suite runner behind `make bench` (Markdown + SVG plots).
//
// It also owns the recovery benchmark (RunRecovery): build the same data
// set on each server through the client protocol, stop it, then time
// restarts from the exec to the first getData served. The probe speaks
// the wire protocol itself (net/jute) and attempts overlap, so neither a
// client library's back-off nor a connection the server holds while it
// loads inflates the figure; the figure overstates the truth by at most
// one poll interval plus one round trip.
//
// Ensembles (suite.go's ClusterPoints, failover.go, catchup.go): the same
// points against 3-member ensembles of each server with sessions spread
// over the members, each server process's CPU per op (utime+stime from
// /proc over the measured phase, Config.ServerCPU); failover (the leader
// killed -9 under a steady write load, timed to the first write
// acknowledged afterwards by a wire-level probe, as FirstRead is for
// recovery); catch-up (a follower stopped, written past, restarted: timed
// until its srvr says follower at the leader's zxid).
//
// What it does not: it knows nothing of server internals. It starts
// servers only through bench/launch (targets.go), and cmd/zabctl wires
// the two.
//
// Usage:
//
//	rep, err := bench.Run(ctx, bench.Config{
//		Servers:  []string{"127.0.0.1:2181"},
//		Sessions: 32,
//		Duration: 10 * time.Second,
//	}, bench.Create{})
//	fmt.Println(rep.OpsPerSec, rep.P99Ms)
//
// Invariants:
//   - Every run is bounded in time: the load phase ends at warm-up +
//     Duration (or Config.Timeout when only an op count is given), in-flight
//     requests get DrainTimeout to finish, then the sessions are closed and
//     whatever was still outstanding is counted as failed. Nothing waits
//     forever.
//   - Accounting is exact: every request the generator issues is counted
//     once, as succeeded or failed, in the phase (warm-up or measured) its
//     intended start falls in. Issued = Succeeded + Failed for both phases.
//   - Open loop: request i has the intended start time start + i/Rate,
//     fixed before the run; its latency is measured from that intended time,
//     not from when a worker got round to sending it, so a stalled server
//     shows up in the percentiles instead of silently lowering the offered
//     load (coordinated omission).
//   - What request i does (which key, read or write) is a pure function of
//     (seed, i), so the same seed offers the same operations in the same
//     order whatever the goroutine schedule.
//   - Warm-up requests are executed and counted separately; they never
//     enter the figures.
//   - Recovery: the data set is built once per server; only restarts are
//     timed; servers take turns and one runs at a time; every wait is
//     bounded (LoadTimeout, ReadyTimeout, attempts, the stop bound).
//
// Pipelining: go-zookeeper's Conn is safe for concurrent use and keeps
// several requests outstanding on one connection, so InFlight workers per
// session share one Conn; the server sees InFlight requests in flight per
// session.
//
// Pacing uses its own fixed schedule (start + i/Rate) rather than
// golang.org/x/time/rate: a token bucket lets a late generator burst to
// catch up and has no notion of a request's intended start time, which is
// exactly what open-loop latency must be measured from.
package bench
