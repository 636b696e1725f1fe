package fsm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/seglog"
	"github.com/raftline/raftline/broker/topicrules"
)

// diskLog keeps a partition on disk (seglog) in <Options.Dir>/<topic>/<partition>.
// Topic names are safe path components: the FSM applies no topic whose name
// fails topicrules (ASCII letters, digits, '.', '_', '-', never "." or "..",
// at most 249 characters), and Restore checks the names a snapshot carries.
//
// Files are written to the page cache and never fsynced on the write path:
// the Raft log stays the only write-ahead log. A snapshot syncs them and
// lists them (disk_snapshot.go); at start-up the files a snapshot lists are
// kept, cut back to the snapshot's offsets, and the Raft log after it is
// applied again, so nothing is applied twice.
type diskLog struct{ l *seglog.Log }

var _ PartitionLog = diskLog{}

func (d diskLog) Offsets() (start, next int64) { return d.l.Offsets() }

func (d diskLog) Size() int64 { return d.l.Size() }

func (d diskLog) AppendBatches(dst []byte, offset int64, maxBytes int) ([]byte, error) {
	return d.l.AppendBatches(dst, offset, maxBytes)
}

func (d diskLog) OffsetForTimestamp(ts int64) (offset, maxTimestamp int64, ok bool, err error) {
	return d.l.OffsetForTimestamp(ts)
}

func (d diskLog) MaxTimestamp() (int64, bool, error) { return d.l.MaxTimestamp() }

func (d diskLog) setRolling(o seglog.Options) error {
	return d.l.SetRolling(o.SegmentBytes, o.SegmentMs)
}

func (d diskLog) Digest() (Digest, error) {
	dg, err := d.l.Digest()
	return Digest(dg), err
}

// append clamps a negative append time (a proposer's clock before 1970,
// which seglog refuses) to 0, the same on every replica.
func (d diskLog) append(data []byte, n, maxTimestamp, appendTimeMs int64) (int64, error) {
	base, err := d.l.Append(data, n, maxTimestamp, max(appendTimeMs, 0))
	if errors.Is(err, seglog.ErrBadBatch) {
		// The leader checked the batch before proposing; every replica
		// refuses the same bytes the same way.
		return -1, kerr.CorruptMessage
	}
	return base, storageErr(err)
}

// retain deletes whole segments from the front, by Kafka's rules: a segment
// whose newest batch was appended before nowMs-retentionMs, and a segment
// without which the log still holds at least retentionBytes. So the log
// keeps at least retention.bytes and up to one segment more.
func (d diskLog) retain(nowMs, retentionMs, retentionBytes int64) error {
	_, err := d.l.Retain(func(s seglog.SegmentInfo, size int64) bool {
		if retentionMs >= 0 && s.MaxAppendTimeMs < nowMs-retentionMs {
			return false
		}
		if retentionBytes >= 0 && size-s.Bytes >= retentionBytes {
			return false
		}
		return true
	})
	return storageErr(err)
}

// setStart moves the start inside the log (seglog.SetStart): the segments
// wholly below offset are deleted, the one holding it is kept whole.
func (d diskLog) setStart(offset int64) error {
	err := d.l.SetStart(offset)
	if errors.Is(err, seglog.ErrOffsetOutOfRange) {
		return kerr.OffsetOutOfRange
	}
	return storageErr(err)
}

func (d diskLog) close() error  { return storageErr(d.l.Close()) }
func (d diskLog) remove() error { return storageErr(d.l.Remove()) }

// storageErr marks an error of the disk under a partition with ErrStorage.
func storageErr(err error) error {
	if err == nil || errors.Is(err, ErrStorage) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrStorage, err)
}

// diskStore creates, removes and rebuilds partitions in dir.
type diskStore struct {
	dir  string
	opts seglog.Options
}

func (d diskStore) topicDir(root, topic string) string { return filepath.Join(root, topic) }

func (d diskStore) partitionDir(root, topic string, partition int) string {
	return filepath.Join(root, topic, strconv.Itoa(partition))
}

// prepare creates the directory, keeping the partitions in it for the
// snapshot restore to judge (restoreFiles), and removes what a stop left
// of snapshots being taken or restored.
func (d diskStore) prepare() error {
	for _, p := range []string{d.pinDir(), d.stagingDir()} {
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("%w: remove %s: %w", ErrStorage, p, err)
		}
	}
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return fmt.Errorf("%w: create %s: %w", ErrStorage, d.dir, err)
	}
	return nil
}

// stagingDir is where Restore builds the partitions of a snapshot before
// they replace the live ones.
func (d diskStore) stagingDir() string { return d.dir + ".restore" }

func (d diskStore) create(t *Topic, partition int) (PartitionLog, error) {
	l, err := seglog.Create(d.partitionDir(d.dir, t.Name, partition), 0, t.SegmentOptions(d.opts))
	if err != nil {
		return nil, storageErr(err)
	}
	return diskLog{l}, nil
}

// drop removes a deleted topic's partitions and its directory.
func (d diskStore) drop(t *Topic) error {
	var errs []error
	for _, p := range t.Partitions {
		errs = append(errs, p.remove())
	}
	if err := os.RemoveAll(d.topicDir(d.dir, t.Name)); err != nil {
		errs = append(errs, fmt.Errorf("%w: remove %s: %w", ErrStorage, d.topicDir(d.dir, t.Name), err))
	}
	return errors.Join(errs...)
}

// reshape applies t's segment.bytes and segment.ms to its partitions'
// next rolls.
func (d diskStore) reshape(t *Topic) error {
	o := t.SegmentOptions(d.opts)
	for _, p := range t.Partitions {
		if err := p.setRolling(o); err != nil {
			return storageErr(err)
		}
	}
	return nil
}

// restoring builds the snapshot's partitions in the staging directory, so
// that a snapshot found bad half-way leaves the live partitions as they were.
func (d diskStore) restoring() (restoration, error) {
	staging := d.stagingDir()
	if err := os.RemoveAll(staging); err != nil {
		return nil, fmt.Errorf("%w: remove %s: %w", ErrStorage, staging, err)
	}
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrStorage, staging, err)
	}
	return &diskRestoration{store: d, dirs: map[string]bool{}}, nil
}

type diskRestoration struct {
	store  diskStore
	staged []*diskBuilder
	dirs   map[string]bool // staged directories
}

func (r *diskRestoration) partition(t *Topic, partition int, start, next int64) (partitionBuilder, error) {
	topic := t.Name
	if err := topicrules.ValidateTopicName(topic); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	dir := r.store.partitionDir(r.store.stagingDir(), topic, partition)
	if r.dirs[dir] {
		return nil, fmt.Errorf("%w: topic %q listed twice", ErrBadSnapshot, topic)
	}
	r.dirs[dir] = true
	b := &diskBuilder{r: r, topic: topic, partition: partition, start: start, next: next, dir: dir, opts: t.SegmentOptions(r.store.opts)}
	r.staged = append(r.staged, b)
	return b, nil
}

// commit closes the staged logs (a sync each, so that Open trusts their
// files), deletes the live partitions, moves the staging directory in their
// place and opens the restored logs there.
func (r *diskRestoration) commit(live, restored map[string]*Topic) error {
	var errs []error
	for _, b := range r.staged {
		if b.log != nil {
			errs = append(errs, storageErr(b.log.Close()))
		}
	}
	for _, t := range live {
		for _, p := range t.Partitions {
			errs = append(errs, p.remove())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	dir, staging := r.store.dir, r.store.stagingDir()
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("%w: remove %s: %w", ErrStorage, dir, err)
	}
	if err := os.Rename(staging, dir); err != nil {
		return fmt.Errorf("%w: rename %s: %w", ErrStorage, staging, err)
	}
	for _, t := range restored {
		for i := range t.Partitions {
			l, err := seglog.Open(r.store.partitionDir(dir, t.Name, i), t.SegmentOptions(r.store.opts))
			if err != nil {
				return storageErr(err)
			}
			t.Partitions[i] = diskLog{l}
		}
	}
	return nil
}

func (r *diskRestoration) abort() {
	for _, b := range r.staged {
		if b.log != nil {
			b.log.Remove()
		}
	}
	os.RemoveAll(r.store.stagingDir())
}

// diskBuilder appends a snapshot's batches to a log in the staging
// directory, created at the first batch's base offset; it checks that they
// continue each other and end at the snapshot's next offset.
type diskBuilder struct {
	r           *diskRestoration
	topic       string
	partition   int
	start, next int64
	dir         string
	opts        seglog.Options // the topic's
	log         *seglog.Log
	buf         []byte
	first       int64 // the log's first offset, once created
}

func (b *diskBuilder) buffer(size int) []byte {
	if cap(b.buf) < size {
		b.buf = make([]byte, size)
	}
	return b.buf[:size]
}

func (b *diskBuilder) add(sb snapBatch) error {
	if b.log == nil {
		if sb.BaseOffset < 0 {
			return fmt.Errorf("%w: %s/%d: batch at offset %d", ErrBadSnapshot, b.topic, b.partition, sb.BaseOffset)
		}
		l, err := seglog.Create(b.dir, sb.BaseOffset, b.opts)
		if err != nil {
			return storageErr(err)
		}
		b.log, b.first = l, sb.BaseOffset
	}
	base, err := b.log.Append(sb.Data, sb.LastOffset-sb.BaseOffset+1, sb.MaxTimestamp, max(sb.AppendTimeMs, 0))
	switch {
	case errors.Is(err, seglog.ErrBadBatch):
		return fmt.Errorf("%w: %s/%d: batch at offset %d: %v", ErrBadSnapshot, b.topic, b.partition, sb.BaseOffset, err)
	case err != nil:
		return storageErr(err)
	case base != sb.BaseOffset:
		return fmt.Errorf("%w: %s/%d: batch at offset %d follows the batches before offset %d", ErrBadSnapshot, b.topic, b.partition, sb.BaseOffset, base)
	}
	return nil
}

func (b *diskBuilder) finish() (PartitionLog, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s/%d: %s", ErrBadSnapshot, b.topic, b.partition, fmt.Sprintf(format, args...))
	}
	if b.log == nil {
		if b.start != b.next || b.next < 0 {
			return nil, bad("no batches between offsets %d and %d", b.start, b.next)
		}
		l, err := seglog.Create(b.dir, b.next, b.opts)
		if err != nil {
			return nil, storageErr(err)
		}
		b.log, b.first = l, b.next
	}
	if _, next := b.log.Offsets(); next != b.next || b.start < b.first || b.start > b.next {
		return nil, bad("batches from offset %d to %d, the snapshot says %d to %d", b.first, next, b.start, b.next)
	}
	if err := b.log.SetStart(b.start); err != nil {
		return nil, storageErr(err)
	}
	return diskLog{b.log}, nil
}
