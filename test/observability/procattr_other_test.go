//go:build !linux

package observability

import "syscall"

// dieWithTest has no kernel support outside Linux; t.Cleanup still kills
// every child of a test that ends normally.
func dieWithTest() *syscall.SysProcAttr { return nil }
