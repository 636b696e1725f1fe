package seglog

import (
	"errors"
	"fmt"
	"os"
)

// Sentinel errors. Callers test them with errors.Is; the messages carry the
// offsets, paths and positions involved.
var (
	// ErrOffsetOutOfRange is a read below the log start offset or past the
	// high watermark, or a truncation past the high watermark. The Kafka
	// layer answers OFFSET_OUT_OF_RANGE.
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrCorrupt is stored bytes that are not what was written: a batch whose
	// length, magic, CRC-32C or offsets are wrong, or an index entry that
	// does not point at the batch it names.
	ErrCorrupt = errors.New("corrupt log data")
	// ErrChecksum is a file received by Install whose length or CRC-32C does
	// not match its manifest.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrBadManifest is a manifest Install cannot describe a log with.
	ErrBadManifest = errors.New("bad manifest")
	// ErrBadBatch is an Append whose bytes are not one magic-2 record batch
	// agreeing with the record count and timestamp passed with it.
	ErrBadBatch = errors.New("bad record batch")
	// ErrClosed is any call on a closed log.
	ErrClosed = errors.New("log closed")
)

// Error is a failed operation on a file: a write, fsync, rename, truncate,
// create, remove or read. Op names the operation so that the caller can log
// one clear line and count failures by kind; Path is the file.
//
// A write-side Error fails the log: the caller gets the same *Error from every
// later write, because continuing after a lost write would leave a hole that
// replicas do not have.
type Error struct {
	Op   string
	Path string
	Err  error
}

func (e *Error) Error() string { return fmt.Sprintf("seglog: %s %s: %v", e.Op, e.Path, e.Err) }

func (e *Error) Unwrap() error { return e.Err }

// ioError wraps err from op on path, or returns nil. An *os.PathError is
// unwrapped, so the path is not named twice.
func ioError(op, path string, err error) error {
	if err == nil {
		return nil
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &Error{Op: op, Path: path, Err: err}
}

// corrupt reports bad bytes at pos in path.
func corrupt(path string, pos int64, format string, args ...any) error {
	return fmt.Errorf("seglog: %s at byte %d: %w: %s", path, pos, ErrCorrupt, fmt.Sprintf(format, args...))
}
