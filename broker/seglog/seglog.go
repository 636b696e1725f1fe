// Package seglog stores one Kafka partition's log on disk as a directory of
// segments, the way Kafka's log layer does: each segment is a file of record
// batches (magic 2) exactly as they are served to consumers, with a sparse
// offset index, a time index and an index of the leader's append times beside
// it.
//
// It is built to sit under raftline's state machine in place of the in-memory
// partlog: the Raft log stays the only write-ahead log, so Append never
// fsyncs; Sync makes everything appended durable when a snapshot is taken,
// and TruncateTo drops the unsynced tail on restart before the Raft log is
// replayed over it. Every decision that changes the files (rolling a segment,
// deleting segments, moving the start offset) depends only on what the caller
// passes in, never on the local clock, so replicas fed the same entries hold
// identical files.
//
// One writer (the state machine) and any number of concurrent readers. Reads
// go through the page cache with positioned reads; the heap holds a few
// hundred bytes per segment and no record bytes.
//
// See DESIGN.md.
package seglog

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// Defaults for Options' zero values.
const (
	// DefaultSegmentBytes is an eighth of raftline's default retention.bytes
	// (1 GiB per partition): retention deletes whole segments, so it keeps up
	// to one segment more than asked; a restart re-reads at most one segment;
	// and a partition holds a handful of files, not hundreds.
	DefaultSegmentBytes = 128 << 20
	// DefaultSegmentMs is Kafka's segment.ms: a quiet partition still rolls
	// weekly, so time-based retention can delete its old batches.
	DefaultSegmentMs = 7 * 24 * 60 * 60 * 1000
	// DefaultIndexIntervalBytes is Kafka's index.interval.bytes.
	DefaultIndexIntervalBytes = 4096
)

// Options shape a log. SegmentBytes and SegmentMs decide where segments roll,
// so every replica of a partition must use the same values; the index
// interval only changes the index files, which are local.
type Options struct {
	// SegmentBytes rolls a new segment before an append that would take the
	// active one past this size. A batch larger than it gets a segment of its
	// own. At most math.MaxInt32, so file positions fit the index's 32 bits.
	SegmentBytes int64
	// SegmentMs rolls a new segment before an append whose append time is
	// more than this after the active segment's first batch's.
	SegmentMs int64
	// IndexIntervalBytes is the number of log bytes between offset index
	// entries; 0 indexes every batch.
	IndexIntervalBytes int64
	// OnSync, when set, is told how long each sync took: the fsyncs of the
	// files written since the last one, of the directory and of the
	// checkpoint (Sync, Manifest, TruncateTo, Close). It runs on the
	// syncing goroutine, so it must be cheap. Local: replicas may differ.
	OnSync func(time.Duration)
}

func (o Options) withDefaults() (Options, error) {
	if o.SegmentBytes < 0 || o.SegmentBytes > math.MaxInt32 {
		return o, fmt.Errorf("seglog: SegmentBytes %d outside 0..%d", o.SegmentBytes, math.MaxInt32)
	}
	if o.SegmentMs < 0 {
		return o, fmt.Errorf("seglog: SegmentMs %d is negative", o.SegmentMs)
	}
	if o.IndexIntervalBytes < 0 {
		return o, fmt.Errorf("seglog: IndexIntervalBytes %d is negative", o.IndexIntervalBytes)
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	if o.SegmentMs == 0 {
		o.SegmentMs = DefaultSegmentMs
	}
	if o.IndexIntervalBytes == 0 {
		o.IndexIntervalBytes = DefaultIndexIntervalBytes
	}
	return o, nil
}

// noTimestamp marks a segment without batches, below any real timestamp.
const noTimestamp = math.MinInt64

// segment is one segment's files and what the log knows about them.
type segment struct {
	base int64
	// Open for the segment's life; closed only under the log's ioMu.
	log, index, timeIndex, appendTime *file

	// Published: written by the writer under Log.mu, read under it.
	next         int64  // offset after the last batch; base when empty
	size         int64  // bytes of whole batches in the log file
	indexEntries int64  // entries in the offset index
	timeEntries  int64  // entries in the time index
	lastIndexRel uint32 // the last offset index entry, when indexEntries > 0
	lastIndexPos int64  // its position; 0 when there is none
	indexBytes   int64  // length of the three index files together
	maxTs        int64  // largest batch max timestamp; noTimestamp when empty
	maxTsOffset  int64  // base offset of the first batch holding maxTs
	firstAppend  int64  // append time of the first batch
	maxAppend    int64  // largest append time; noTimestamp when empty

	// Writer only.
	lastTimeT int64 // timestamp of the last time index entry; noTimestamp when none
	dirty     bool  // written since the last sync
}

func (s *segment) files() []*file { return []*file{s.log, s.index, s.timeIndex, s.appendTime} }

func (s *segment) info() SegmentInfo {
	return SegmentInfo{Base: s.base, Next: s.next, Bytes: s.size, MaxTimestamp: s.maxTs, MaxAppendTimeMs: s.maxAppend, FirstAppendTimeMs: s.firstAppend}
}

// SegmentInfo describes one segment to a retention decision.
type SegmentInfo struct {
	Base              int64 // first offset
	Next              int64 // offset after its last batch
	Bytes             int64 // size of its log file
	MaxTimestamp      int64 // largest batch max timestamp (math.MinInt64 when empty)
	FirstAppendTimeMs int64 // append time of its first batch (math.MinInt64 when empty)
	MaxAppendTimeMs   int64 // largest append time of its batches (math.MinInt64 when empty)
}

// Log is one partition's log on disk: safe for one writer and many readers.
type Log struct {
	dir  string
	opts Options

	// Lock order: wmu, then ioMu, then mu.
	wmu  sync.Mutex   // one writer at a time, whatever the caller does
	ioMu sync.RWMutex // held shared while reading files; exclusively to truncate, delete or close them
	mu   sync.RWMutex // guards what readers see: the fields below and segments' published fields

	segs   []*segment // offset order, never empty; replaced on change, never edited in place
	start  int64      // log start offset
	next   int64      // high watermark: the offset of the next record appended
	bytes  int64      // sum of the segments' sizes
	failed error      // the write error that failed the log
	closed bool

	dirDirty bool // writer only: files created or removed since the last sync
	// syncSeq numbers the states a checkpoint may describe (each sync
	// and each Capture); ckSeq is the one the checkpoint on disk
	// describes, so a capture's late checkpoint never replaces a newer
	// one. Writer only.
	syncSeq, ckSeq uint64
	entry          [timeEntrySize]byte // writer only: scratch for an index entry, so an append allocates nothing
}

// Offsets reports the log start offset and the high watermark.
func (l *Log) Offsets() (start, next int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start, l.next
}

// Size is the bytes held in segment files, batches below the start offset
// in the first segment included: what retention.bytes is measured against.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.bytes
}

// Segments describes the segments held, oldest first.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = s.info()
	}
	return out
}

// Err returns the error that failed the log, or nil while it is healthy.
func (l *Log) Err() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.failed
}

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// writable returns the error every write must fail with, if any. Called by
// the writer.
func (l *Log) writable() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	return l.failed
}

// fail records a write error as the log's failure and returns it. Errors that
// are not about a file (a bad argument, a checksum mismatch) are returned
// unchanged without failing the log.
func (l *Log) fail(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*Error); !ok {
		return err
	}
	l.mu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	err = l.failed
	l.mu.Unlock()
	return err
}

// active is the segment appends go to. Called by the writer or under mu.
func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// closeFiles closes every segment's files, keeping the first error.
func closeFiles(segs []*segment) error {
	var first error
	for _, s := range segs {
		for _, f := range s.files() {
			if f == nil {
				continue
			}
			if err := f.close(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Close syncs the log (unless it failed) and closes its files. Later calls
// return ErrClosed.
func (l *Log) Close() error {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.mu.RLock()
	closed, failed := l.closed, l.failed
	l.mu.RUnlock()
	if closed {
		return nil
	}
	var err error
	if failed == nil {
		err = l.sync()
	}
	l.ioMu.Lock()
	l.mu.Lock()
	l.closed = true
	if cerr := closeFiles(l.segs); err == nil {
		err = cerr
	}
	l.mu.Unlock()
	l.ioMu.Unlock()
	return err
}
