//go:build !unix

package vfs

import "errors"

// statfs is not available here: callers say nothing of free space.
func statfs(path string) (Space, error) {
	return Space{}, statfsErr(path, errors.New("not supported on this system"))
}
