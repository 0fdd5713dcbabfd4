//go:build !linux

package bench

// machineTicks is not measured off Linux.
func machineTicks() (steal, total uint64, ok bool) { return 0, 0, false }
