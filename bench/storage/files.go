//go:build linux

package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropCaches writes dirty pages out and empties the kernel's page cache, so
// the next read of a segment file comes from the disk (needs root).
func dropCaches() error {
	unix.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("dropping the page cache (needs root): %w", err)
	}
	return nil
}

// canDropCaches reports whether dropCaches can work, without dropping
// anything.
func canDropCaches() error {
	f, err := os.OpenFile("/proc/sys/vm/drop_caches", os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("cold reads need the page cache dropped, which needs root: %w", err)
	}
	return f.Close()
}

// residency is how much of some files is in the page cache.
type residency struct {
	Resident int64 `json:"resident_bytes"`
	Size     int64 `json:"size_bytes"`
}

func (r residency) String() string {
	if r.Size == 0 {
		return "no files"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(r.Resident)/float64(r.Size))
}

// resident asks the kernel (mincore) which pages of the segment files
// (*.log) of topic in a node's data directory are in the page cache.
func resident(nodeDir, topic string) (residency, error) {
	var r residency
	paths, err := filepath.Glob(filepath.Join(nodeDir, "partitions", topic, "*", "*.log"))
	if err != nil {
		return r, err
	}
	page := int64(os.Getpagesize())
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return r, err
		}
		st, err := f.Stat()
		if err != nil || st.Size() == 0 {
			f.Close()
			if err != nil {
				return r, err
			}
			continue
		}
		m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
		f.Close()
		if err != nil {
			return r, fmt.Errorf("mmap %s: %w", p, err)
		}
		vec := make([]byte, (st.Size()+page-1)/page)
		err = mincore(m, vec)
		unix.Munmap(m)
		if err != nil {
			return r, fmt.Errorf("mincore %s: %w", p, err)
		}
		for i, v := range vec {
			if v&1 != 0 {
				r.Resident += min(page, st.Size()-int64(i)*page)
			}
		}
		r.Size += st.Size()
	}
	return r, nil
}

// mincore fills vec with one byte per page of the mapping m, whose lowest
// bit is set when the page is resident (mincore(2)).
func mincore(m, vec []byte) error {
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return errno
	}
	return nil
}

// usage is what a node keeps on disk, by kind.
type usage struct {
	Node int32 `json:"node"`
	// Segments is the size of the partitions' segment files (*.log): the
	// records retained on disk.
	Segments int64 `json:"segments_bytes"`
	// RaftLog is the size of the Raft log's segment files (raft/wal).
	RaftLog int64 `json:"raft_log_bytes"`
	// Total is what the node's data directory takes on the disk: allocated
	// blocks, counting a file with several links (snapshots link segment
	// files) once.
	Total int64 `json:"total_bytes"`
}

func diskUsage(id int32, nodeDir string) (usage, error) {
	u := usage{Node: id}
	seen := map[uint64]bool{}
	err := filepath.WalkDir(nodeDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walking (a snapshot reaped)
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(nodeDir, path)
		switch {
		case d.IsDir():
		case strings.HasPrefix(rel, "partitions"+string(filepath.Separator)) && strings.HasSuffix(rel, ".log"):
			u.Segments += info.Size()
		case strings.HasPrefix(rel, filepath.Join("raft", "wal")+string(filepath.Separator)) && strings.HasSuffix(rel, ".wal"):
			u.RaftLog += info.Size()
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && !seen[st.Ino] {
			seen[st.Ino] = true
			u.Total += st.Blocks * 512
		}
		return nil
	})
	return u, err
}
