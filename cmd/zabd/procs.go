package main

import (
	"log/slog"
	"os"
	"runtime"
)

// zabd serves with one P (GOMAXPROCS=1) on a machine where Go's default
// would give it two or fewer, and with Go's default above that. A
// request costs a few microseconds of Go code between system calls (read,
// write, pwrite, fdatasync), and a goroutine in a system call that blocks
// gives its P up, so a second P buys little parallel work; what it costs
// on a small machine is the scheduler's: each hand-off between goroutines
// wakes the idle P's thread to look for work (futex, then spinning), and
// each stop-the-world of the collector waits until the kernel runs the
// other P's thread, behind the clients' processes on the same CPUs.
//
// Measured on 2 shared vCPUs with the load generator beside the server
// (README, "One P on a small machine"; medians of 3 alternating runs):
// server CPU per create 34 -> 25 µs at 32 sessions and 18 -> 11 µs with 8
// outstanding each (63.9k -> 81.3k ops/s), the longest GC pause 1.0-5.2 ms
// -> at most 0.2 ms, at the price of 13% fewer gets (77.7k -> 67.5k ops/s,
// both generator-limited) and 11% fewer mixed ops. Recovery keeps Go's
// default, since the rebuild's collector works beside it on the second P
// (1,000,000 znodes: 1.0-1.4 s against 1.4-1.7 s with one P); the change
// happens when serving starts. GOMAXPROCS in the environment wins.
const smallMachineProcs = 2

// servingProcs is GOMAXPROCS while serving on a machine where Go's
// default is defaultProcs.
func servingProcs(defaultProcs int) int {
	if defaultProcs <= smallMachineProcs {
		return 1
	}
	return defaultProcs
}

// serveProcs sets GOMAXPROCS for serving (servingProcs), unless the
// environment set it.
func serveProcs(logger *slog.Logger) {
	if _, set := os.LookupEnv("GOMAXPROCS"); set {
		return
	}
	def := runtime.GOMAXPROCS(0)
	if n := servingProcs(def); n != def {
		runtime.GOMAXPROCS(n)
		logger.Info("serving with fewer Ps than Go's default on a small machine (set GOMAXPROCS to choose)", "gomaxprocs", n, "default", def)
	}
}
