package seglog

import (
	"fmt"
	"slices"
)

// Retain deletes whole segments from the front while keep returns false for
// them, and reports how many it deleted. keep sees each segment (its size
// and largest append time are what retention.bytes and retention.ms decide
// on) and size, the bytes the log holds with that segment still in it. The
// decision is the caller's, made from a replicated entry, so every replica
// deletes the same segments; nothing here reads a clock. When every segment
// goes, an empty one is started at the high watermark, which stays put. The
// log start offset moves to the first offset still held.
func (l *Log) Retain(keep func(s SegmentInfo, size int64) bool) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return 0, err
	}
	size := l.bytes
	k := 0
	for ; k < len(l.segs); k++ {
		s := l.segs[k]
		if s.size == 0 || keep(s.info(), size) {
			break // an empty segment is the active one: nothing to delete
		}
		size -= s.size
	}
	if err := l.dropFront(k); err != nil {
		return 0, l.fail(err)
	}
	return k, nil
}

// SetStart moves the log start offset up to offset, as DeleteRecords does:
// reads below it answer ErrOffsetOutOfRange, and the segments wholly below
// it are deleted. An offset at or below the current start changes nothing;
// one past the high watermark is ErrOffsetOutOfRange.
func (l *Log) SetStart(offset int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if offset <= l.start {
		return nil
	}
	if offset > l.next {
		return fmt.Errorf("seglog: %s: %w: start offset %d past the high watermark %d", l.dir, ErrOffsetOutOfRange, offset, l.next)
	}
	k := 0
	for k < len(l.segs) && l.segs[k].next <= offset && l.segs[k].size > 0 {
		k++
	}
	l.mu.Lock()
	l.start = offset
	l.mu.Unlock()
	return l.fail(l.dropFront(k))
}

// dropFront deletes the first k segments. When that is all of them, it
// rolls an empty segment at the high watermark first, so the log always has
// an active segment whose name records the next offset. Readers finish their
// reads first; then the files are closed and removed, the log file first.
func (l *Log) dropFront(k int) error {
	if k == 0 {
		return nil
	}
	if k == len(l.segs) {
		if _, err := l.roll(); err != nil {
			return err
		}
	}
	l.ioMu.Lock()
	l.mu.Lock()
	dropped := l.segs[:k]
	l.segs = slices.Clone(l.segs[k:])
	for _, s := range dropped {
		l.bytes -= s.size
	}
	l.start = max(l.start, l.segs[0].base)
	l.mu.Unlock()
	err := closeFiles(dropped)
	l.ioMu.Unlock()
	l.dirDirty = true
	for _, s := range dropped {
		if rerr := l.removeSegmentFiles(s.base); err == nil {
			err = rerr
		}
	}
	return err
}

// TruncateTo drops every batch from offset next on, so that the log ends
// just before next: the node replays the Raft log from its last snapshot, and
// whatever the files hold past the snapshot's offsets must go first or it
// would be applied twice. next must be a batch boundary at or below the high
// watermark. Truncating below the first segment empties the log and restarts
// it at next. The result is synced, so a crash cannot bring the tail back.
func (l *Log) TruncateTo(next int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return err
	}
	if next < 0 || next > l.next {
		return fmt.Errorf("seglog: %s: %w: cannot truncate to %d, the log ends before %d", l.dir, ErrOffsetOutOfRange, next, l.next)
	}
	if next == l.next {
		return nil
	}
	i := len(l.segs) - 1
	for i >= 0 && l.segs[i].base > next {
		i--
	}
	pos := int64(-1) // where segment i is cut; -1 when it is kept whole
	if i >= 0 && next < l.segs[i].next {
		pos = 0
		if next > l.segs[i].base {
			p, h, err := l.locate(l.segs[i].view(), next)
			if err != nil {
				return err
			}
			if h.base != next {
				return fmt.Errorf("seglog: %s: cannot truncate to %d: it is inside the batch of offsets %d..%d", l.dir, next, h.base, h.last)
			}
			pos = p
		}
	}
	if err := l.truncate(i, pos, next); err != nil {
		l.mu.Lock()
		if l.failed == nil {
			l.failed = err // a half-done truncation cannot be served from
		}
		l.mu.Unlock()
		return err
	}
	return l.fail(l.sync())
}

// truncate keeps segments up to i, cutting segment i at pos (unless pos is
// -1), or, when i is -1, replaces every segment with an empty one at next.
func (l *Log) truncate(i int, pos, next int64) error {
	l.ioMu.Lock()
	defer l.ioMu.Unlock()
	keep := l.segs[:i+1]
	dropped := slices.Clone(l.segs[i+1:])
	if i < 0 {
		s, err := l.newSegment(next)
		if err != nil {
			return err
		}
		keep = []*segment{s}
	}
	l.mu.Lock()
	l.segs = slices.Clone(keep)
	l.next = next
	l.start = min(max(l.start, l.segs[0].base), next)
	l.mu.Unlock()
	err := closeFiles(dropped)
	l.dirDirty = true
	for _, s := range dropped {
		if rerr := l.removeSegmentFiles(s.base); err == nil {
			err = rerr
		}
	}
	if err != nil {
		return err
	}
	if pos >= 0 {
		s := l.segs[i]
		if err := s.log.f.Truncate(pos); err != nil {
			return ioError("truncate", s.log.path, err)
		}
		s.log.size = pos
		if _, err := l.rebuild(s, afterTruncate, 0, 0); err != nil {
			return err
		}
		if s.next != next {
			return corrupt(s.log.path, pos, "cut to end at offset %d, the log ends at %d", next, s.next)
		}
	}
	l.mu.Lock()
	l.bytes = 0
	for _, s := range l.segs {
		l.bytes += s.size
	}
	l.mu.Unlock()
	return nil
}
