//go:build !linux

package bench

import "time"

// machineTicks is not measured off Linux.
func machineTicks() (steal, total uint64, ok bool) { return 0, 0, false }

// machineBusy is not measured off Linux.
func machineBusy() (time.Duration, bool) { return 0, false }
