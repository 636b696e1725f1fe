//go:build unix && !linux

package process

import "syscall"

// dieWithTest is a no-op where the kernel has no parent-death signal.
func dieWithTest(syscall.Signal) *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
