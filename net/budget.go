package net

import (
	"fmt"
	"sync"
)

// writeBudget bounds the writes in flight across the whole server, by
// count and by bytes (of the request frames). A connection's reader takes
// from it before submitting a write and gives back when the write is
// answered; while the budget is spent the reader waits, so the server
// stops reading from that client (TCP back-pressure) and never drops a
// request it has read. It is ZooKeeper's globalOutstandingLimit, with a
// byte bound beside the count: a thousand 1 MiB setData requests must not
// pin a gigabyte.
//
// One request is always let in when nothing is in flight, whatever its
// size (it is at most jute.maxbuffer), so a bound below a request's size
// slows that client down but never stalls it.
//
// Concurrency: safe for concurrent use; mu guards the fields below it.
// Lock order: a conn's mu is never held while waiting here.
type writeBudget struct {
	maxCount int   // 0: no count bound
	maxBytes int64 // 0: no byte bound

	mu      sync.Mutex
	cond    *sync.Cond
	count   int
	bytes   int64
	waiting int // readers waiting for room (for tests and mntr)
}

func newWriteBudget(maxCount int, maxBytes int64) *writeBudget {
	b := &writeBudget{maxCount: maxCount, maxBytes: maxBytes}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// fits says whether a request of n bytes may be let in now. Caller holds mu.
func (b *writeBudget) fits(n int64) bool {
	if b.count == 0 {
		return true
	}
	if b.maxCount > 0 && b.count >= b.maxCount {
		return false
	}
	return b.maxBytes <= 0 || b.bytes+n <= b.maxBytes
}

// acquire waits until a request of n bytes fits, or until abandon reports
// true (checked whenever the budget is woken: call wake after making it
// true). It reports whether the request was let in.
func (b *writeBudget) acquire(n int64, abandon func() bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for !b.fits(n) {
		if abandon() {
			return false
		}
		b.waiting++
		b.cond.Wait()
		b.waiting--
	}
	if abandon() {
		return false
	}
	b.count++
	b.bytes += n
	return true
}

// release gives back what acquire(n) took.
func (b *writeBudget) release(n int64) {
	b.mu.Lock()
	b.count--
	b.bytes -= n
	if b.count < 0 || b.bytes < 0 {
		panic(fmt.Sprintf("net: write budget released more than it gave (now %d writes, %d bytes)", b.count, b.bytes))
	}
	wake := b.waiting > 0
	b.mu.Unlock()
	if wake {
		b.cond.Broadcast()
	}
}

// wake makes waiters check their abandon functions again.
func (b *writeBudget) wake() {
	b.mu.Lock()
	b.mu.Unlock() //nolint:staticcheck // orders the broadcast after a waiter's check
	b.cond.Broadcast()
}

// snapshot returns what is in flight and how many readers wait.
func (b *writeBudget) snapshot() (count int, bytes int64, waiting int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count, b.bytes, b.waiting
}
