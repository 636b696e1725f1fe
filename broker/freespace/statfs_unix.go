//go:build unix

package freespace

import (
	"io/fs"
	"syscall"
)

// statfs reads the bytes available to unprivileged writers and the size of
// the filesystem holding dir.
func statfs(dir string) (free, capacity int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := int64(st.Bsize)
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, nil
}

// allocated is the space a file takes on disk (its allocated blocks) and
// whether another directory entry links to it too.
func allocated(fi fs.FileInfo) (bytes int64, shared bool) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512, st.Nlink > 1
	}
	return fi.Size(), false
}
