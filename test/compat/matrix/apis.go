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
	8: "Committed offsets are replicated through Raft and survive a failover. Generation and member checked (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS); " +
		"generation -1 without a member (kcat, admin tools) for an empty or unknown group only. Sent to the coordinator.",
	9: "Committed offsets with their leader epoch and metadata, -1 where none; every committed offset of the group when no topic is named; several groups at once (v8).",
	10: "Groups: the Raft leader coordinates every group (COORDINATOR_NOT_AVAILABLE while none is known). For a transactional id " +
		"the node names itself, and InitProducerID refuses it.",
	11: "The classic protocol, replicated through Raft: MEMBER_ID_REQUIRED (v4+), static members (group.instance.id, v5+), " +
		"an empty group's first rebalance waits --group-initial-rebalance-delay (3 s). Group APIs on another node answer NOT_COORDINATOR.",
	12: "Sessions kept in the leader's memory; REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID.",
	13: "One member (v0-2) or a batch by member id or group.instance.id (v3+); the group rebalances without them.",
	14: "The group leader's assignments are replicated; every member is answered its own.",
	15: "State, protocol and members; metadata and assignments in a Stable group. No authorized operations (no ACLs).",
	16: "Every group, on the leader; other nodes list none. State filter (v4+).",
	18: "Every key listed here, with exactly the versions served.",
	19: "Replication factor -1 or at most the number of voters (every topic is on every voter); no manual assignment. " +
		"Configs: retention.ms, retention.bytes, max.message.bytes, cleanup.policy=delete, segment.bytes (1 MiB to 2 GiB-1), segment.ms (at least a minute). " +
		"Sent to the controller (the Raft leader).",
	20: "By name (v6's topic ids are not served). Sent to the controller.",
	21: "Moves each partition's log start offset (-1: the high watermark); fetches below it are OFFSET_OUT_OF_RANGE. " +
		"One Raft entry per request; sent to the leader.",
	22: "Idempotent producers. A transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, which clients treat as fatal.",
	42: "Empty groups with their committed offsets (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND).",
	47: "A group's committed offsets; GROUP_SUBSCRIBED_TO_TOPIC for a topic its members subscribe to.",
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
