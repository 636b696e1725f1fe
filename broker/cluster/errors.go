package cluster

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Sentinel errors of the write path. An implementation returns errors that
// match them with errors.Is, whatever its own errors are (raftcluster wraps
// raftnode's); their texts are raftnode's, so messages read the same.
var (
	// ErrNotLeader: this node does not lead, or the write could not reach
	// the leader. Nothing was written; clients re-route.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrIndeterminate: the write was proposed but its fate is unknown
	// (leadership lost, or the caller gave up waiting). It may still
	// commit; a client must treat the write as not acknowledged.
	ErrIndeterminate = errors.New("write outcome unknown")
	// ErrShutdown: the node is shutting down.
	ErrShutdown = errors.New("node is shutting down")
	// ErrNoSpace: the leader's data directory has less free space than
	// its floor (--storage-min-free-bytes), so it refuses produces before
	// the disk fills. Nothing was written; produces are taken again once
	// space is freed (retention, deleted topics, a larger disk).
	ErrNoSpace = errors.New("free disk space below the node's floor")
	// ErrStorage: this node's disk failed. A read it could not do or
	// check (an I/O error, bytes that fail their checksums) serves
	// nothing; a write refused after the node stopped on a storage fault
	// may still commit through the other nodes, as with
	// ErrIndeterminate. Clients retry, and re-route once the node is gone.
	ErrStorage = errors.New("partition storage failed")
)

// ErrorCode is the Kafka error code a client is answered with for err: kerr
// errors keep their code, the sentinels become the retriable codes clients
// re-route or retry on, anything else is UNKNOWN_SERVER_ERROR. nil is 0.
//
// ErrNoSpace and ErrStorage are KAFKA_STORAGE_ERROR, what Kafka answers for a partition
// whose log directory it cannot write: every client retries it
// (KafkaStorageException is an InvalidMetadataException in the Java
// client, retriable in librdkafka and franz-go), so producers hold their
// records until space is freed or their delivery timeout ends. Redpanda
// answers BROKER_NOT_AVAILABLE for its low-disk refusal, which the Java
// producer does not retry.
// The Kafka listener answers with it and telemetry labels errors with it.
func ErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code
	}
	switch {
	case errors.Is(err, ErrNotLeader), errors.Is(err, ErrShutdown):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, ErrIndeterminate), errors.Is(err, context.DeadlineExceeded):
		return kerr.RequestTimedOut.Code
	case errors.Is(err, ErrNoSpace), errors.Is(err, ErrStorage):
		// Kafka's answer for a partition on a failed log directory;
		// retriable, and clients refresh their metadata on it.
		return kerr.KafkaStorageError.Code
	}
	return kerr.UnknownServerError.Code
}
