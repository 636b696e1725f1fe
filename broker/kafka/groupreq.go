package kafka

import (
	"context"
	"time"

	"github.com/raftline/raftline/broker/cluster"
)

// groupWriteTimeout bounds a group write (a commit, a leave, a deletion)
// from proposal to apply, as Kafka's offsets.commit.timeout.ms (5s) bounds
// a commit; a write that takes longer is answered
// COORDINATOR_NOT_AVAILABLE and may still apply.
const groupWriteTimeout = 5 * time.Second

// groupCode is a group API's error code for err: the coordinator's errors
// are kerr errors; anything else the write path returns is the cluster's.
func groupCode(err error) int16 { return cluster.ErrorCode(err) }

// withGroupWriteTimeout is ctx bounded by groupWriteTimeout.
func withGroupWriteTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, groupWriteTimeout)
}

func strOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
