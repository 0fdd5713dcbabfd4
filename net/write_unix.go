//go:build unix

package net

import "syscall"

// inlineWrites says whether conns may write to their socket from the
// goroutine that produced a message (see conn.enqueue).
const inlineWrites = true

// writeNonBlocking makes one write(2) of b on the connection's
// non-blocking socket and reports how much the kernel took; a full socket
// buffer (EAGAIN) or an interrupted call is 0 bytes and no error.
func writeNonBlocking(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	err := raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // never wait for writability here: the writer goroutine does
	})
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
