package datadir

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
)

// probeProcess tells from /proc whether pid is alive, exiting or gone.
func probeProcess(pid int) holderState {
	if pid <= 0 {
		return holderUnknown
	}
	p := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(p + "/stat")
	if errors.Is(err, fs.ErrNotExist) {
		return holderGone
	}
	if err != nil {
		return holderUnknown
	}
	status, _ := os.ReadFile(p + "/status")
	return classify(stat, status)
}

// pfExiting is the kernel's PF_EXITING task flag: the task is in exit(2)
// (closing its files among other things).
const pfExiting = 0x4

// sigkillBit is SIGKILL's bit in /proc/PID/status's signal masks.
const sigkillBit = 1 << (9 - 1)

// classify reads /proc/PID/stat (state and flags) and /proc/PID/status
// (pending signals). See proc(5).
func classify(stat, status []byte) holderState {
	// The command name is in parentheses and may itself hold spaces or
	// parentheses; the fields after the last ')' are fixed.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return holderUnknown
	}
	fields := bytes.Fields(stat[i+1:])
	// fields[0] is the state (field 3), fields[6] the flags (field 9).
	if len(fields) < 7 || len(fields[0]) != 1 {
		return holderUnknown
	}
	switch fields[0][0] {
	case 'Z', 'X', 'x':
		return holderGone
	}
	if flags, err := strconv.ParseUint(string(fields[6]), 10, 64); err == nil && flags&pfExiting != 0 {
		return holderExiting
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok || !(bytes.Equal(k, []byte("SigPnd")) || bytes.Equal(k, []byte("ShdPnd"))) {
			continue
		}
		if mask, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 16, 64); err == nil && mask&sigkillBit != 0 {
			return holderExiting
		}
	}
	return holderAlive
}
