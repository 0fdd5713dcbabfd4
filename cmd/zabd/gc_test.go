package main

import "testing"

func TestServingGCPercentFollowsTheLiveHeap(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, maxServingGCPercent},          // before the first collection
		{4 * mib, maxServingGCPercent},    // a small tree: 1.5x
		{128 * mib, maxServingGCPercent},  // 64 MiB is exactly half
		{129 * mib, 50},                   // 49.6% rounds up
		{160 * mib, 40},                   // the headroom as a share
		{256 * mib, minServingGCPercent},  // exactly a quarter
		{310 * mib, minServingGCPercent},  // a million znodes
		{4096 * mib, minServingGCPercent}, // never below the floor
		{200 * mib, 32},                   // exactly 32%
		{201 * mib, 32},                   // 31.8% rounds up
		{199 * mib, 33},                   // 32.2% rounds up
	} {
		if got := servingGCPercent(c.live); got != c.want {
			t.Errorf("servingGCPercent(%d MiB) = %d, want %d", c.live/mib, got, c.want)
		}
	}
}
