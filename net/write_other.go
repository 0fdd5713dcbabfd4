//go:build !unix

package net

import "syscall"

const inlineWrites = false

// rawWriter is never used where writes are not inline (inlineWrites).
type rawWriter struct{}

func newRawWriter(syscall.RawConn) *rawWriter { return &rawWriter{} }

func (*rawWriter) Write([]byte) (int, error) { return 0, nil }
