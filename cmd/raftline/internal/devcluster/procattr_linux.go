//go:build linux

package devcluster

import "syscall"

// nodeProcAttr has the kernel send a node SIGTERM when `raftline dev` dies
// without stopping it (SIGKILL), so no node is left holding the ports.
// Nothing in raftline locks a goroutine to its thread, so the thread that
// starts a node lives as long as the process (the signal follows the
// thread, go.dev/issue/27505).
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
