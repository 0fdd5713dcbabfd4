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
