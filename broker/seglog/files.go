package seglog

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// File name extensions of a segment's files. The name before the extension
// is the segment's base offset in 20 digits, as Kafka names them, so that a
// directory listing sorts in offset order.
const (
	extLog        = ".log"
	extIndex      = ".index"
	extTimeIndex  = ".timeindex"
	extAppendTime = ".appendtime"
)

// segmentExts are the files of one segment, the log first.
var segmentExts = []string{extLog, extIndex, extTimeIndex, extAppendTime}

func segmentName(base int64, ext string) string { return fmt.Sprintf("%020d%s", base, ext) }

// parseSegmentName returns the base offset and extension of a segment file
// name, and false for any other name.
func parseSegmentName(name string) (base int64, ext string, ok bool) {
	dot := strings.IndexByte(name, '.')
	if dot != 20 {
		return 0, "", false
	}
	ext = name[dot:]
	known := false
	for _, e := range segmentExts {
		known = known || e == ext
	}
	if !known {
		return 0, "", false
	}
	for _, c := range name[:dot] {
		if c < '0' || c > '9' {
			return 0, "", false
		}
	}
	base, err := strconv.ParseInt(name[:dot], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return base, ext, true
}

// file is one open file of a segment with the length and CRC-32C of what it
// holds. Only the log's single writer touches size and crc; readers use the
// *os.File with ReadAt and the sizes the log publishes under its lock.
type file struct {
	f    *os.File
	path string
	size int64
	crc  uint32 // CRC-32C of bytes [0, size)
}

// openFile opens path for reading and writing, creating it when create is
// set, and reads its size. The CRC is left for the caller to establish.
func openFile(path string, create bool) (*file, error) {
	flag := os.O_RDWR
	if create {
		flag |= os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		op := "open"
		if create {
			op = "create"
		}
		return nil, ioError(op, path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, ioError("stat", path, err)
	}
	return &file{f: f, path: path, size: st.Size()}, nil
}

// append writes b at the end of the file. The page cache holds it until
// the next sync: the Raft log, not this file, makes a write durable.
func (fl *file) append(b []byte) error {
	n, err := fl.f.WriteAt(b, fl.size)
	fl.crc = crc32.Update(fl.crc, castagnoli, b[:n])
	fl.size += int64(n)
	return ioError("write", fl.path, err)
}

// truncate cuts the file to n bytes and recomputes its CRC.
func (fl *file) truncate(n int64) error {
	if err := fl.f.Truncate(n); err != nil {
		return ioError("truncate", fl.path, err)
	}
	fl.size = n
	crc, err := fl.checksum(n)
	fl.crc = crc
	return err
}

// checksum computes the CRC-32C of the file's first n bytes.
func (fl *file) checksum(n int64) (uint32, error) {
	h := crc32.New(castagnoli)
	if _, err := io.Copy(h, bufio.NewReaderSize(io.NewSectionReader(fl.f, 0, n), 64<<10)); err != nil {
		return 0, ioError("read", fl.path, err)
	}
	return h.Sum32(), nil
}

func (fl *file) sync() error { return ioError("fsync", fl.path, fl.f.Sync()) }

func (fl *file) close() error { return ioError("close", fl.path, fl.f.Close()) }

// appender adapts a file to io.Writer for buffered rebuilds of an index.
type appender struct{ fl *file }

func (a appender) Write(b []byte) (int, error) {
	if err := a.fl.append(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// syncDir makes a directory's entries (files created, renamed, removed)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return ioError("open", dir, err)
	}
	err = d.Sync()
	d.Close()
	return ioError("fsync", dir, err)
}

// removeFile removes path; a file already gone is not an error.
func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return ioError("remove", path, err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file that is
// fsynced and renamed over path, then fsyncs the directory: a reader finds
// either the old contents or the new, never a mix.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return ioError("create", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return ioError("write", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return ioError("fsync", tmp, err)
	}
	if err := f.Close(); err != nil {
		return ioError("close", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return ioError("rename", tmp, err)
	}
	return syncDir(filepath.Dir(path))
}
