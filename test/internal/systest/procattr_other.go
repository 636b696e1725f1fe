//go:build !linux

package systest

import "syscall"

// dieWithParent has no kernel support outside Linux; test clean-ups still
// kill every child they started.
func dieWithParent() *syscall.SysProcAttr { return nil }
