package alerts

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// mustTool returns the path of a Prometheus command-line tool. The checks
// it backs are the point of these tests, so a missing tool fails the test
// rather than skipping it.
func mustTool(t *testing.T, name, debianPackage string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH (install Debian package %s, or the upstream release): %v", name, debianPackage, err)
	}
	return path
}

// run executes a tool and returns its standard output, failing the test
// with both output streams on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.String()
}
