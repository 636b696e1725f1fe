//go:build linux

package childproc

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// DieWithParent has the kernel SIGKILL the child when the program that
// started it (through Start) dies.
func DieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// Start starts cmd from one OS thread that never exits. The kernel sends a
// child its Pdeathsig when the thread that forked it ends, not the process
// (go.dev/issue/27505), and Go ends a thread whenever a goroutine exits
// while locked to it (as one that switched network namespaces may); forking
// from a thread kept for the purpose makes the signal mean "the parent
// died" and nothing else.
func Start(cmd *exec.Cmd) error {
	startOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // for good: this goroutine never returns
			for r := range startReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	startReqs <- startReq{cmd, done}
	return <-done
}

type startReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	startOnce sync.Once
	startReqs = make(chan startReq)
)
