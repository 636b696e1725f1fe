package systest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/raftline/raftline/internal/childproc"
)

// modulePath is the first line of raftline's go.mod.
const modulePath = "module github.com/raftline/raftline\n"

// RepoRoot walks up from the working directory (a test's package directory)
// to the raftline module root.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(b, []byte(modulePath)) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("cannot find the raftline module root above the working directory")
		}
		dir = parent
	}
}

// GoTool is the go command: the one on PATH, else the one that built the test.
func GoTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// Build compiles the package pkg (such as "./cmd/raftline") of the module at
// root into the binary out.
func Build(root, out, pkg string) error {
	cmd := exec.Command(GoTool(), "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, b)
	}
	return nil
}

// ChildEnv is the test's environment without RAFTLINE_* variables, plus
// extra, so a developer's shell cannot change the flags a child starts with.
func ChildEnv(extra ...string) []string { return childproc.Env(extra...) }
