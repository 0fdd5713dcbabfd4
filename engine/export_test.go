package engine

import "time"

// WaitInFlight waits up to d until the flusher has taken every queued
// append off the queue and holds a batch not yet committed; it reports
// whether that happened.
func (g *GroupCommitter) WaitInFlight(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		ok := len(g.queue) == 0 && (g.writing || len(g.syncing) > 0)
		g.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// WaitSyncDoneBehind waits up to d until a batch's sync has returned while
// an earlier batch's sync is still running (so the later one is held back
// for order); it reports whether that happened.
func (n *Native) WaitSyncDoneBehind(d time.Duration) bool {
	g := n.g
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		g.mu.Lock()
		ok := len(g.syncing) >= 2 && !g.syncing[0].done && g.syncing[1].done
		g.mu.Unlock()
		if ok {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}
