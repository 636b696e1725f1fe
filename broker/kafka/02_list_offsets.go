package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// ListOffsets v1-6.
//
// Timestamp -1 is the latest offset (the high watermark), -2 the earliest
// (the log start offset, which retention and DeleteRecords move). Any other
// timestamp finds, as Kafka does, the first record at or after the log start
// offset whose timestamp is at least it, and answers its offset and
// timestamp; the partition reads the records of compressed batches to find
// it (cluster.Partition.OffsetForTimestamp). No record that late: offset
// and timestamp -1. Served by the leader only.

func init() { register(2, 1, 6, handleListOffsets) }

func handleListOffsets(l *Listener, _ context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		isLeader := l.cluster.LeaderCaughtUp()
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
				if !isLeader {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				} else if part, err := l.cluster.Partition(rt.Topic, rp.Partition); err != nil {
					sp.ErrorCode = cluster.ErrorCode(err)
				} else if sp.Offset, sp.Timestamp, err = offsetFor(part, rp.Timestamp); err != nil {
					sp.Offset, sp.Timestamp = -1, -1
					sp.ErrorCode = cluster.ErrorCode(err)
					l.storageReadFailed(rt.Topic, rp.Partition, err)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
}

func offsetFor(part cluster.Partition, ts int64) (offset, timestamp int64, err error) {
	start, next := part.Offsets()
	switch ts {
	case -1:
		return next, -1, nil
	case -2:
		return start, -1, nil
	}
	offset, maxTimestamp, ok, err := part.OffsetForTimestamp(ts)
	if err != nil || !ok {
		return -1, -1, err
	}
	return offset, maxTimestamp, nil
}
