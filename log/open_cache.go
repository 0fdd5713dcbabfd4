package log

import "sync/atomic"

// defaultOpenCacheBytes bounds the segment bytes Open keeps for the first
// Iter (see openCache).
const defaultOpenCacheBytes = 1 << 30

// openCache holds the bytes of segments as Open read and verified them, so
// that the first Iter after Open (recovery's replay) parses them from
// memory instead of reading and checksumming the files a second time.
//
// Invariants: a buffer is exactly the file's bytes as Open read them, and
// Open verified every frame in [SegmentHeaderBytes, size) and the header;
// only the log's first Iter takes the buffers (Log.cache is then nil for
// good), and the first Append, TruncateAfter, PurgeBefore or Close drops
// them if no Iter took them yet. TruncateAfter and PurgeBefore, which
// change bytes an iterator may still be about to read, also set stale: an
// iterator holding the buffers then reads the files instead, as any
// iterator does. Append only writes past what was synced, so it does not
// make the bytes an iterator holds wrong.
type openCache struct {
	bufs  map[Zxid][]byte // by segment first zxid; nil once taken
	stale atomic.Bool
}

// cacheSegments collects segment buffers during Open, keeping the newest
// within budget (recovery iterates from its snapshot, near the end).
type cacheSegments struct {
	budget int64
	total  int64
	firsts []Zxid
	bufs   [][]byte
}

// add keeps buf for the segment first and returns a buffer Open may reuse
// for its next read (an evicted one), or nil.
func (c *cacheSegments) add(first Zxid, buf []byte) (spare []byte) {
	if int64(cap(buf)) > c.budget {
		return buf
	}
	c.firsts = append(c.firsts, first)
	c.bufs = append(c.bufs, buf)
	c.total += int64(cap(buf))
	for c.total > c.budget {
		spare = c.bufs[0]
		c.total -= int64(cap(spare))
		c.firsts, c.bufs = c.firsts[1:], c.bufs[1:]
	}
	return spare
}

// cache returns what was kept for the segments that remain after Open.
func (c *cacheSegments) cache(segs []segment) *openCache {
	if len(c.bufs) == 0 {
		return nil
	}
	keep := make(map[Zxid]bool, len(segs))
	for _, s := range segs {
		keep[s.first] = true
	}
	oc := &openCache{bufs: make(map[Zxid][]byte, len(c.bufs))}
	for i, f := range c.firsts {
		if keep[f] {
			oc.bufs[f] = c.bufs[i]
		}
	}
	return oc
}

// dropOpenCache releases the buffers Open kept if no Iter took them; with
// stale, an iterator that took them stops using them. Caller holds wmu.
func (l *Log) dropOpenCache(stale bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cache = nil
	if stale && l.lent != nil {
		l.lent.stale.Store(true)
		l.lent = nil
	}
}
