package launch

import "time"

// ProcessCPU is the user+system CPU time process pid has used so far, all
// its threads together (Linux's /proc; an error elsewhere): what `zabctl
// bench --server-pid` samples.
func ProcessCPU(pid int) (time.Duration, error) { return procCPU(pid) }

// ProcessRSS is process pid's resident set size in bytes (Linux's /proc;
// an error elsewhere).
func ProcessRSS(pid int) (int64, error) { return procRSS(pid) }
