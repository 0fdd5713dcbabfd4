package datadir

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// flockHolder finds an flock on the file fi describes in /proc/locks
// (proc(5)): lines such as
//
//	1: FLOCK  ADVISORY  WRITE 4242 08:01:1835012 0 EOF
//
// where the device is MAJOR:MINOR in hex and then the inode in decimal.
func flockHolder(fi os.FileInfo) (pid int, held, known bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false, false
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0, false, false
	}
	return findFlock(b, devInode(uint64(st.Dev), st.Ino))
}

// devInode formats a device and inode as /proc/locks does; the device
// number is split as glibc's gnu_dev_major and gnu_dev_minor split it.
func devInode(dev, ino uint64) string {
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	return fmt.Sprintf("%02x:%02x:%d", major, minor, ino)
}

// findFlock looks for an FLOCK on id (as devInode formats it) in the
// content of /proc/locks. A blocked waiter's line ("->") is not a holder.
func findFlock(locks []byte, id string) (pid int, held, known bool) {
	for _, line := range bytes.Split(locks, []byte("\n")) {
		f := bytes.Fields(line)
		if len(f) < 6 || string(f[1]) != "FLOCK" || string(f[5]) != id {
			continue
		}
		if p, err := strconv.Atoi(string(f[4])); err == nil && p > 0 {
			pid = p
		}
		return pid, true, true
	}
	return 0, false, true
}
