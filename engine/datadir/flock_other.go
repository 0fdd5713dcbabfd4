//go:build !unix

package datadir

import (
	"errors"
	"os"
)

func tryLock(*os.File) (bool, error) {
	return false, errors.New("locking a data dir is implemented on unix systems only")
}
