package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
)

// ListOffsets v1-7.
//
// Timestamp -1 is the latest offset (the high watermark), -2 the earliest
// (the log start offset, which retention and DeleteRecords move). Any other
// timestamp finds, as Kafka does, the first record at or after the log start
// offset whose timestamp is at least it, and answers its offset and
// timestamp; the partition reads the records of compressed batches to find
// it (cluster.Partition.OffsetForTimestamp). No record that late: offset
// and timestamp -1. Timestamp -3 (MAX_TIMESTAMP, v7+; UNSUPPORTED_VERSION
// before, as Kafka answers) is the first record with the largest timestamp
// at or after the log start offset (cluster.Partition.MaxTimestamp), offset
// and timestamp -1 for an empty log. Served by the leader only. A current
// leader epoch (v4+) is checked as Fetch checks it; the leader epoch
// answered is the epoch that wrote the offset (the leader's for the high
// watermark; -1 when not known).

func init() { register(2, 1, 7, handleListOffsets) }

func handleListOffsets(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.ListOffsetsRequest)
	return func() kmsg.Response {
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		isLeader := l.cluster.LeaderCaughtUp()
		epoch := l.cluster.LeaderEpoch()
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, -1
				if !isLeader {
					sp.ErrorCode = kerr.NotLeaderForPartition.Code
				} else if rp.Timestamp == maxTimestamp && req.Version < 7 {
					sp.ErrorCode = kerr.UnsupportedVersion.Code
				} else if part, err := l.cluster.Partition(rt.Topic, rp.Partition); err != nil {
					sp.ErrorCode = cluster.ErrorCode(err)
				} else if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, epoch); code != 0 {
					sp.ErrorCode = code
				} else if sp.Offset, sp.Timestamp, err = offsetFor(part, rp.Timestamp); err != nil {
					sp.Offset, sp.Timestamp = -1, -1
					sp.ErrorCode = cluster.ErrorCode(err)
					l.storageReadFailed(ctx, rt.Topic, rp.Partition, err)
				} else if _, next := part.Offsets(); sp.Offset >= next {
					sp.LeaderEpoch = epoch
				} else if sp.Offset >= 0 {
					sp.LeaderEpoch = epochOf(part.LeaderEpochs(), sp.Offset)
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
}

// maxTimestamp is ListOffsets' MAX_TIMESTAMP.
const maxTimestamp = -3

func offsetFor(part cluster.Partition, ts int64) (offset, timestamp int64, err error) {
	start, next := part.Offsets()
	var found bool
	switch ts {
	case -1:
		return next, -1, nil
	case -2:
		return start, -1, nil
	case maxTimestamp:
		offset, timestamp, found, err = part.MaxTimestamp()
	default:
		offset, timestamp, found, err = part.OffsetForTimestamp(ts)
	}
	if err != nil || !found {
		return -1, -1, err
	}
	return offset, timestamp, nil
}
