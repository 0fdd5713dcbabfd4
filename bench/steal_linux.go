package bench

import (
	"bytes"
	"os"
	"strconv"
	"time"
)

// machineTicks reads the machine-wide CPU counters of /proc/stat: the
// time the hypervisor ran something else while this VM's vCPUs wanted
// to run (steal) and the total of every state, in clock ticks.
func machineTicks() (steal, total uint64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	return parseCPULine(b)
}

// parseCPULine parses the first ("cpu ") line of /proc/stat: user nice
// system idle iowait irq softirq steal guest guest_nice. guest and
// guest_nice are already counted in user and nice, so they are left out
// of the total.
func parseCPULine(b []byte) (steal, total uint64, ok bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return 0, 0, false
	}
	for i, f := range fields[1:min(len(fields), 9)] {
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += v
		if i == 7 {
			steal = v
		}
	}
	return steal, total, true
}

// machineBusy is the CPU time the whole machine has spent running
// something (user, nice, system, irq, softirq; not idle, iowait or
// steal) since boot, from /proc/stat in USER_HZ (100) ticks.
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	ticks, ok := parseCPUBusy(b)
	return time.Duration(ticks) * time.Second / 100, ok
}

// parseCPUBusy sums the busy fields of the first line of /proc/stat
// (see parseCPULine): user nice system irq softirq.
func parseCPUBusy(b []byte) (busy uint64, ok bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	fields := bytes.Fields(line)
	if len(fields) < 9 || string(fields[0]) != "cpu" {
		return 0, false
	}
	for i, f := range fields[1:9] {
		v, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, false
		}
		switch i {
		case 3, 4, 7: // idle, iowait, steal
		default:
			busy += v
		}
	}
	return busy, true
}
