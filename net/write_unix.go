//go:build unix

package net

import "syscall"

// inlineWrites says whether conns may write to their socket from the
// goroutine that produced a message (see conn.enqueue).
const inlineWrites = true

// rawWriter makes non-blocking write(2)s on a connection's socket, one at
// a time (the conn's writing flag says whose turn it is). Its callback is
// bound once, when the conn is made, so a write allocates nothing.
type rawWriter struct {
	raw  syscall.RawConn
	call func(fd uintptr) bool // w.write, bound once
	b    []byte
	n    int
	err  error
}

func newRawWriter(raw syscall.RawConn) *rawWriter {
	w := &rawWriter{raw: raw}
	w.call = w.write
	return w
}

func (w *rawWriter) write(fd uintptr) bool {
	w.n, w.err = syscall.Write(int(fd), w.b)
	return true // never wait for writability here: the writer goroutine does
}

// Write makes one write(2) of b and reports how much the kernel took; a
// full socket buffer (EAGAIN) or an interrupted call is 0 bytes and no
// error.
func (w *rawWriter) Write(b []byte) (int, error) {
	w.b = b
	err := w.raw.Write(w.call)
	n, werr := w.n, w.err
	w.b, w.n, w.err = nil, 0, nil
	if err != nil {
		return 0, err
	}
	if werr == syscall.EAGAIN || werr == syscall.EINTR {
		return 0, nil
	}
	if werr != nil {
		return 0, werr
	}
	return max(n, 0), nil
}
