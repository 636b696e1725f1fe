//go:build linux

package systest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// dieWithParent has the kernel SIGKILL the child when the test binary dies.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// spawn starts cmd from one OS thread that never exits. The kernel sends a
// child its Pdeathsig when the thread that forked it ends, not the process
// (go.dev/issue/27505), and Go ends a thread whenever a goroutine exits
// while locked to it (as one that switched network namespaces may); forking
// from a thread kept for the purpose makes the signal mean "the test process
// died" and nothing else.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // for good: this goroutine never returns
			for r := range spawnReqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	done := make(chan error, 1)
	spawnReqs <- spawnReq{cmd, done}
	return <-done
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawnReqs = make(chan spawnReq)
)
