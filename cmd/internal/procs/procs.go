// Package procs chooses GOMAXPROCS for zabd and zabctl: one P where Go's
// default is two or fewer, Go's default above that, and whatever the
// environment's GOMAXPROCS says whenever it is set.
//
// Both programs spend a request in a few microseconds of Go code between
// system calls (read, write, pwrite, fdatasync), and a goroutine blocked in
// a system call gives its P up, so a second P buys little parallel work. On
// a small machine it costs the scheduler's work instead: each hand-off
// between goroutines wakes the idle P's thread to look for work (a futex
// wake, then spinning), and each stop-the-world of the collector waits
// until the kernel runs that thread, behind the other processes sharing
// the CPUs (the clients, a load generator, the other members of a local
// ensemble).
//
// Measured on 2 shared vCPUs (README, "One P on a small machine"): the
// server's CPU per create 34 -> 25 µs at 32 sessions and 18 -> 11 µs with
// 8 outstanding per session, its longest GC pause 1.0-5.2 ms -> at most
// 0.2 ms; with the load generator at one P as well, gets at 32 sessions
// 64-76k -> 82-111k ops/s and the generator's CPU per get 12 -> 9 µs.
package procs

import (
	"os"
	"runtime"
)

// SmallMachine is the most Ps Go's default may give for the rule to pick
// one.
const SmallMachine = 2

// For is GOMAXPROCS on a machine where Go's default is def.
func For(def int) int {
	if def <= SmallMachine {
		return 1
	}
	return def
}

// Apply sets GOMAXPROCS by For unless the environment set it, and says
// what it is now and what Go's default was; set reports a change.
func Apply() (now, def int, set bool) {
	def = runtime.GOMAXPROCS(0)
	if _, env := os.LookupEnv("GOMAXPROCS"); env {
		return def, def, false
	}
	if now = For(def); now != def {
		runtime.GOMAXPROCS(now)
		return now, def, true
	}
	return def, def, false
}
