package observability

import "syscall"

// dieWithTest has the kernel kill a child when the test binary dies, so a
// test that panics or times out leaves no broker, Prometheus or Alertmanager
// running on the machine.
func dieWithTest() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
