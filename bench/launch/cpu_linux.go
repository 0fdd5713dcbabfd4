package launch

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of /proc/PID/stat's utime and stime: USER_HZ, which
// Linux fixes at 100 on every architecture it exports it to user space
// for (sysconf(_SC_CLK_TCK)).
const userHZ = 100

// procCPU is the user+system CPU time process pid has used so far, all its
// threads together (utime + stime of /proc/PID/stat, 10 ms resolution).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("launch: CPU of pid %d: %w", pid, err)
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU reads utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name (field 2) is in parentheses and
// may hold spaces and parentheses itself, so fields are counted from the
// last ')'.
func parseProcStatCPU(line string) (time.Duration, error) {
	i := strings.LastIndexByte(line, ')')
	if i < 0 {
		return 0, fmt.Errorf("launch: /proc stat line %.40q has no command name", line)
	}
	f := strings.Fields(line[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, fmt.Errorf("launch: /proc stat line has %d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			return 0, fmt.Errorf("launch: /proc stat CPU field %q: not a count", s)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// procRSS is process pid's resident set size in bytes (VmRSS of
// /proc/PID/status).
func procRSS(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("launch: RSS of pid %d: %w", pid, err)
	}
	return parseVmRSS(string(b))
}

// parseVmRSS reads the "VmRSS:   123 kB" line of a /proc status file.
func parseVmRSS(status string) (int64, error) {
	for _, l := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(l, "VmRSS:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("launch: VmRSS line %q: want a count of kB", l)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("launch: VmRSS line %q: %w", l, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("launch: no VmRSS line in a /proc status file")
}
