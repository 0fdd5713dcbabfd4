//go:build !unix

package wire

import "syscall"

type round struct{}

func newRound(*Conn, syscall.RawConn) *round { return nil }

// FlushAndWait is Flush where the socket's system calls cannot be made
// directly; ReadReply then waits for the reply.
func (c *Conn) FlushAndWait() error { return c.Flush() }
