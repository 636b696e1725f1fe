package fsm

import (
	"fmt"

	"github.com/raftline/raftline/broker/partlog"
	"github.com/raftline/raftline/broker/seglog"
)

// memoryLog keeps a partition in memory (partlog), rebuilt at every start
// from the last snapshot and the Raft log after it.
type memoryLog struct{ l *partlog.Log }

var _ PartitionLog = memoryLog{}

func newMemoryLog() memoryLog { return memoryLog{partlog.New(0)} }

func (m memoryLog) Offsets() (start, next int64) { return m.l.Offsets() }

func (m memoryLog) Size() int64 { return m.l.Size() }

func (m memoryLog) AppendBatches(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	return m.l.AppendBatches(dst, offset, maxBytes), nil
}

// OffsetForTimestamp answers the start offset for a batch that holds it
// (DeleteRecords moved it inside the batch), as seglog does.
func (m memoryLog) OffsetForTimestamp(ts int64) (offset, maxTimestamp int64, ok bool, err error) {
	b, ok := m.l.OffsetForTimestamp(ts)
	if !ok {
		return -1, -1, false, nil
	}
	start, _ := m.l.Offsets()
	return max(b.BaseOffset, start), b.MaxTimestamp, true, nil
}

func (m memoryLog) MaxTimestamp() (int64, bool, error) {
	ts, ok := m.l.MaxTimestamp()
	return ts, ok, nil
}

func (memoryLog) setRolling(seglog.Options) error { return nil }

func (m memoryLog) Digest() (Digest, error) { return Digest(m.l.Digest()), nil }

// append keeps data itself, not a copy: the entry's bytes are never written
// to, and the offset lives beside them (partlog.Batch).
func (m memoryLog) append(data []byte, n, maxTimestamp, appendTimeMs int64) (int64, error) {
	return m.l.Append(data, n, maxTimestamp, appendTimeMs).BaseOffset, nil
}

// retain drops whole batches from the front: those appended before
// nowMs-retentionMs, and those whose dropping keeps the log at or under
// retentionBytes, so the log never holds more than retention.bytes.
func (m memoryLog) retain(nowMs, retentionMs, retentionBytes int64) error {
	m.l.Trim(func(b partlog.Batch, size int64) bool {
		if retentionMs >= 0 && b.AppendTimeMs < nowMs-retentionMs {
			return false
		}
		if retentionBytes >= 0 && size > retentionBytes {
			return false
		}
		return true
	})
	return nil
}

// setStart drops the batches wholly below offset and keeps the one holding
// it whole; nothing below the start is served from it.
func (m memoryLog) setStart(offset int64) error {
	m.l.SetStart(offset)
	return nil
}

// freeze shares the batches with the live log, which never modifies them:
// it copies slice headers, never record bytes.
func (m memoryLog) freeze() (frozenLog, error) {
	start, next, batches := m.l.Snapshot()
	return frozenBatches{start, next, batches}, nil
}

type frozenBatches struct {
	start, next int64
	batches     []partlog.Batch
}

func (f frozenBatches) offsets() (start, next int64) { return f.start, f.next }

func (f frozenBatches) count() (int, int64, error) {
	var n int64
	for _, b := range f.batches {
		n += int64(len(b.Data))
	}
	return len(f.batches), n, nil
}

func (f frozenBatches) each(fn func(snapBatch) error) error {
	for _, b := range f.batches {
		if err := fn(snapBatch(b)); err != nil {
			return err
		}
	}
	return nil
}

func (f frozenBatches) release() {}

// restoreMemoryLog builds a partition from a snapshot's batches.
func restoreMemoryLog(start, next int64, batches []partlog.Batch) memoryLog {
	return memoryLog{partlog.Restore(start, next, batches)}
}

func (memoryLog) close() error  { return nil }
func (memoryLog) remove() error { return nil }

// memoryStore keeps partitions in memory: a deleted topic's logs go with
// their last reader, and a snapshot's batches become a log as read.
type memoryStore struct{}

func (memoryStore) create(*Topic, int) (PartitionLog, error) { return newMemoryLog(), nil }

func (memoryStore) drop(*Topic) error { return nil }

func (memoryStore) reshape(*Topic) error { return nil }

func (memoryStore) restoring() (restoration, error) { return memoryRestoration{}, nil }

func (memoryStore) freezing() (freezer, error) { return memoryFreezer{}, nil }

// restoreFiles refuses a snapshot of disk partitions: its batches are in
// files this node has no way to read into memory.
func (memoryStore) restoreFiles(map[string]*Topic, []snapTopic, OpenFile) (map[string]*Topic, error) {
	return nil, fmt.Errorf("%w: it was taken by a node that keeps partitions on disk (--storage disk), and this one keeps them in memory: every node of a cluster must use the same --storage", ErrBadSnapshot)
}

type memoryFreezer struct{}

func (memoryFreezer) freeze(_ string, _ int, log PartitionLog) (frozenLog, error) {
	return log.(memoryLog).freeze()
}

func (memoryFreezer) release() {}

type memoryRestoration struct{}

func (memoryRestoration) partition(_ *Topic, _ int, start, next int64) (partitionBuilder, error) {
	return &memoryBuilder{start: start, next: next}, nil
}

func (memoryRestoration) commit(_, _ map[string]*Topic) error { return nil }

func (memoryRestoration) abort() {}

// memoryBuilder keeps the snapshot's batches as they are read, each in its
// own allocation, as the live log will.
type memoryBuilder struct {
	start, next int64
	batches     []partlog.Batch
}

func (b *memoryBuilder) buffer(size int) []byte { return make([]byte, size) }

func (b *memoryBuilder) add(sb snapBatch) error {
	b.batches = append(b.batches, partlog.Batch(sb))
	return nil
}

func (b *memoryBuilder) finish() (PartitionLog, error) {
	return restoreMemoryLog(b.start, b.next, b.batches), nil
}
