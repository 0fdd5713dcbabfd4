//go:build !unix

package net

import "errors"

// inlineReads: elsewhere every connection reads through a bufio.Reader.
const inlineReads = false

func shutdownBoth(uintptr) error { return errors.ErrUnsupported }

func (c *conn) readRaw(pending []byte) error {
	panic("net: readRaw without inline reads")
}
