//go:build unix

package chromium

import (
	"errors"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// ownGroup starts Chromium in a process group of its own, which its helper
// processes inherit, so that stop can end all of them.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// stop kills Chromium's process group and waits until none of it is left.
func stop(t testing.TB, cmd *exec.Cmd) {
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, syscall.SIGKILL)
	cmd.Wait()
	deadline := time.Now().Add(Timeout)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("chromium's processes (group %d) still there %v after SIGKILL: %v", pgid, Timeout, err)
			return
		}
		syscall.Kill(-pgid, syscall.SIGKILL)
		time.Sleep(10 * time.Millisecond) // polling the group's exit; there is no event for it
	}
}
