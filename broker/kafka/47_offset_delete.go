package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// OffsetDelete v0.
//
// Deletes a group's committed offsets, as Kafka's does: the group must
// exist (GROUP_ID_NOT_FOUND), and a partition of a topic the members of a
// live consumer group subscribe to is GROUP_SUBSCRIBED_TO_TOPIC; a live
// group of another protocol type is NON_EMPTY_GROUP. A group left empty with
// no offsets is removed.

func init() { register(47, 0, 0, handleOffsetDelete) }

func handleOffsetDelete(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.OffsetDeleteRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
		if req.Group == "" {
			resp.ErrorCode = kerr.InvalidGroupID.Code
			return resp
		}
		var parts []groups.TopicPartition
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				parts = append(parts, groups.TopicPartition{Topic: t.Topic, Partition: p.Partition})
			}
		}
		ctx, cancel := withGroupWriteTimeout(ctx)
		defer cancel()
		errs, err := l.cluster.DeleteGroupOffsets(ctx, req.Group, parts)
		if err != nil {
			resp.ErrorCode = groupCode(err)
			return resp
		}
		i := 0
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetDeleteResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetDeleteResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, groupCode(errs[i])
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
}
