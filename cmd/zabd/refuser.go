package main

import (
	"errors"
	stdnet "net"
	"sync/atomic"
	"time"
)

// refuseUntilServing accepts and at once closes every connection on l
// until the returned stop is called, so that a client connecting while the
// server recovers is told at once (its connection closes, and it tries
// another server or again) instead of waiting in the listen backlog until
// its own timeout; Apache ZooKeeper closes such connections the same way
// while it is not serving. stop returns once nothing more is accepted
// here; l is then left as it was for Serve. If l is closed first the
// goroutine ends by itself.
func refuseUntilServing(l stdnet.Listener) (stop func()) {
	tl, ok := l.(*stdnet.TCPListener)
	if !ok {
		return func() {}
	}
	var stopping atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := tl.Accept()
			if err == nil {
				c.Close()
				continue
			}
			var ne stdnet.Error
			if errors.As(err, &ne) && ne.Timeout() && !stopping.Load() {
				continue
			}
			return // stopping (the deadline woke Accept), or l was closed
		}
	}()
	return func() {
		stopping.Store(true)
		tl.SetDeadline(time.Now()) // wakes a blocked Accept
		<-done
		tl.SetDeadline(time.Time{})
	}
}
