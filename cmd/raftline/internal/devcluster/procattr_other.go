//go:build !linux

package devcluster

import "syscall"

// nodeProcAttr: only Linux can signal a child when its parent dies.
func nodeProcAttr() *syscall.SysProcAttr { return nil }
