package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// OffsetForLeaderEpoch v0-4.
//
// A consumer that lost its leader asks where the epoch of its last
// consumed record ends, and finds records it read truncated when the answer
// is below its position (KIP-320). Epochs are Raft terms and each
// partition keeps where each term began writing (epochs.go): the answer
// is Kafka's (endOffsetFor), the current epoch ending at the high
// watermark. Raft never removes a committed entry, so the answer is never
// below an offset a consumer was served. Served by the leader only, once it
// has applied everything committed before its term (NOT_LEADER_OR_FOLLOWER
// elsewhere and before); a current leader epoch (v2+) other
// than the leader's is FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH. A
// follower replica (ReplicaID >= 0, v3+) is not something raftline has:
// UNKNOWN_SERVER_ERROR, as Kafka's kfake answers.

func init() { register(23, 0, 4, handleOffsetForLeaderEpoch) }

func handleOffsetForLeaderEpoch(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.OffsetForLeaderEpochRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
		// Only once caught up, as Fetch: a new leader that has not yet
		// applied the entries of earlier terms (a whole cluster restarted
		// replays them only after its first commit) would end the
		// previous epoch below offsets consumers read, and they would
		// take the records as truncated and reset.
		isLeader := l.cluster.LeaderCaughtUp()
		epoch := l.cluster.LeaderEpoch()
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetForLeaderEpochResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.LeaderEpoch, sp.EndOffset = -1, -1
				if req.Version >= 3 && req.ReplicaID >= 0 {
					sp.ErrorCode = kerr.UnknownServerError.Code
				} else if !isLeader {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				} else if part, err := l.cluster.Partition(rt.Topic, rp.Partition); err != nil {
					sp.ErrorCode = cluster.ErrorCode(err)
				} else if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, epoch); code != 0 {
					sp.ErrorCode = code
				} else {
					_, hwm := part.Offsets()
					sp.LeaderEpoch, sp.EndOffset = endOffsetFor(part.LeaderEpochs(), rp.LeaderEpoch, epoch, hwm)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
}
