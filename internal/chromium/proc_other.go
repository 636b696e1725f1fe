//go:build !unix

package chromium

import (
	"os/exec"
	"testing"
)

func ownGroup(*exec.Cmd) {}

// stop kills Chromium; without process groups its helpers end on their own.
func stop(_ testing.TB, cmd *exec.Cmd) {
	cmd.Process.Kill()
	cmd.Wait()
}
