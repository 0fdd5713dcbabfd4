package launch

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// pinArgv returns argv run under `taskset -c cpus`, which sets the CPU
// affinity and then execs argv (same pid, so Stop and Kill reach the
// server itself). cpus is a list as taskset takes it ("0", "0,2", "0-1");
// empty leaves argv as it is. Go and the JVM size their thread pools from
// the affinity they start with, so a pinned server also believes it has
// only those CPUs.
func pinArgv(argv []string, cpus string) ([]string, error) {
	if cpus == "" {
		return argv, nil
	}
	if strings.Trim(cpus, "0123456789,-") != "" || strings.HasPrefix(cpus, "-") {
		return nil, fmt.Errorf("launch: CPU list %q: want taskset's form, e.g. 0 or 0,2 or 0-1", cpus)
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return nil, fmt.Errorf("launch: taskset (package util-linux) to pin to CPUs %s: %w: %v", cpus, ErrNotInstalled, err)
	}
	return append([]string{ts, "-c", cpus}, argv...), nil
}

// OwnCPUs is the CPU list this process may run on (Linux's
// Cpus_allowed_list, e.g. "0-1"), or "" where unknown.
func OwnCPUs() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// MachineCPUs is the number of online CPUs of the machine, whatever this
// process's own affinity (runtime.NumCPU counts only the CPUs it may use);
// 0 where unknown.
func MachineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	return countCPUList(strings.TrimSpace(string(b)))
}

// countCPUList counts the CPUs of a kernel CPU list such as "0-3,8,10-11";
// 0 if it does not parse.
func countCPUList(list string) int {
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}
