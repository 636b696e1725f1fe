//go:build !unix

package freespace

import (
	"errors"
	"fmt"
	"io/fs"
)

func statfs(string) (free, capacity int64, err error) {
	return 0, 0, fmt.Errorf("free disk space is only read on unix systems: %w", errors.ErrUnsupported)
}

func allocated(fi fs.FileInfo) (bytes int64, shared bool) { return fi.Size(), false }
