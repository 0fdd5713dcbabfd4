package net

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Refusals beyond the burst are held back; the first line after says how
// many, and a new window starts a new burst.
func TestRefusalLogIsLimited(t *testing.T) {
	var out strings.Builder
	logger := slog.New(slog.NewTextHandler(&out, nil))
	var r refusalLog
	now := time.Unix(1000, 0)
	for range 25 {
		r.log(logger, now, "connection refused", "reason", "bad certificate")
		now = now.Add(time.Second)
	}
	if n := strings.Count(out.String(), "connection refused"); n != refusalBurst {
		t.Fatalf("%d lines for 25 refusals within a minute, want %d", n, refusalBurst)
	}
	now = now.Add(time.Minute)
	r.log(logger, now, "connection refused", "reason", "bad certificate")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "also_refused_unlogged=15") {
		t.Errorf("the line after the held-back ones: %s", last)
	}
}
