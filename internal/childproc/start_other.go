//go:build !linux

package childproc

import (
	"os/exec"
	"syscall"
)

// DieWithParent has no kernel support outside Linux; callers still kill
// every child they started when they end.
func DieWithParent() *syscall.SysProcAttr { return nil }

// Start starts cmd; outside Linux no thread needs keeping for it.
func Start(cmd *exec.Cmd) error { return cmd.Start() }
