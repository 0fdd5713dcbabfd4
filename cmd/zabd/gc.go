package main

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// recoveryGCPercent is GOGC while the tree is rebuilt. Recovery allocates
// the whole tree and little garbage, so collecting at every doubling of a
// growing heap is wasted work: at 1M znodes GOGC=400 cut the rebuild from
// 1.79 s to 1.55 s here (turning GC off was no faster, and unbounded).
const recoveryGCPercent = 400

// While serving, GOGC follows the live heap (servingGCPercent). The tree is
// most of the live heap and long-lived; the garbage is the requests' and
// grows with throughput, not with the tree. So the headroom the collector
// gets is an amount of memory, gcHeadroom, expressed as a percentage of the
// live heap and held between minServingGCPercent and maxServingGCPercent:
// a small tree gets 1.5x its live heap (Go's default 2x bought nothing:
// 1,000,000 creates ended at 502 MB RSS with GOGC=50 against 626-647 MB
// with 100, at the same throughput and CPU per create), a tree of a
// million znodes (about 310 MiB live) collects at 1.25x.
const (
	gcHeadroom          = 64 << 20
	minServingGCPercent = 25
	maxServingGCPercent = 50
	// gcPaceInterval is how often the live heap is looked at.
	gcPaceInterval = time.Second
)

// servingGCPercent is GOGC for a live heap of live bytes: gcHeadroom as a
// percentage of it, rounded up, within [minServingGCPercent,
// maxServingGCPercent].
func servingGCPercent(live uint64) int {
	if live == 0 {
		return maxServingGCPercent
	}
	p := (uint64(gcHeadroom)*100 + live - 1) / live
	switch {
	case p > maxServingGCPercent:
		return maxServingGCPercent
	case p < minServingGCPercent:
		return minServingGCPercent
	}
	return int(p)
}

// relaxGCForRecovery raises GOGC for the rebuild and returns the function
// that starts pacing it for serving (paceGC) until stop is closed. An
// operator's own GOGC in the environment wins over both.
func relaxGCForRecovery() (serve func(stop <-chan struct{})) {
	if _, set := os.LookupEnv("GOGC"); set {
		return func(<-chan struct{}) {}
	}
	debug.SetGCPercent(recoveryGCPercent)
	return func(stop <-chan struct{}) {
		live := liveHeap()
		current := servingGCPercent(live)
		debug.SetGCPercent(current)
		go paceGC(current, stop)
	}
}

// paceGC sets GOGC to servingGCPercent of the live heap every
// gcPaceInterval, when it changed (debug.SetGCPercent does not stop the
// world, but it is not free either), until stop is closed.
func paceGC(current int, stop <-chan struct{}) {
	tick := time.NewTicker(gcPaceInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if p := servingGCPercent(liveHeap()); p != current {
			debug.SetGCPercent(p)
			current = p
		}
	}
}

// liveHeap is the heap the last collection found live (0 before the
// first).
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
