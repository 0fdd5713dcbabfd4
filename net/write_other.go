//go:build !unix

package net

import "syscall"

const inlineWrites = false

func writeNonBlocking(syscall.RawConn, []byte) (int, error) { return 0, nil }
