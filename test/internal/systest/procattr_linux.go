//go:build linux

package systest

import "syscall"

// dieWithParent has the kernel SIGKILL the child when the test binary dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
