package main

import (
	"testing"
	"time"

	"zabd/engine"
)

func TestRateWindow(t *testing.T) {
	r := newRateWindow(10*time.Second, time.Second)
	t0 := time.Unix(100, 0)
	if f, x := r.rates(); f != 0 || x != 0 {
		t.Fatalf("empty window: %v %v", f, x)
	}
	for i := 0; i <= 20; i++ {
		r.add(t0.Add(time.Duration(i)*time.Second), engine.Stats{Fsyncs: uint64(100 * i), Records: uint64(1000 * i)})
	}
	f, x := r.rates()
	if f != 100 || x != 1000 {
		t.Fatalf("rates = %v fsyncs/s, %v records/s; want 100, 1000", f, x)
	}
	if len(r.samples) != 11 {
		t.Fatalf("kept %d samples, want 11", len(r.samples))
	}
}
