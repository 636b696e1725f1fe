package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/groups"
)

// OffsetCommit v0-8.
//
// A request's offsets are one replicated entry, answered once applied on
// the coordinator (the leader); they survive a failover. A member commits
// for its group's current generation (ILLEGAL_GENERATION for an older one,
// REBALANCE_IN_PROGRESS while the group has no assignment yet); a commit
// with generation -1 and no member, as kcat and admin tools send, is taken
// for an empty or unknown group only (UNKNOWN_MEMBER_ID otherwise), as
// Kafka does. A partition that does not exist is UNKNOWN_TOPIC_OR_PARTITION
// and metadata over 4096 bytes OFFSET_METADATA_TOO_LARGE, each on its own.
// The commit time is the entry's; v1's per-partition timestamp and v2-4's
// retention time are ignored, as Kafka 2.1+ ignores them.

func init() { register(8, 0, 8, handleOffsetCommit) }

func handleOffsetCommit(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.OffsetCommitRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		c := groups.Commit{MemberID: req.MemberID, InstanceID: strOr(req.InstanceID), Generation: req.Generation}
		if req.Version == 0 {
			c.Generation = -1 // v0 predates group management
		}
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				c.Offsets = append(c.Offsets, groups.PartitionOffset{Topic: t.Topic, Partition: p.Partition,
					Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: strOr(p.Metadata)})
			}
		}
		var errs []error
		var err error
		if req.Group == "" {
			err = kerr.InvalidGroupID
		} else if len(c.Offsets) > 0 {
			ctx, cancel := withGroupWriteTimeout(ctx)
			end := l.startSpan(ctx, "OffsetCommit", req.Group)
			errs, err = l.cluster.CommitOffsets(ctx, req.Group, c)
			end(err)
			cancel()
		}
		i := 0
		for _, t := range req.Topics {
			rt := kmsg.NewOffsetCommitResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewOffsetCommitResponseTopicPartition()
				rp.Partition = p.Partition
				if err != nil {
					rp.ErrorCode = groupCode(err)
				} else {
					rp.ErrorCode = groupCode(errs[i])
				}
				i++
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
}
