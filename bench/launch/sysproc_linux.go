package launch

import "syscall"

// sysProcAttr makes the child die with the process that started it, so a
// test binary that crashes or is killed does not leave servers running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
