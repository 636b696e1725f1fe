package seglog

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/raftline/raftline/broker/recordbatch"
)

// Append writes one record batch holding n records at the end of the log and
// returns the base offset it was given. data is a magic-2 batch as the
// producer sent it; it is not modified (it may be the Raft entry's bytes):
// the file gets a copy with the base offset written in, outside the CRC, so
// the file holds the batch exactly as it is served. maxTimestamp is the
// batch's max timestamp and appendTimeMs the leader's clock in the Raft
// entry, which decides segment.ms rolls and time-based retention, so every
// replica decides the same.
//
// The write goes to the page cache, never fsynced here: the Raft log is the
// write-ahead log, and Sync makes the file durable when a snapshot needs it.
// A file error fails the log (see Error).
func (l *Log) Append(data []byte, n int64, maxTimestamp, appendTimeMs int64) (int64, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if err := l.writable(); err != nil {
		return -1, err
	}
	if err := checkBatch(data, n, maxTimestamp, appendTimeMs); err != nil {
		return -1, err
	}
	s := l.active()
	base := l.next
	last := base + n - 1
	if l.shouldRoll(s, int64(len(data)), last, appendTimeMs) {
		var err error
		if s, err = l.roll(); err != nil {
			return -1, l.fail(err)
		}
	}
	pos := s.log.size
	if err := writeBatch(s.log, data, base); err != nil {
		return -1, l.fail(err)
	}

	maxTs, maxTsOffset := s.maxTs, s.maxTsOffset
	if maxTimestamp > maxTs {
		maxTs, maxTsOffset = maxTimestamp, base
	}
	indexEntries, lastIndexRel, lastIndexPos, timeEntries := s.indexEntries, s.lastIndexRel, s.lastIndexPos, s.timeEntries
	entry := &l.entry
	if pos-lastIndexPos > l.opts.IndexIntervalBytes {
		lastIndexRel, lastIndexPos = uint32(base-s.base), pos
		if err := s.index.append(putIndexEntry(entry[:0], lastIndexRel, uint32(pos))); err != nil {
			return -1, l.fail(err)
		}
		indexEntries++
		if maxTs > s.lastTimeT {
			if err := s.timeIndex.append(putTimeEntry(entry[:0], maxTs, uint32(maxTsOffset-s.base))); err != nil {
				return -1, l.fail(err)
			}
			s.lastTimeT = maxTs
			timeEntries++
		}
	}
	firstAppend, maxAppend := s.firstAppend, s.maxAppend
	if appendTimeMs > maxAppend {
		if err := s.appendTime.append(putTimeEntry(entry[:0], appendTimeMs, uint32(base-s.base))); err != nil {
			return -1, l.fail(err)
		}
		if pos == 0 {
			firstAppend = appendTimeMs
		}
		maxAppend = appendTimeMs
	}

	l.mu.Lock()
	s.next, s.size = last+1, s.log.size
	s.maxTs, s.maxTsOffset = maxTs, maxTsOffset
	s.indexEntries, s.lastIndexRel, s.lastIndexPos, s.timeEntries = indexEntries, lastIndexRel, lastIndexPos, timeEntries
	s.firstAppend, s.maxAppend = firstAppend, maxAppend
	s.indexBytes = s.indexFileBytes()
	s.dirty = true
	l.next = last + 1
	l.bytes += int64(len(data))
	l.mu.Unlock()
	return base, nil
}

// checkBatch refuses bytes that are not one magic-2 batch agreeing with
// what the caller says about it. The CRC is not checked: the leader checked
// it before proposing, and reads check it again.
func checkBatch(data []byte, n, maxTimestamp, appendTimeMs int64) error {
	h, err := recordbatch.ParseHeader(data)
	switch {
	case err != nil:
		return fmt.Errorf("seglog: append: %w: %w", ErrBadBatch, err)
	case h.Length != len(data):
		return fmt.Errorf("seglog: append: %w: %d bytes hold a batch of %d", ErrBadBatch, len(data), h.Length)
	case int64(h.RecordCount) != n:
		return fmt.Errorf("seglog: append: %w: batch holds %d records, %d given", ErrBadBatch, h.RecordCount, n)
	case h.MaxTimestamp != maxTimestamp:
		return fmt.Errorf("seglog: append: %w: batch max timestamp %d, %d given", ErrBadBatch, h.MaxTimestamp, maxTimestamp)
	case appendTimeMs < 0:
		return fmt.Errorf("seglog: append: %w: append time %d is negative", ErrBadBatch, appendTimeMs)
	}
	return nil
}

// shouldRoll reports whether a batch of size bytes ending at offset last,
// appended at appendTimeMs, must start a new segment. An empty segment takes
// any batch, however large.
func (l *Log) shouldRoll(s *segment, size, last, appendTimeMs int64) bool {
	if s.log.size == 0 {
		return false
	}
	return s.log.size+size > l.opts.SegmentBytes ||
		(s.firstAppend != noTimestamp && appendTimeMs-s.firstAppend > l.opts.SegmentMs) ||
		last-s.base > math.MaxInt32
}

// roll seals the active segment and starts an empty one at the high
// watermark. Called by the writer.
func (l *Log) roll() (*segment, error) {
	if err := l.seal(l.active()); err != nil {
		return nil, err
	}
	s, err := l.newSegment(l.next)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.segs = append(slices.Clip(l.segs), s)
	l.mu.Unlock()
	return s, nil
}

// seal writes the segment's largest timestamp as its time index's last
// entry, as Kafka does when a segment stops being active or is flushed, so
// that the last entry is the segment's max timestamp once synced.
func (l *Log) seal(s *segment) error {
	if s.maxTs <= s.lastTimeT {
		return nil
	}
	var entry [timeEntrySize]byte
	if err := s.timeIndex.append(putTimeEntry(entry[:0], s.maxTs, uint32(s.maxTsOffset-s.base))); err != nil {
		return err
	}
	s.lastTimeT = s.maxTs
	l.mu.Lock()
	s.timeEntries++
	s.indexBytes = s.indexFileBytes()
	s.dirty = true
	l.mu.Unlock()
	return nil
}

// batchBufs hold the copy of a batch that gets its base offset written in,
// shared by every log so that none keeps a buffer of its own.
var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, maxPooledBatch); return &b }}

const maxPooledBatch = 64 << 10

// writeBatch appends data to f with base written into its first 8 bytes:
// one write through a pooled copy for batches up to 64 KiB, two writes
// (the offset, then the rest) for larger ones, whose copy would cost more
// than the extra system call.
func writeBatch(f *file, data []byte, base int64) error {
	if len(data) <= maxPooledBatch {
		bp := batchBufs.Get().(*[]byte)
		buf := append((*bp)[:0], data...)
		binary.BigEndian.PutUint64(buf, uint64(base))
		err := f.append(buf)
		*bp = buf[:0]
		batchBufs.Put(bp)
		return err
	}
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(base))
	if err := f.append(head[:]); err != nil {
		return err
	}
	return f.append(data[8:])
}

// SetRolling changes where segments roll from the next append on (a topic's
// segment.bytes and segment.ms altered), as Kafka applies a changed
// segment config to a log's next roll. Segments already written keep their
// size. Zero values are the defaults, as in Options.
func (l *Log) SetRolling(segmentBytes, segmentMs int64) error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	o := l.opts
	o.SegmentBytes, o.SegmentMs = segmentBytes, segmentMs
	o, err := o.withDefaults()
	if err != nil {
		return err
	}
	l.opts.SegmentBytes, l.opts.SegmentMs = o.SegmentBytes, o.SegmentMs
	return nil
}
