package topicrules

import "sort"

// Storage defaults for topics that set no segment.bytes or segment.ms: the
// partition store's own (seglog's DefaultSegmentBytes and DefaultSegmentMs,
// which broker/fsm checks are the same), described to clients as the
// configs' defaults.
const (
	DefaultSegmentBytes  = int64(128 << 20)
	DefaultSegmentMs     = int64(7 * 24 * 3600 * 1000)
	DefaultCleanupPolicy = "delete"
)

// ConfigType is the type a config is described with (Kafka's ConfigType).
type ConfigType int8

const (
	TypeLong ConfigType = iota
	TypeInt
	TypeList
)

// ConfigInfo describes one topic config raftline honours, for
// DescribeConfigs: its default, the broker config Kafka names as its
// synonym (what the default comes from), and what it does here.
type ConfigInfo struct {
	Name       string
	BrokerName string
	Type       ConfigType
	Default    string
	Doc        string
}

var topicConfigs = []ConfigInfo{
	{ConfigCleanupPolicy, "log.cleanup.policy", TypeList, DefaultCleanupPolicy,
		"What happens to old segments: only delete is supported (no compaction)."},
	{ConfigMaxMessageBytes, "message.max.bytes", TypeInt, "1048588",
		"The largest record batch the topic accepts, in bytes."},
	{ConfigRetentionBytes, "log.retention.bytes", TypeLong, "-1",
		"Bytes a partition keeps before whole old segments (batches in memory) are deleted; -1 for no limit."},
	{ConfigRetentionMs, "log.retention.ms", TypeLong, "604800000",
		"Milliseconds a batch is kept after it was appended; -1 for no limit."},
	{ConfigSegmentBytes, "log.segment.bytes", TypeInt, "134217728",
		"Size at which a partition's active segment rolls (1 MiB to 2 GiB); a change applies to the next roll."},
	{ConfigSegmentMs, "log.roll.ms", TypeLong, "604800000",
		"Milliseconds after which a partition's active segment rolls (at least a minute); a change applies to the next roll."},
}

// TopicConfigs describes the topic configs raftline honours, sorted by
// name. The slice is shared: callers must not modify it.
func TopicConfigs() []ConfigInfo { return topicConfigs }

// TopicConfig describes one topic config, if raftline honours it.
func TopicConfig(name string) (ConfigInfo, bool) {
	i := sort.Search(len(topicConfigs), func(i int) bool { return topicConfigs[i].Name >= name })
	if i < len(topicConfigs) && topicConfigs[i].Name == name {
		return topicConfigs[i], true
	}
	return ConfigInfo{}, false
}
