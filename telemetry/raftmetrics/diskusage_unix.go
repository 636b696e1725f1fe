//go:build unix

package raftmetrics

import (
	"io/fs"
	"syscall"
)

// diskBytes is the space a file takes on disk: its allocated blocks, so
// preallocated but unwritten segment space counts only once written.
func diskBytes(fi fs.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Blocks) * 512
	}
	return fi.Size()
}
