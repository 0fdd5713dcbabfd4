//go:build unix

package main

import (
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// dirOwner is the name of the user owning dir (the user zabd runs as),
// which an audit gives to what the server did itself, as ZooKeeper's
// audit log gives the user it runs as; "zabd" when it cannot be told.
func dirOwner(dir string) string {
	st, err := os.Stat(dir)
	if err != nil {
		return "zabd"
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "zabd"
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(sys.Uid), 10))
	if err != nil {
		return strconv.FormatUint(uint64(sys.Uid), 10)
	}
	return u.Username
}
