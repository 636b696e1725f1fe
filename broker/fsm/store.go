package fsm

import (
	"errors"
	"fmt"
	"io"

	"github.com/raftline/raftline/broker/seglog"
)

// PartitionLog is one partition's records as the state machine keeps them:
// the seam between the replicated state and the store under it (memory.go:
// partlog, in memory; disk.go: seglog, on disk). Its reads have the shape
// broker/cluster.Partition gives the Kafka layer, plus the errors a store
// can meet; its writes are unexported, because only an applied entry may
// change a partition, and every replica must change it the same way.
//
// One writer, the state machine's apply; any number of concurrent readers.
type PartitionLog interface {
	// Offsets are the log start offset and the high watermark.
	Offsets() (start, next int64)
	// Size is the bytes held, what retention.bytes is measured against.
	Size() int64
	// AppendBatches appends to dst the batches from the one holding offset
	// on, as served to clients (base offsets written in), and returns the
	// extended slice. It stops before the batch that would take what it
	// appends past maxBytes, but the first batch is appended whole whatever
	// its size, so a consumer always makes progress. On an error dst is
	// returned as it came.
	AppendBatches(dst []byte, offset int64, maxBytes int) ([]byte, error)
	// OffsetForTimestamp finds the first batch holding offsets at or
	// after the log start offset whose max timestamp is at least ts, and
	// returns its base offset (the start offset, when the batch holds it)
	// and its max timestamp; ok is false when no batch is that late. The
	// record the timestamp names is in that batch or a later one: the
	// caller reads them to find it.
	OffsetForTimestamp(ts int64) (offset, maxTimestamp int64, ok bool, err error)
	// MaxTimestamp is the largest batch max timestamp at or after the log
	// start offset (ListOffsets' MAX_TIMESTAMP); ok is false for a log
	// without batches. OffsetForTimestamp(ts) then finds its record.
	MaxTimestamp() (ts int64, ok bool, err error)
	// Digest summarises the log; equal digests mean byte-identical logs.
	Digest() (Digest, error)

	// append stores one batch of n records, exactly as the producer sent
	// it (data is the Raft entry's and is not modified), and returns its
	// base offset. appendTimeMs is the entry's time.
	append(data []byte, n, maxTimestamp, appendTimeMs int64) (int64, error)
	// retain applies retention.ms and retention.bytes (-1: none) as of
	// nowMs, the retention entry's time.
	retain(nowMs, retentionMs, retentionBytes int64) error
	// setStart moves the log start offset up to offset (DeleteRecords),
	// which the caller has checked is at most the high watermark; at or
	// below the current start it changes nothing. Reads below the new
	// start are out of range.
	setStart(offset int64) error
	// setRolling changes where the log's next segments roll (the topic's
	// segment.bytes and segment.ms altered); a store without segments
	// ignores it.
	setRolling(o seglog.Options) error
	// close releases the log at shutdown; remove deletes it with its
	// topic. Neither is an entry's doing on its own.
	close() error
	remove() error
}

// frozenLog is a partition's log as of one snapshot, written out while the
// state machine goes on applying entries: frozenBatches in memory, whose
// batches the snapshot carries, or frozenSegments on disk, whose files it
// lists.
type frozenLog interface {
	// offsets are the log start offset and high watermark when frozen.
	offsets() (start, next int64)
	// count is the number of batches and their bytes.
	count() (batches int, bytes int64, err error)
	// each calls fn with every batch, oldest first. The batch's Data is
	// valid only during the call.
	each(fn func(b snapBatch) error) error
	// release lets go of what the capture holds.
	release()
}

// snapBatch is one batch as a snapshot carries it.
type snapBatch struct {
	BaseOffset, LastOffset, MaxTimestamp, AppendTimeMs int64
	Data                                               []byte
}

// Digest summarises one partition's replica: its offsets, the bytes it
// holds and a SHA-256 over every batch as served (base offset written in),
// in order. Replicas with equal digests hold byte-identical logs.
type Digest struct {
	Start, Next, Bytes int64
	SHA256             string
}

// Storage says where a State keeps its partitions' records.
type Storage string

const (
	// Memory keeps every partition in memory (partlog): bounded by
	// retention.bytes, rebuilt at each start from the last snapshot and
	// the Raft log after it.
	Memory Storage = "memory"
	// Disk keeps each partition in a segmented log on disk (seglog), in
	// <Options.Dir>/<topic>/<partition>.
	Disk Storage = "disk"
)

// ParseStorage reads a storage name: memory or disk.
func ParseStorage(s string) (Storage, error) {
	switch st := Storage(s); st {
	case Memory, Disk:
		return st, nil
	}
	return "", fmt.Errorf("storage %q is not memory or disk", s)
}

// Options configure where a State keeps its partitions.
type Options struct {
	// Storage is Memory (the default, when empty) or Disk.
	Storage Storage
	// Dir holds the partitions' directories with Disk.
	Dir string
	// Segments shape the partitions' logs with Disk, for topics that set
	// no segment.bytes or segment.ms (Topic.SegmentOptions). SegmentBytes
	// and SegmentMs decide where segments roll, so every replica must use
	// the same values; zero values are seglog's defaults, which
	// raftline's nodes use.
	Segments seglog.Options
}

// ErrStorage marks a failure of the disk under a partition (the seglog
// error it wraps names the operation and the file). It fails the State:
// every later entry is refused with it, and the node must stop, because a
// replica that went on would lack records the others hold.
var ErrStorage = errors.New("partition storage failed")

// store creates and removes partitions' logs: memoryStore or diskStore.
type store interface {
	// create makes an empty log for one of t's partitions, shaped by t's
	// configs (segment.bytes and segment.ms on disk).
	create(t *Topic, partition int) (PartitionLog, error)
	// drop removes a deleted topic's logs.
	drop(t *Topic) error
	// reshape has t's logs roll segments by t's configs, after they
	// changed (segment.bytes, segment.ms).
	reshape(t *Topic) error
	// restoring starts building a snapshot's partitions apart from the
	// live ones, from the batches a snapshot of format 1 carries.
	restoring() (restoration, error)
	// freezing starts capturing the partitions for a snapshot.
	freezing() (freezer, error)
	// restoreFiles makes the partitions those a snapshot of format 2
	// lists by their files (see diskStore.restoreFiles).
	restoreFiles(live map[string]*Topic, topics []snapTopic, open OpenFile) (map[string]*Topic, error)
}

// freezer captures partitions for one snapshot; release lets go of what
// it holds once the snapshot is written (or abandoned).
type freezer interface {
	freeze(topic string, partition int, log PartitionLog) (frozenLog, error)
	release()
}

// OpenFile opens a file a snapshot holds by the name it gave it
// (SnapshotFile.Name). The reader ends at the length the snapshot recorded.
type OpenFile func(name string) (io.ReadCloser, error)

// SnapshotFile is a file a snapshot of disk partitions holds without
// copying it: a segment's log or append-time index, as its manifest lists
// it. Path is where it is pinned (hard-linked) until the snapshot is
// released; Name is how the snapshot names it, <topic>/<partition>/<file>.
type SnapshotFile struct {
	Name, Path string
	Length     int64
	CRC32C     uint32
}

// restoration is a snapshot's partitions being built. Exactly one of commit
// and abort ends it.
type restoration interface {
	// partition starts the log of one of t's partitions the snapshot
	// holds; t has its name and configs.
	partition(t *Topic, partition int, start, next int64) (partitionBuilder, error)
	// commit makes the restored topics' logs the live ones, in place of
	// every log of live, which the caller then forgets.
	commit(live, restored map[string]*Topic) error
	abort()
}

// partitionBuilder rebuilds one partition from a snapshot's batches.
type partitionBuilder interface {
	// buffer returns size bytes to read the next batch into.
	buffer(size int) []byte
	// add appends the next batch; an error is ErrBadSnapshot's or
	// ErrStorage's.
	add(b snapBatch) error
	finish() (PartitionLog, error)
}
