// Package cluster is the contract between the Kafka protocol (broker/kafka)
// and the replicated state: the types the protocol reads and writes through,
// the errors a write can end in and their one mapping to Kafka error codes,
// and the topic rules the protocol checks before it asks for a change.
//
// It is a leaf: it imports the standard library, kerr and topicrules, and
// nothing of Raft, the state machine or the partition logs, so the protocol
// compiles and is tested without them. The implementation over one Raft
// group is broker/cluster/raftcluster; broker/cluster/clusterfake is the
// same implementation with Raft taken out, for tests. The operations themselves are
// declared by their consumer (kafka.Cluster).
//
// See DESIGN.md.
package cluster

import "github.com/raftline/raftline/broker/topicrules"

// Broker is a registered broker's addresses.
type Broker struct {
	ID        int32
	KafkaAddr string
	// ExternalKafkaAddr is the address for clients outside the nodes' own
	// network (empty without an external listener).
	ExternalKafkaAddr string
	HTTPAddr          string
	RaftAddr          string
}

// Topic is a topic as of one read.
type Topic struct {
	Name       string
	ID         [16]byte
	Partitions int32
	// Configs are the topic's configs as created; shared with the
	// replicated state, so they must not be modified.
	Configs map[string]string
	// MaxMessageBytes is the largest record batch the topic accepts.
	MaxMessageBytes int64
}

// TopicSpec is a topic to create. Configs are complete: defaults are filled
// in by the caller, so every replica stores the same values.
type TopicSpec struct {
	Name       string
	Partitions int32
	Configs    map[string]string
}

// ProduceResult is the outcome of one partition's produce, once applied.
type ProduceResult struct {
	BaseOffset int64 // offset of the first batch, -1 when none was appended
	LogStart   int64 // the partition's log start offset after the append, or -1
	// Err is the partition's outcome as the state machine decided it (a
	// kerr error such as OUT_OF_ORDER_SEQUENCE_NUMBER), or nil.
	Err error
}

// ConfigChange is a change of a topic's configs, applied to them as the
// leader has them: from none when Replace is set (AlterConfigs), else from
// the topic's (IncrementalAlterConfigs); Delete, then Set; then Defaults
// fill the keys left unset, as at the topic's creation.
type ConfigChange struct {
	Topic    string
	Replace  bool
	Delete   []string
	Set      map[string]string
	Defaults map[string]string
}

// Apply returns the configs the change makes of current, which it does not
// modify: what the state machine will store (topicrules.ChangeConfigs).
func (c ConfigChange) Apply(current map[string]string) map[string]string {
	return topicrules.ChangeConfigs(current, c.Replace, c.Delete, c.Set, c.Defaults)
}

// ConfigInfo describes a topic config raftline honours (DescribeConfigs).
type ConfigInfo = topicrules.ConfigInfo

// ConfigType is the type a config is described with.
type ConfigType = topicrules.ConfigType

// The types of configs.
const (
	TypeLong = topicrules.TypeLong
	TypeInt  = topicrules.TypeInt
	TypeList = topicrules.TypeList
)

// TopicConfigs describes the topic configs raftline honours, sorted by
// name; the slice is shared and must not be modified.
func TopicConfigs() []ConfigInfo { return topicrules.TopicConfigs() }

// TopicConfig describes one topic config, if raftline honours it.
func TopicConfig(name string) (ConfigInfo, bool) { return topicrules.TopicConfig(name) }

// RecordsDeletion asks for one partition's log start offset to move up to
// Offset, as Kafka's DeleteRecords does; -1 is the partition's high
// watermark when the deletion is applied.
type RecordsDeletion struct {
	Topic     string
	Partition int32
	Offset    int64
}

// DeletedRecords is one partition's outcome of a DeleteRecords, once
// applied.
type DeletedRecords struct {
	// LowWatermark is the partition's log start offset after it, or -1
	// when Err is set.
	LowWatermark int64
	// Err is the partition's outcome as the state machine decided it (a
	// kerr error: OFFSET_OUT_OF_RANGE, UNKNOWN_TOPIC_OR_PARTITION), or
	// nil.
	Err error
}

// Proposal is one partition's produce on its way to being replicated.
type Proposal interface {
	// Stored is closed once the write is in this (the leader's) log,
	// which is what acks=1 waits for, or when the proposal ends.
	Stored() <-chan struct{}
	// Done is closed when the write is applied or has failed.
	Done() <-chan struct{}
	// Result is valid after Done is closed. The error is the proposal's
	// fate (ErrNotLeader, ErrShutdown, ErrIndeterminate, ErrStorage); the partition's
	// own outcome is ProduceResult.Err.
	Result() (ProduceResult, error)
}

// Partition reads one partition's log. Safe for concurrent use.
type Partition interface {
	// Offsets are the log start offset and the high watermark.
	Offsets() (start, next int64)
	// AppendBatches appends to dst the batches from the one holding
	// offset on, as served to clients (base offsets written in), and
	// returns the extended slice. It stops before the batch that would
	// take what it appends past maxBytes, but the first batch is appended
	// whole whatever its size, so a consumer always makes progress. dst
	// is grown once, to the size of what is appended. On an error dst is
	// returned as it came, and the error matches kerr.OffsetOutOfRange
	// (retention moved the start past offset since the caller looked),
	// kerr.UnknownTopicOrPartition (the topic was deleted) or ErrStorage.
	AppendBatches(dst []byte, offset int64, maxBytes int) ([]byte, error)
	// OffsetForTimestamp is Kafka's answer to ListOffsets for a
	// timestamp: the offset and timestamp of the first record at or after
	// the log start offset whose timestamp is at least ts; ok is false
	// when no record is that late. Its errors are AppendBatches'.
	OffsetForTimestamp(ts int64) (offset, timestamp int64, ok bool, err error)
	// MaxTimestamp is Kafka's answer to ListOffsets for MAX_TIMESTAMP
	// (-3): the offset and timestamp of the first record at or after the
	// log start offset with the largest timestamp; ok is false for an
	// empty log. Its errors are AppendBatches'.
	MaxTimestamp() (offset, timestamp int64, ok bool, err error)
	// Size is the bytes the partition holds on this node (DescribeLogDirs).
	Size() int64
	// LeaderEpochs are the leader epochs (Raft terms) that wrote to the
	// partition and the first offset each wrote, oldest first; epochs
	// before the first listed are unknown (OffsetForLeaderEpoch).
	LeaderEpochs() []EpochStart
}

// EpochStart is the first offset a leader epoch wrote to a partition.
type EpochStart struct {
	Epoch int32
	Start int64
}

// MaxPartitions bounds a topic's partition count.
const MaxPartitions = topicrules.MaxPartitions

// ValidateTopicName applies Kafka's topic name rules.
func ValidateTopicName(name string) error { return topicrules.ValidateTopicName(name) }

// ValidateConfigs accepts only the topic configs raftline honours.
func ValidateConfigs(configs map[string]string) error { return topicrules.ValidateConfigs(configs) }

// ConsumerGroup is one consumer group as of one read of the replicated
// state: what the group coordinator knows of it, for metrics and tools.
type ConsumerGroup struct {
	Name string
	// State is Kafka's name of the group's state: Empty,
	// PreparingRebalance, CompletingRebalance, Stable or Dead.
	State        string
	ProtocolType string // "consumer" for consumer groups
	Protocol     string // the chosen assignor, "" when none
	Generation   int32
	Members      int
	// Commits counts the offset commits applied since the group was
	// created; it is replicated, so every node reports the same count.
	Commits int64
	Offsets []CommittedOffset // sorted by topic, then partition
}

// CommittedOffset is a group's committed offset for one partition.
type CommittedOffset struct {
	Topic        string
	Partition    int32
	Offset       int64
	CommitTimeMs int64
}
