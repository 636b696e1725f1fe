package seglog

import (
	"fmt"
	"os"
)

// Create makes an empty log in dir whose first record will get offset next,
// replacing whatever dir held. The state machine creates a partition with
// it, and rebuilds one from a snapshot whose log starts past offset 0, which
// Open cannot (an empty log it creates starts at 0, and TruncateTo only goes
// back). Nothing is synced, as for Append: Sync does.
func Create(dir string, next int64, opts Options) (*Log, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if next < 0 {
		return nil, fmt.Errorf("seglog: create %s: first offset %d is negative", dir, next)
	}
	for _, p := range []string{dir, dir + ".staging", dir + ".old"} {
		if err := os.RemoveAll(p); err != nil {
			return nil, ioError("remove", p, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, ioError("create", dir, err)
	}
	l := &Log{dir: dir, opts: opts}
	s, err := l.newSegment(next)
	if err != nil {
		return nil, err
	}
	l.segs = []*segment{s}
	l.start, l.next = next, next
	return l, nil
}

// Remove closes the log without syncing it and deletes its directory: the
// partition is gone (its topic was deleted, or a snapshot replaces it), so
// nothing of it needs to be durable. Readers finish first; later calls on
// the log return ErrClosed.
func (l *Log) Remove() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.ioMu.Lock()
	l.mu.Lock()
	wasClosed := l.closed
	l.closed = true
	var err error
	if !wasClosed {
		err = closeFiles(l.segs)
	}
	l.mu.Unlock()
	l.ioMu.Unlock()
	for _, p := range []string{l.dir, l.dir + ".staging", l.dir + ".old"} {
		if rerr := os.RemoveAll(p); rerr != nil && err == nil {
			err = ioError("remove", p, rerr)
		}
	}
	return err
}
