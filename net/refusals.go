package net

import (
	"log/slog"
	"sync"
	"time"
)

// refusalLog limits the lines logged for refused connections (failed TLS
// handshakes, failed SASL): a scanner or a misconfigured client retrying
// in a loop must not flood the log. At most refusalBurst lines per
// refusalWindow are written; the next line after a window in which some
// were held back says how many.
type refusalLog struct {
	mu        sync.Mutex
	since     time.Time // start of the current window
	logged    int       // lines written in it
	held      int       // refusals not written since the last line
	heldSince time.Time
}

const (
	refusalBurst  = 10
	refusalWindow = time.Minute
)

// log writes msg with args unless the window's quota is spent.
func (r *refusalLog) log(logger *slog.Logger, now time.Time, msg string, args ...any) {
	r.mu.Lock()
	if now.Sub(r.since) >= refusalWindow {
		r.since, r.logged = now, 0
	}
	if r.logged >= refusalBurst {
		if r.held == 0 {
			r.heldSince = now
		}
		r.held++
		r.mu.Unlock()
		return
	}
	r.logged++
	held, heldSince := r.held, r.heldSince
	r.held = 0
	r.mu.Unlock()
	if held > 0 {
		args = append(args, "also_refused_unlogged", held, "unlogged_since", heldSince.UTC().Format(time.RFC3339))
	}
	logger.Info(msg, args...)
}
