package main

import (
	"os"
	"runtime/debug"
)

// recoveryGCPercent is GOGC while the tree is rebuilt. Recovery allocates
// the whole tree and little garbage, so collecting at every doubling of a
// growing heap is wasted work: at 1M znodes GOGC=400 cut the rebuild from
// 1.79 s to 1.55 s here (turning GC off was no faster, and unbounded).
const recoveryGCPercent = 400

// servingGCPercent is GOGC once the server serves. The tree is most of the
// live heap and gives the collector little to chase (a znode is a slab
// item plus one object for its path and value), so collecting at 1.5x the
// live heap instead of Go's 2x costs little: creating 1,000,000 znodes
// (zabctl bench -w create -c 32 --inflight 8) ended at 502 MB RSS with
// GOGC=50 against 626-647 MB with 100, at the same throughput and server
// CPU per create (29.7k vs 26.4k ops/s, 39 vs 45 us/op, one run each).
const servingGCPercent = 50

// relaxGCForRecovery raises GOGC for the rebuild and returns the function
// that sets the serving GOGC. An operator's own GOGC in the environment
// wins over both.
func relaxGCForRecovery() (serve func()) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func() {}
	}
	debug.SetGCPercent(recoveryGCPercent)
	return func() { debug.SetGCPercent(servingGCPercent) }
}
