package vfs

import (
	"fmt"
	"os"
)

// Space is the room on the filesystem holding a path, as statfs(2)
// reports it: Free is what an unprivileged writer may still use
// (f_bavail blocks), Total the filesystem's size.
type Space struct {
	Free, Total uint64
}

// SpaceReporter is implemented by filesystems that can say how much room
// is left (the operating system's, through statfs; errorfs with a free
// space budget). MemFS cannot: it has no size.
type SpaceReporter interface {
	Space(path string) (Space, error)
}

// SpaceOf asks fsys for the room on the filesystem holding path; ok is
// false when fsys cannot tell (it is not a SpaceReporter, or statfs
// failed).
func SpaceOf(fsys FS, path string) (sp Space, ok bool) {
	r, isReporter := fsys.(SpaceReporter)
	if !isReporter {
		return Space{}, false
	}
	sp, err := r.Space(path)
	return sp, err == nil
}

func (osFS) Space(path string) (Space, error) { return statfs(path) }

var _ SpaceReporter = osFS{}

// NoSpaceDetail says what a write that found the disk full asked for and,
// when fsys can tell, what was free on the filesystem holding dir: "asked
// 64 MiB, 1.0 MiB free on /data/log". asked < 0 leaves the request out.
func NoSpaceDetail(fsys FS, dir string, asked int64) string {
	s := ""
	if asked >= 0 {
		s = "asked " + FormatBytes(asked)
	}
	if sp, ok := SpaceOf(fsys, dir); ok {
		if s != "" {
			s += ", "
		}
		s += FormatBytes(int64(min(sp.Free, 1<<62))) + " free on " + dir
	}
	return s
}

// FormatBytes writes n in binary units as people read them: "512 B",
// "1.0 KiB", "64 MiB" (whole numbers of a unit lose the decimal).
func FormatBytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	v, u := float64(n)/1024, 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	if v == float64(int64(v)) && v >= 10 {
		return fmt.Sprintf("%d %s", int64(v), units[u])
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

// statfsErr is the error of a statfs that could not be made.
func statfsErr(path string, err error) error {
	return &os.PathError{Op: "statfs", Path: path, Err: err}
}
