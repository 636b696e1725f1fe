// Package topicrules holds what makes a topic acceptable to raftline:
// Kafka's topic name rules, the topic configs raftline honours (their keys,
// values and Kafka's defaults) and the bound on a topic's partition count.
//
// The rules are checked twice, and must be the same both times: by the Kafka
// handlers, to answer a client with a precise error before anything is
// proposed (through broker/cluster, which re-exports them), and by the state
// machine (broker/fsm) when it applies a create, so that every replica
// refuses the same entries whoever proposed them. They live here, in a leaf
// that imports only the standard library, because neither side may import
// the other: the protocol reaches the state only through the cluster
// contract, and the state machine must not depend on that contract.
package topicrules

import (
	"fmt"
	"maps"
	"math"
	"strconv"
)

// Topic config keys raftline honours, and their defaults (Kafka's).
const (
	ConfigRetentionMs     = "retention.ms"
	ConfigRetentionBytes  = "retention.bytes"
	ConfigCleanupPolicy   = "cleanup.policy"
	ConfigMaxMessageBytes = "max.message.bytes"
	// ConfigSegmentBytes and ConfigSegmentMs shape a partition's segments
	// with --storage disk: where they roll decides what retention can
	// delete, so they are replicated with the topic like every config, and
	// a topic without them gets the storage's defaults (seglog's: 128 MiB,
	// 7 days), the same on every replica.
	ConfigSegmentBytes = "segment.bytes"
	ConfigSegmentMs    = "segment.ms"

	DefaultRetentionMs     = int64(7 * 24 * 3600 * 1000)
	DefaultRetentionBytes  = int64(-1)
	DefaultMaxMessageBytes = int64(1048588)
)

// Bounds of segment.bytes and segment.ms. The least segment is Kafka's
// since 4.0 (KIP-1030: 1 MiB, up from 14 bytes) and the largest is Kafka's
// and seglog's (positions in a segment's index are 32 bits). The shortest
// segment.ms is the minute KIP-1030 sets for Kafka 5.0 rather than Kafka
// 3's 1 ms: each segment holds four open files, and a partition rolling
// every millisecond would run a node out of descriptors, which stops it.
const (
	MinSegmentBytes = int64(1 << 20)
	MaxSegmentBytes = int64(math.MaxInt32)
	MinSegmentMs    = int64(60_000)
)

// MaxPartitions bounds a topic's partition count, so a request cannot make a
// node allocate without limit.
const MaxPartitions = 10000

// ValidateTopicName applies Kafka's topic name rules.
func ValidateTopicName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is %d characters, more than 249", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q has %q; only ASCII letters, digits, '.', '_' and '-' are allowed", name, r)
		}
	}
	return nil
}

// ValidateConfigs accepts only the topic configs raftline honours, with
// values Kafka would accept (segment.bytes and segment.ms within the bounds
// above).
func ValidateConfigs(configs map[string]string) error {
	for k, v := range configs {
		switch k {
		case ConfigRetentionMs, ConfigRetentionBytes, ConfigMaxMessageBytes:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || (n < -1) || (k == ConfigMaxMessageBytes && n <= 0) {
				return fmt.Errorf("config %s=%q is not a valid value", k, v)
			}
		case ConfigSegmentBytes:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < MinSegmentBytes || n > MaxSegmentBytes {
				return fmt.Errorf("config %s=%q must be a number of bytes from %d (1 MiB) to %d", k, v, MinSegmentBytes, MaxSegmentBytes)
			}
		case ConfigSegmentMs:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < MinSegmentMs {
				return fmt.Errorf("config %s=%q must be a number of milliseconds of at least %d (1 minute)", k, v, MinSegmentMs)
			}
		case ConfigCleanupPolicy:
			if v != "delete" {
				return fmt.Errorf("config %s=%q: only delete is supported", k, v)
			}
		default:
			return fmt.Errorf("config %q is not supported", k)
		}
	}
	return nil
}

// ChangeConfigs returns the configs that result from a change to current,
// which it does not modify: from none when replace is set (AlterConfigs),
// else from current (IncrementalAlterConfigs); del removed, then set
// applied; then defaults fill the keys left unset, as a topic's creation
// fills them. The leader checks a request with it, and the state machine
// applies the entry with it, so both reach the same configs.
func ChangeConfigs(current map[string]string, replace bool, del []string, set, defaults map[string]string) map[string]string {
	out := map[string]string{}
	if !replace {
		maps.Copy(out, current)
	}
	for _, k := range del {
		delete(out, k)
	}
	maps.Copy(out, set)
	for k, v := range defaults {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}
