// Package partlog holds one Kafka partition's log: an ordered run of record
// batches, each already given its offsets by the FSM.
//
// The log lives in memory. It is not a second write-ahead log: the Raft log is
// the only durable copy of a write, and a restarted node rebuilds every
// partition log from the last snapshot plus the Raft entries after it. Batches
// are immutable once appended, so a snapshot can share them with the live log
// instead of copying bytes.
package partlog

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"sort"
	"sync"
)

// Batch is one Kafka record batch (magic 2) with its offsets assigned.
type Batch struct {
	BaseOffset   int64
	LastOffset   int64
	MaxTimestamp int64 // milliseconds, as carried in the batch header
	AppendTimeMs int64 // leader's clock when the batch was proposed; drives retention.ms
	Data         []byte
}

// AppendTo appends the batch as served to clients: its bytes with the base
// offset written in (outside the CRC, so the batch stays valid).
func (b Batch) AppendTo(dst []byte) []byte {
	start := len(dst)
	dst = append(dst, b.Data...)
	if len(b.Data) >= 8 {
		binary.BigEndian.PutUint64(dst[start:], uint64(b.BaseOffset))
	}
	return dst
}

// Records is the number of offsets the batch spans.
func (b Batch) Records() int64 { return b.LastOffset - b.BaseOffset + 1 }

// Log is one partition's batches. It is safe for one writer (the FSM) and many
// readers (Fetch, ListOffsets).
type Log struct {
	mu      sync.RWMutex
	batches []Batch
	start   int64 // log start offset: the first offset still held
	next    int64 // high watermark: the offset the next record gets
	bytes   int64
}

// New returns an empty log whose first record will get offset start.
func New(start int64) *Log {
	return &Log{start: start, next: start}
}

// Append adds a batch holding n records, assigns it offsets and returns the
// base offset. data must not be modified afterwards by the caller.
func (l *Log) Append(data []byte, n int64, maxTimestamp, appendTimeMs int64) Batch {
	l.mu.Lock()
	b := Batch{BaseOffset: l.next, LastOffset: l.next + n - 1, MaxTimestamp: maxTimestamp, AppendTimeMs: appendTimeMs, Data: data}
	l.batches = append(l.batches, b)
	l.next += n
	l.bytes += int64(len(data))
	l.mu.Unlock()
	return b
}

// Offsets reports the log start offset and the high watermark.
func (l *Log) Offsets() (start, next int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start, l.next
}

// Size is the total size of the batches held, in bytes.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.bytes
}

// Read returns the batches from the one holding offset on, stopping once
// maxBytes is reached; the first batch is returned whole even when it alone
// exceeds maxBytes, as Kafka does, so a consumer always makes progress.
// Below the log start offset nothing is returned (Kafka answers
// OFFSET_OUT_OF_RANGE), even from a batch SetStart kept because it holds
// the start offset.
func (l *Log) Read(offset int64, maxBytes int) []Batch {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if offset < l.start {
		return nil
	}
	i := l.find(offset)
	var out []Batch
	size := 0
	for ; i < len(l.batches); i++ {
		b := l.batches[i]
		if len(out) > 0 && size+len(b.Data) > maxBytes {
			break
		}
		out = append(out, b)
		size += len(b.Data)
	}
	return out
}

// AppendBatches appends to dst the batches Read would return, as served to
// clients (base offsets written in), and returns the extended slice; dst is
// grown once, to the size of what is appended. The batches are picked under
// the read lock and copied after it, so a large read does not hold up the
// writer: the elements picked are never written again (Append only writes
// past the end of the slice, Trim builds a new one).
func (l *Log) AppendBatches(dst []byte, offset int64, maxBytes int) []byte {
	l.mu.RLock()
	if offset < l.start {
		l.mu.RUnlock()
		return dst
	}
	i := l.find(offset)
	end, size := i, 0
	for ; end < len(l.batches); end++ {
		n := len(l.batches[end].Data)
		if end > i && size+n > maxBytes {
			break
		}
		size += n
	}
	picked := l.batches[i:end]
	l.mu.RUnlock()
	dst = slices.Grow(dst, size)
	for _, b := range picked {
		dst = b.AppendTo(dst)
	}
	return dst
}

// find returns the index of the batch holding offset, or len when none does.
func (l *Log) find(offset int64) int {
	return sort.Search(len(l.batches), func(i int) bool { return l.batches[i].LastOffset >= offset })
}

// OffsetForTimestamp returns the first batch holding offsets at or after the
// log start offset whose max timestamp is at least ts, and false when no
// batch is that late. The batch may begin below the start offset (SetStart
// keeps the batch holding it): the caller answers no offset below it.
func (l *Log) OffsetForTimestamp(ts int64) (Batch, bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, b := range l.batches {
		if b.LastOffset >= l.start && b.MaxTimestamp >= ts {
			return b, true
		}
	}
	return Batch{}, false
}

// Trim drops whole batches from the front while keep returns false for them,
// and reports how many batches were dropped. The log start offset moves up to
// the first batch kept (or the high watermark when none is), never below
// where SetStart put it.
func (l *Log) Trim(keep func(b Batch, sizeAfter int64) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	size := l.bytes
	for n < len(l.batches) {
		b := l.batches[n]
		if keep(b, size) {
			break
		}
		size -= int64(len(b.Data))
		n++
	}
	if n == 0 {
		return 0
	}
	l.drop(n, size)
	return n
}

// SetStart moves the log start offset up to offset, as Kafka's
// DeleteRecords does, and reports whether it moved. Batches wholly below it
// are dropped; the batch holding it is kept whole, as Kafka keeps the
// segment holding it, but nothing below the start is served from it. An
// offset at or below the current start changes nothing; the caller checks
// that offset is at most the high watermark (it is clamped to it).
func (l *Log) SetStart(offset int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	offset = min(offset, l.next)
	if offset <= l.start {
		return false
	}
	n := sort.Search(len(l.batches), func(i int) bool { return l.batches[i].LastOffset >= offset })
	size := l.bytes
	for _, b := range l.batches[:n] {
		size -= int64(len(b.Data))
	}
	l.start = offset
	l.drop(n, size)
	return true
}

// drop removes the first n batches, leaving size bytes. The start offset
// moves up to the first batch kept, or to the high watermark when none is,
// and never down: a batch SetStart kept begins below it. Called with mu
// held for writing.
func (l *Log) drop(n int, size int64) {
	if n > 0 {
		l.batches = append([]Batch(nil), l.batches[n:]...)
	}
	l.bytes = size
	if len(l.batches) > 0 {
		l.start = max(l.start, l.batches[0].BaseOffset)
	} else {
		l.start = l.next
	}
}

// Digest summarises the log: offsets, size and a SHA-256 over every batch's
// bytes as served (base offset written in), in order. Replicas with equal digests hold byte-identical logs.
type Digest struct {
	Start, Next, Bytes int64
	SHA256             string
}

// Digest computes the log's digest.
func (l *Log) Digest() Digest {
	start, next, batches := l.Snapshot()
	h := sha256.New()
	var n int64
	var buf []byte
	for _, b := range batches {
		buf = b.AppendTo(buf[:0])
		h.Write(buf)
		n += int64(len(b.Data))
	}
	return Digest{Start: start, Next: next, Bytes: n, SHA256: hex.EncodeToString(h.Sum(nil))}
}

// Snapshot returns the log's state at this instant. The batches share their
// bytes with the live log, which never modifies them.
func (l *Log) Snapshot() (start, next int64, batches []Batch) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.start, l.next, append([]Batch(nil), l.batches...)
}

// Restore builds a log from a snapshot's state.
func Restore(start, next int64, batches []Batch) *Log {
	l := New(start)
	l.next = next
	l.batches = batches
	for _, b := range batches {
		l.bytes += int64(len(b.Data))
	}
	return l
}

// MaxTimestamp is the largest max timestamp of the batches holding offsets
// at or after the log start offset, for ListOffsets' MAX_TIMESTAMP; ok is
// false when there are none. It reads every batch header in memory.
func (l *Log) MaxTimestamp() (ts int64, ok bool) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, b := range l.batches {
		if b.LastOffset >= l.start && (!ok || b.MaxTimestamp > ts) {
			ts, ok = b.MaxTimestamp, true
		}
	}
	if !ok {
		return -1, false
	}
	return ts, true
}
