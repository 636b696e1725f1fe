package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// DeleteRecords v0-2.
//
// Moves each partition's log start offset up to the offset asked for, as
// Kafka's does (ReplicaManager.deleteRecords): the records below are no
// longer served (a fetch there is OFFSET_OUT_OF_RANGE) and ListOffsets
// earliest answers the new start. Offset -1 is the high watermark; an
// offset past it, or another negative one, is OFFSET_OUT_OF_RANGE; one at
// or below the start changes nothing. Each partition is answered with its
// low watermark, the log start offset after the deletion.
//
// The partitions a request moves go into one Raft entry, so every replica
// moves them at the same point of its log; the answer comes once the entry
// is committed and applied here, or REQUEST_TIMED_OUT after the request's
// timeout. Unknown partitions are UNKNOWN_TOPIC_OR_PARTITION and, on a
// follower, the others NOT_LEADER_OR_FOLLOWER: the leader leads every
// partition.

func init() { register(21, 0, 2, handleDeleteRecords) }

func handleDeleteRecords(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.DeleteRecordsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.DeleteRecordsResponse)
		timeout := time.Duration(req.TimeoutMillis) * time.Millisecond
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		isLeader := l.cluster.IsLeader()
		var deletions []cluster.RecordsDeletion
		var answers []*kmsg.DeleteRecordsResponseTopicPartition
		for _, rt := range req.Topics {
			st := kmsg.NewDeleteRecordsResponseTopic()
			st.Topic = rt.Topic
			st.Partitions = make([]kmsg.DeleteRecordsResponseTopicPartition, len(rt.Partitions))
			for i, rp := range rt.Partitions {
				sp := &st.Partitions[i]
				*sp = kmsg.NewDeleteRecordsResponseTopicPartition()
				sp.Partition, sp.LowWatermark = rp.Partition, -1
				// Kafka checks the partition exists before who leads it.
				if _, err := l.cluster.Partition(rt.Topic, rp.Partition); err != nil {
					sp.ErrorCode = cluster.ErrorCode(err)
					continue
				}
				switch {
				case !isLeader:
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				case rp.Offset < -1:
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				default:
					deletions = append(deletions, cluster.RecordsDeletion{Topic: rt.Topic, Partition: rp.Partition, Offset: rp.Offset})
					answers = append(answers, sp)
				}
			}
			resp.Topics = append(resp.Topics, st)
		}
		if len(deletions) == 0 {
			return resp
		}
		results, err := l.cluster.DeleteRecords(ctx, deletions)
		for i, sp := range answers {
			if err != nil {
				sp.ErrorCode = cluster.ErrorCode(err)
				continue
			}
			sp.ErrorCode = cluster.ErrorCode(results[i].Err)
			if results[i].Err == nil {
				sp.LowWatermark = results[i].LowWatermark
			}
		}
		return resp
	}
}
