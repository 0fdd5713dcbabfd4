//go:build unix

package vfs

import "golang.org/x/sys/unix"

// statfs asks the kernel for the room on the filesystem holding path.
func statfs(path string) (Space, error) {
	var st unix.Statfs_t
	for {
		err := unix.Statfs(path, &st)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Space{}, statfsErr(path, err)
		}
		break
	}
	bs := uint64(st.Bsize) // int64 on Linux, uint32 on some BSDs
	return Space{Free: uint64(st.Bavail) * bs, Total: uint64(st.Blocks) * bs}, nil
}
