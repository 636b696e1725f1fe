package kafka

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// CreatePartitions v0-3.
//
// Only the controller (the Raft leader) grows topics; a follower answers
// NOT_CONTROLLER and the client retries against the controller. A count at
// or below the topic's is INVALID_PARTITIONS with Kafka's message, and so
// is one past 10000 (topicrules); manual assignment is
// INVALID_REPLICA_ASSIGNMENT (every partition is on every voter); a topic
// named twice INVALID_REQUEST. ValidateOnly checks without growing. The
// new partitions are one entry (fsm.OpCreatePartitions) and start empty,
// led by the leader like every other.

func init() { register(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.CreatePartitionsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.CreatePartitionsResponse)
		ctx, cancel := adminTimeout(ctx, req.TimeoutMillis)
		defer cancel()
		seen := map[string]int{}
		for _, rt := range req.Topics {
			seen[rt.Topic]++
		}
		for _, rt := range req.Topics {
			st := kmsg.NewCreatePartitionsResponseTopic()
			st.Topic = rt.Topic
			var code int16
			var msg string
			t, exists := l.cluster.Topic(rt.Topic)
			switch {
			case seen[rt.Topic] > 1:
				code, msg = kerr.InvalidRequest.Code, "topic named more than once in the request"
			case !l.cluster.IsLeader():
				code = kerr.NotController.Code
			case !exists:
				code, msg = kerr.UnknownTopicOrPartition.Code, fmt.Sprintf("topic %q does not exist", rt.Topic)
			case rt.Count == t.Partitions:
				code, msg = kerr.InvalidPartitions.Code, fmt.Sprintf("Topic already has %d partitions.", t.Partitions)
			case rt.Count < t.Partitions:
				code, msg = kerr.InvalidPartitions.Code, fmt.Sprintf("Topic currently has %d partitions, which is higher than the requested %d.", t.Partitions, rt.Count)
			case rt.Count > cluster.MaxPartitions:
				code, msg = kerr.InvalidPartitions.Code, fmt.Sprintf("partitions must be at most %d", cluster.MaxPartitions)
			case len(rt.Assignment) > 0:
				code, msg = kerr.InvalidReplicaAssignment.Code, "manual replica assignment is not supported: every partition is on every voter"
			case req.ValidateOnly:
			default:
				if err := l.cluster.CreatePartitions(ctx, rt.Topic, rt.Count); err != nil {
					code, msg = adminErrorCode(err), err.Error()
				}
			}
			st.ErrorCode = code
			if msg != "" {
				st.ErrorMessage = &msg
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
}
