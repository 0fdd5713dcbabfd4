package net

import "sync"

// frameBufSize is the capacity of a recycled frame buffer: a reply with a
// stat and a value of a hundred bytes or so fits, and a bigger frame simply
// grows out of it (and is not recycled).
const frameBufSize = 512

// frameBufs holds frame buffers whose bytes were written to a socket
// whole. Replies and events are encoded into one (newFrameBuf) and handed
// back once written (recycleFrame), so answering a request allocates no
// frame.
var frameBufs = sync.Pool{New: func() any { return new([frameBufSize]byte) }}

// newFrameBuf is an empty buffer of frameBufSize capacity.
func newFrameBuf() []byte { return frameBufs.Get().(*[frameBufSize]byte)[:0] }

// recycleFrame hands b's memory back for another frame. The caller
// guarantees nothing refers to b any more: its bytes were written. A
// buffer that grew past frameBufSize (or was never one) is left to the
// collector.
func recycleFrame(b []byte) {
	if cap(b) == frameBufSize {
		frameBufs.Put((*[frameBufSize]byte)(b[:frameBufSize]))
	}
}
