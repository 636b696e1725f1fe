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
	// ErrStorage: the node stopped on a failure of its disk and takes no
	// more writes. A write refused with it may still commit through the
	// other nodes, as with ErrIndeterminate; clients re-route.
	ErrStorage = errors.New("node stopped on a storage fault")
)

// ErrorCode is the Kafka error code a client is answered with for err: kerr
// errors keep their code, the sentinels become the retriable codes clients
// re-route or retry on, anything else is UNKNOWN_SERVER_ERROR. nil is 0.
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
	case errors.Is(err, ErrStorage):
		// Kafka's answer for a partition on a failed log directory;
		// retriable, and clients refresh their metadata on it.
		return kerr.KafkaStorageError.Code
	}
	return kerr.UnknownServerError.Code
}
