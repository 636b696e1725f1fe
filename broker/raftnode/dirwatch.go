package raftnode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// dirWatch checks, every interval, that the node's directories are still
// the ones it opened, and that a write to its data directory still reaches
// the disk. Both catch what the stores' own writes meet only later:
//
//   - A data directory removed (or moved, or replaced by a new one) while
//     the process runs leaves every open file writable: raft-wal appends to
//     an unlinked segment and fsyncs it, and nothing fails until a new file
//     must be created, maybe hours later, while every write acknowledged
//     meanwhile is lost with the process. A node once stayed up like this,
//     leaderless, its term past 1,300. os.SameFile on the data directory,
//     raft/ and raft/wal/ (device and inode, as at Open) finds it within an
//     interval.
//   - A filesystem the kernel remounted read-only after an error (ext4's
//     errors=remount-ro) or a disk that returns EIO fails only the next
//     write, which on an idle node may be the one a leader counts on.
//     Rewriting 8 bytes of probeFile and fsyncing it finds it within an
//     interval.
//
// The cost is three stat calls, an open, an 8-byte write, an fdatasync and
// a close per interval (1s): the probe rewrites the same block in place, so
// it allocates nothing and a full disk alone never fails it. A full disk is
// a fault when a store's write fails on it.
type dirWatch struct {
	n     *Node
	probe string
	dirs  []watchedDir
	stop  chan struct{}
	done  chan struct{}
	// started is set by start; close waits for run only then.
	started bool
}

type watchedDir struct {
	path string
	info os.FileInfo
}

// probeFile is the file dirWatch rewrites, in the data directory.
const probeFile = "storage-probe"

// dirWatchInterval is how often the directories are checked.
const dirWatchInterval = time.Second

// newDirWatch records the directories as they are now and writes the probe
// once: a data directory that cannot take its first write fails Open.
func newDirWatch(n *Node, dirs ...string) (*dirWatch, error) {
	w := &dirWatch{n: n, probe: filepath.Join(n.cfg.DataDir, probeFile), stop: make(chan struct{}), done: make(chan struct{})}
	for _, d := range dirs {
		info, err := os.Stat(d)
		if err != nil {
			return nil, err
		}
		w.dirs = append(w.dirs, watchedDir{path: d, info: info})
	}
	if err := w.write(); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", n.cfg.DataDir, err)
	}
	return w, nil
}

// start runs the checks, every interval, until close or the first fault.
func (w *dirWatch) start(interval time.Duration) {
	w.started = true
	go w.run(interval)
}

func (w *dirWatch) run(interval time.Duration) {
	defer close(w.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-w.n.halted:
			return
		case <-t.C:
		}
		if path, err := w.check(); err != nil {
			w.n.storageFault(OpDataDir, path, err)
			return
		}
	}
}

// check returns the first directory that is gone or replaced, or the probe
// file when writing it failed.
func (w *dirWatch) check() (string, error) {
	for _, d := range w.dirs {
		info, err := os.Stat(d.path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is the fault's
			}
			return d.path, fmt.Errorf("the directory the node opened is gone: %w", err)
		}
		if !os.SameFile(d.info, info) {
			return d.path, errors.New("replaced: not the directory the node opened (another device or inode)")
		}
	}
	if err := w.write(); err != nil {
		return w.probe, err
	}
	return "", nil
}

// write rewrites the probe's 8 bytes (the time) at offset 0 and fsyncs
// them.
func (w *dirWatch) write() error {
	f, err := os.OpenFile(w.probe, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(time.Now().UnixNano()))
	if _, err := f.WriteAt(b[:], 0); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// close stops the checks and waits for a check under way.
func (w *dirWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	if w.started {
		<-w.done
	}
}
