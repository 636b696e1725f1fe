package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// CreateTopics v0-7.
//
// Only the controller (the Raft leader) creates topics; others answer
// NOT_CONTROLLER and the client retries against the controller from Metadata.
// Every topic is replicated to every voter, so the replication factor must be
// -1 or at most the number of voters; manual replica assignment is refused.
// Configs accepted: retention.ms, retention.bytes, max.message.bytes,
// cleanup.policy=delete, segment.bytes and segment.ms (topicrules has their
// bounds; out of them, INVALID_CONFIG with a message saying so).
// NumPartitions -1 takes the broker default.
// ValidateOnly checks without creating. v5+ returns partitions, replication
// factor and configs; v7 the topic id.

func init() { register(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.CreateTopicsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.CreateTopicsResponse)
		timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		voters := int16(len(l.replicaIDs()))
		seen := map[string]int{}
		for _, rt := range req.Topics {
			seen[rt.Topic]++
		}
		for _, rt := range req.Topics {
			st := kmsg.NewCreateTopicsResponseTopic()
			st.Topic = rt.Topic
			st.NumPartitions, st.ReplicationFactor = -1, -1
			ct := cluster.TopicSpec{Name: rt.Topic, Partitions: rt.NumPartitions, Configs: map[string]string{}}
			if ct.Partitions == -1 {
				ct.Partitions = l.cfg.DefaultPartitions
			}
			for _, c := range rt.Configs {
				if c.Value != nil {
					ct.Configs[c.Name] = *c.Value
				}
			}
			l.withDefaultConfigs(ct.Configs)
			var err error
			var msg string
			switch {
			case seen[rt.Topic] > 1:
				err, msg = kerr.InvalidRequest, "topic named more than once in the request"
			case !l.cluster.IsLeader():
				err = kerr.NotController
			case cluster.ValidateTopicName(rt.Topic) != nil:
				err, msg = kerr.InvalidTopicException, cluster.ValidateTopicName(rt.Topic).Error()
			case ct.Partitions <= 0 || ct.Partitions > cluster.MaxPartitions:
				err, msg = kerr.InvalidPartitions, "partitions must be between 1 and 10000"
			case rt.ReplicationFactor != -1 && (rt.ReplicationFactor <= 0 || rt.ReplicationFactor > voters):
				err, msg = kerr.InvalidReplicationFactor, "every topic is replicated to all voters; use -1 or at most the number of voters"
			case len(rt.ReplicaAssignment) > 0:
				err, msg = kerr.InvalidReplicaAssignment, "manual replica assignment is not supported"
			case cluster.ValidateConfigs(ct.Configs) != nil:
				err, msg = kerr.InvalidConfig, cluster.ValidateConfigs(ct.Configs).Error()
			case l.hasTopic(rt.Topic):
				err = kerr.TopicAlreadyExists
			case req.ValidateOnly:
			default:
				err = l.cluster.CreateTopic(ctx, ct)
			}
			st.ErrorCode = cluster.ErrorCode(err)
			if msg != "" {
				st.ErrorMessage = &msg
			}
			if st.ErrorCode == 0 {
				st.NumPartitions, st.ReplicationFactor = ct.Partitions, voters
				if t, ok := l.cluster.Topic(rt.Topic); ok {
					st.TopicID = t.ID
				}
				for k, v := range ct.Configs {
					c := kmsg.NewCreateTopicsResponseTopicConfig()
					c.Name, c.Value = k, &v
					st.Configs = append(st.Configs, c)
				}
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
}
