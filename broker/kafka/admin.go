package kafka

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
)

// adminCluster is what the admin APIs (DescribeConfigs, AlterConfigs,
// IncrementalAlterConfigs, CreatePartitions, OffsetForLeaderEpoch) need
// beyond the rest of Cluster.
type adminCluster interface {
	// AlterTopicConfigs changes a topic's configs, on the leader or
	// forwarded to it, as Kafka brokers forward config changes to the
	// controller.
	AlterTopicConfigs(ctx context.Context, change cluster.ConfigChange) error
	// CreatePartitions grows a topic on this node, which must lead.
	CreatePartitions(ctx context.Context, topic string, count int32) error
	// LeaderEpoch is every partition's leader epoch as this node knows
	// it: its Raft term (epochs.go).
	LeaderEpoch() int32
}

// adminTimeout is the deadline of an admin request's write: the request's
// own timeout when it has one, else 30s, Kafka's default.
func adminTimeout(ctx context.Context, ms int32) (context.Context, context.CancelFunc) {
	timeout := time.Duration(ms) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return context.WithTimeout(ctx, timeout)
}

// adminErrorCode is the code an admin write's error is answered with: as
// cluster.ErrorCode, except that a change the leader could not be reached
// for is NOT_CONTROLLER, which admin clients retry against the controller.
func adminErrorCode(err error) int16 {
	if errors.Is(err, cluster.ErrNotLeader) || errors.Is(err, cluster.ErrShutdown) {
		return kerr.NotController.Code
	}
	return cluster.ErrorCode(err)
}
