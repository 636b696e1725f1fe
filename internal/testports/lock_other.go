//go:build !unix

package testports

import (
	"os"
	"path/filepath"
	"strconv"
)

// lockPort has no cross-process lock outside Unix: ports are excluded within
// this process only.
func lockPort(dir string, port int) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_RDONLY|os.O_CREATE, 0o644)
}
