package matrix

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster/clusterfake"
	"github.com/raftline/raftline/broker/kafka"
)

// APINotes says what raftline serves of each API key it advertises. The
// document lists every key with the versions ApiVersions advertises and
// this note; a key served without a note, or a note without a key, fails
// the document's generation and its test.
var APINotes = map[int16]string{
	0: "Record batches (magic 2) only. acks 0, 1 and all (-1). Any compression, passed through untouched. " +
		"Idempotent producers (sequence numbers checked, retried batches answered with their first offset). " +
		"Transactional batches refused.",
	1: "Long poll (MinBytes, MaxWaitMillis). No fetch sessions: clients send full requests. " +
		"Topics by name only (topic ids, v13+, are not served).",
	2: "Earliest (-2), latest (-1), and by timestamp: the first record at or after it (in compressed batches too), with its timestamp. " +
		"Max timestamp (-3, v7) is not served.",
	3: "The Raft leader leads every partition; every voter is a replica and in sync. " +
		"Topic auto-creation, answered with the new topic's leader at once. Leader epochs are -1.",
	8: "Classic consumer groups: one Raft entry per request, answered once applied on the coordinator (the Raft leader). " +
		"Generation -1 with no member (kcat, tools) only for an empty or unknown group. Offsets survive leader failover.",
	9: "From the coordinator's applied state; -1 for a partition with no committed offset. v8 batches groups.",
	10: "Consumer groups: the Raft leader, which coordinates every group (COORDINATOR_NOT_AVAILABLE while no leader is known). " +
		"For a transactional id the node names itself, and InitProducerID refuses it.",
	11: "Classic protocol, static membership (group.instance.id), MEMBER_ID_REQUIRED (v4+). Membership is replicated; " +
		"an empty group's first rebalance waits --group-initial-rebalance-delay (3 s; raftline dev 100 ms).",
	12: "Sessions are kept in the leader's memory; a new leader gives every member a full session timeout.",
	13: "By member id, or a batch by member or instance id (v3+).",
	14: "The leader's assignments are replicated; the other members wait for them on the applied state.",
	15: "Members with metadata and assignment in a Stable group, as Kafka. No authorized operations.",
	16: "The leader lists every group; other nodes coordinate none and list none. State filter (v4).",
	42: "Empty groups only (NON_EMPTY_GROUP otherwise), with their committed offsets.",
	47: "GROUP_SUBSCRIBED_TO_TOPIC for a topic the live group's members subscribe to.",
	18: "Every key listed here, with exactly the versions served.",
	19: "Replication factor -1 or at most the number of voters (every topic is on every voter); no manual assignment. " +
		"Configs: retention.ms, retention.bytes, max.message.bytes, cleanup.policy=delete, segment.bytes (1 MiB to 2 GiB-1), segment.ms (at least a minute). " +
		"Sent to the controller (the Raft leader).",
	20: "By name (v6's topic ids are not served). Sent to the controller.",
	21: "Moves each partition's log start offset (-1: the high watermark); fetches below it are OFFSET_OUT_OF_RANGE. " +
		"One Raft entry per request; sent to the leader.",
	22: "Idempotent producers. A transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal.",
	60: "Brokers only (endpoint type 1).",
}

// APIVersion is one served API key with the versions ApiVersions advertises.
type APIVersion struct {
	Key, Min, Max int16
}

// Served is what a raftline listener advertises in ApiVersions, asked of
// one on an in-memory cluster (the registry is the same in every node).
func Served() ([]APIVersion, error) {
	l := kafka.New(kafka.Config{NodeID: 1, Addr: "127.0.0.1:0"}, clusterfake.New(1))
	if err := l.Listen(); err != nil {
		return nil, err
	}
	go l.Serve()
	defer l.Close()
	return AskAPIVersions(l.Addr())
}

// AskAPIVersions asks the broker at addr for ApiVersions.
func AskAPIVersions(addr string) ([]APIVersion, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl.SeedBrokers()[0])
	if err != nil {
		return nil, fmt.Errorf("ApiVersions from %s: %w", addr, err)
	}
	var out []APIVersion
	for _, k := range resp.ApiKeys {
		out = append(out, APIVersion{Key: k.ApiKey, Min: k.MinVersion, Max: k.MaxVersion})
	}
	return out, nil
}
