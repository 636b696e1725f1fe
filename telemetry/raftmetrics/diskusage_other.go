//go:build !unix

package raftmetrics

import "io/fs"

// diskBytes is the space a file takes on disk; its size where allocation is
// not reported.
func diskBytes(fi fs.FileInfo) int64 { return fi.Size() }
