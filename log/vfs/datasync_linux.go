package vfs

import (
	"errors"
	"os"
	"syscall"
)

// datasync is fdatasync(2): the file's data and the metadata needed to read
// it back (its size), without flushing timestamps.
func datasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}

// preallocate is fallocate(2) mode 0 (allocate and extend the size), falling
// back to writing zeros on filesystems that do not support it.
func preallocate(f *os.File, size int64) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() >= size {
		return nil
	}
	for {
		err = syscall.Fallocate(int(f.Fd()), 0, 0, size)
		if err != syscall.EINTR {
			break
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOSYS):
		return preallocateZeros(f, size)
	}
	return &os.PathError{Op: "fallocate", Path: f.Name(), Err: err}
}
