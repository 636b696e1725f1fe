//go:build linux

package process

import "syscall"

// dieWithTest has the child sent sig when the test process dies, so a test
// binary killed by go test's -timeout leaves no node running.
func dieWithTest(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: sig}
}
