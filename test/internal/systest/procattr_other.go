//go:build !linux

package systest

import (
	"os/exec"
	"syscall"
)

// dieWithParent has no kernel support outside Linux; test clean-ups still
// kill every child they started.
func dieWithParent() *syscall.SysProcAttr { return nil }

// spawn starts cmd; outside Linux no thread needs keeping for it.
func spawn(cmd *exec.Cmd) error { return cmd.Start() }
