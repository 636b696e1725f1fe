package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/cluster"
)

func TestErrorCode_SentinelsAndKafkaErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int16
	}{
		{nil, 0},
		{kerr.MessageTooLarge, kerr.MessageTooLarge.Code},
		{fmt.Errorf("wrapped: %w", kerr.UnknownTopicOrPartition), kerr.UnknownTopicOrPartition.Code},
		{cluster.ErrNotLeader, kerr.NotLeaderForPartition.Code},
		{fmt.Errorf("%w: dial refused", cluster.ErrNotLeader), kerr.NotLeaderForPartition.Code},
		{cluster.ErrShutdown, kerr.NotLeaderForPartition.Code},
		{fmt.Errorf("%w: lost", cluster.ErrIndeterminate), kerr.RequestTimedOut.Code},
		{context.DeadlineExceeded, kerr.RequestTimedOut.Code},
		{fmt.Errorf("%w: 10 MiB free", cluster.ErrNoSpace), kerr.KafkaStorageError.Code},
		{fmt.Errorf("%w: write: no space left on device", cluster.ErrStorage), kerr.KafkaStorageError.Code},
		{errors.New("disk on fire"), kerr.UnknownServerError.Code},
	} {
		if got := cluster.ErrorCode(tc.err); got != tc.want {
			t.Errorf("ErrorCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
