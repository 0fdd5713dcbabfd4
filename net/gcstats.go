package net

import (
	"math"
	"runtime/metrics"
)

// gcFigures are the Go collector's figures mntr reports (zabd's own keys):
// how many collections ran, the longest stop-the-world pause since start,
// the collector's share of the process's CPU, the live heap and GOGC (which
// zabd paces from the live heap, cmd/zabd).
type gcFigures struct {
	cycles     int64
	pauseMaxMs float64 // upper bound of the longest pause's histogram bucket
	cpuPercent float64
	liveBytes  int64
	gcPercent  int64 // -1 when the collector is off
}

var gcSamples = []metrics.Sample{
	{Name: "/gc/cycles/total:gc-cycles"},
	{Name: "/sched/pauses/total/gc:seconds"},
	{Name: "/cpu/classes/gc/total:cpu-seconds"},
	{Name: "/cpu/classes/total:cpu-seconds"},
	{Name: "/gc/heap/live:bytes"},
	{Name: "/gc/gogc:percent"},
}

func readGC() gcFigures {
	s := make([]metrics.Sample, len(gcSamples))
	copy(s, gcSamples)
	metrics.Read(s)
	var g gcFigures
	if s[0].Value.Kind() == metrics.KindUint64 {
		g.cycles = int64(s[0].Value.Uint64())
	}
	if s[1].Value.Kind() == metrics.KindFloat64Histogram {
		g.pauseMaxMs = histogramMax(s[1].Value.Float64Histogram()) * 1000
	}
	if s[2].Value.Kind() == metrics.KindFloat64 && s[3].Value.Kind() == metrics.KindFloat64 && s[3].Value.Float64() > 0 {
		g.cpuPercent = 100 * s[2].Value.Float64() / s[3].Value.Float64()
	}
	if s[4].Value.Kind() == metrics.KindUint64 {
		g.liveBytes = int64(s[4].Value.Uint64())
	}
	if s[5].Value.Kind() == metrics.KindUint64 {
		g.gcPercent = int64(s[5].Value.Uint64())
	}
	return g
}

// histogramMax is the upper bound of h's highest non-empty bucket (its
// lower bound when that is +Inf), 0 for an empty histogram.
func histogramMax(h *metrics.Float64Histogram) float64 {
	for i := len(h.Counts) - 1; i >= 0; i-- {
		if h.Counts[i] == 0 {
			continue
		}
		if hi := h.Buckets[i+1]; !math.IsInf(hi, 1) {
			return hi
		}
		return h.Buckets[i]
	}
	return 0
}
