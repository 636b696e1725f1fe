package fsm

// PartitionLog is one partition's records as the state machine keeps them:
// the seam between the replicated state and the store under it (memory.go:
// partlog, in memory). Its reads have the shape broker/cluster.Partition
// gives the Kafka layer, plus the errors a store can meet; its writes are
// unexported, because only an applied entry may change a partition, and
// every replica must change it the same way.
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
	// OffsetForTimestamp finds the first batch whose max timestamp is at
	// least ts and returns its base offset and max timestamp; ok is false
	// when no batch is that late.
	OffsetForTimestamp(ts int64) (offset, maxTimestamp int64, ok bool, err error)
	// Digest summarises the log; equal digests mean byte-identical logs.
	Digest() (Digest, error)

	// append stores one batch of n records, exactly as the producer sent
	// it (data is the Raft entry's and is not modified), and returns its
	// base offset. appendTimeMs is the entry's time.
	append(data []byte, n, maxTimestamp, appendTimeMs int64) (int64, error)
	// retain applies retention.ms and retention.bytes (-1: none) as of
	// nowMs, the retention entry's time.
	retain(nowMs, retentionMs, retentionBytes int64) error
	// freeze captures the log for a snapshot: what it holds now, readable
	// while the log goes on changing.
	freeze() (frozenLog, error)
}

// frozenLog is a partition's log as of one snapshot, written out while the
// state machine goes on applying entries.
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
