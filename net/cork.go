package net

import "sync"

// corker holds back the replies to writes while the processor applies a
// batch of them (Server.Batching), so that a connection with several
// writes answered in one batch gets one write(2) for all their replies
// instead of one each: on the apply goroutine, where one system call per
// reply was a quarter of the server's CPU with 8 writes outstanding per
// session.
//
// Invariants: a held-back reply sits in its connection's out queue, in
// order, exactly as a queued one does, so anything enqueued after it on
// that connection (a read's reply, a watch event) goes out after it; the
// connection is on dirty (once: conn.corked) until the batch ends and
// Batching(false) writes what the queue holds. Lock order: corker.mu,
// then conn.mu.
type corker struct {
	mu    sync.Mutex
	on    bool
	dirty []*conn
	spare []*conn
}

// Batching is called by the processor on the goroutine that answers
// writes: true before it answers a batch of them, false after (then the
// held-back replies are written, one write per connection). A processor
// that never calls it gets every reply written as it is answered.
func (s *Server) Batching(begin bool) {
	k := &s.cork
	k.mu.Lock()
	if begin {
		k.on = true
		k.mu.Unlock()
		return
	}
	k.on = false
	list := k.dirty
	k.dirty, k.spare = k.spare[:0], nil
	for _, c := range list {
		c.corked = false
	}
	k.mu.Unlock()
	for _, c := range list {
		c.flushOut()
	}
	clear(list)
	k.mu.Lock()
	if k.spare == nil {
		k.spare = list[:0]
	}
	k.mu.Unlock()
}

// enqueueReply is enqueue for a write's reply: held back while the
// processor batches, else sent at once.
func (c *conn) enqueueReply(frame []byte) {
	k := &c.srv.cork
	k.mu.Lock()
	if !k.on {
		k.mu.Unlock()
		c.enqueue(frame)
		return
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		k.mu.Unlock()
		return
	}
	if c.out == nil && c.spareOut != nil {
		c.out, c.spareOut = c.spareOut, nil
	}
	c.out = append(c.out, frame)
	c.outBytes += len(frame)
	c.checkOutbound()
	c.mu.Unlock()
	if !c.corked {
		c.corked = true
		k.dirty = append(k.dirty, c)
	}
	k.mu.Unlock()
}

// maxJoined and maxSpareOut bound what a connection keeps between flushes
// (see conn.joined and conn.spareOut): a burst of big replies is left to
// the collector rather than held by an idle connection.
const (
	maxJoined   = 16 << 10
	maxSpareOut = 256
)

// flushOut writes what the out queue holds with one non-blocking write
// when nobody is writing; what the socket does not take, or a queue with
// a close marker, goes to the writer goroutine.
func (c *conn) flushOut() {
	c.mu.Lock()
	if len(c.out) == 0 || c.writing || c.closing {
		c.mu.Unlock()
		return
	}
	inline := c.tryWrite != nil
	for _, b := range c.out {
		if b == nil { // close after this: the writer's job
			inline = false
		}
	}
	if !inline {
		c.wcond.Signal()
		c.mu.Unlock()
		return
	}
	batch := c.out
	c.out, c.outBytes = nil, 0
	c.writing = true
	c.mu.Unlock()
	buf := batch[0]
	if len(batch) > 1 {
		// c.joined is ours while c.writing is set.
		buf = c.joined[:0]
		for _, b := range batch {
			buf = append(buf, b...)
		}
	}
	n, err := c.tryWrite(buf)
	c.mu.Lock()
	c.writing = false
	if err != nil {
		c.mu.Unlock()
		c.closeWith("write failed: " + err.Error())
		return
	}
	whole := 0 // frames written whole
	for left := n; whole < len(batch) && len(batch[whole]) <= left; whole++ {
		left -= len(batch[whole])
	}
	// What the socket did not take is queued frame by frame (the first
	// perhaps in part), slices of buf, so that each is counted once sent.
	var rest [][]byte
	if n < len(buf) {
		off := 0
		for _, b := range batch {
			if end := off + len(b); end > n {
				rest = append(rest, buf[max(off, n):end:end])
			}
			off += len(b)
		}
	}
	if len(batch) > 1 {
		// The frames were copied into buf: theirs are free now, and buf
		// is kept for the next join unless the queue holds part of it.
		for _, b := range batch {
			recycleFrame(b)
		}
		c.joined = nil
		if n == len(buf) && cap(buf) <= maxJoined {
			c.joined = buf[:0]
		}
	} else if n == len(buf) {
		recycleFrame(buf)
	}
	clear(batch)
	if c.spareOut == nil && cap(batch) <= maxSpareOut {
		c.spareOut = batch[:0]
	}
	c.sent += uint64(whole)
	if n < len(buf) {
		// The rest goes first, before anything queued meanwhile.
		c.out = append(rest, c.out...)
		c.outBytes += len(buf) - n
		c.checkOutbound()
		c.wcond.Broadcast()
	} else if len(c.out) > 0 {
		c.wcond.Signal() // queued while we wrote: the writer's now
	}
	c.mu.Unlock()
	for range whole {
		c.srv.stats.send()
	}
}
