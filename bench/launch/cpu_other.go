//go:build !linux

package launch

import (
	"fmt"
	"time"
)

// procCPU needs Linux's /proc.
func procCPU(pid int) (time.Duration, error) {
	return 0, fmt.Errorf("launch: CPU of pid %d: no /proc on this system", pid)
}

// procRSS needs Linux's /proc.
func procRSS(pid int) (int64, error) {
	return 0, fmt.Errorf("launch: RSS of pid %d: no /proc on this system", pid)
}
