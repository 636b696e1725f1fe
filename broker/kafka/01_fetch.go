package kafka

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/recordbatch"
)

// Fetch v4-12.
//
// Served by the Raft leader only (a follower answers NOT_LEADER_OR_FOLLOWER,
// as it is not the partitions' leader in Metadata). Everything readable is
// committed, so the high watermark and the last stable offset are both the
// partition's next offset. Batches are returned whole, from the one holding
// the fetch offset, up to the partition's and the request's byte limits; the
// first batch is always returned whole so a consumer makes progress.
// Long poll: when fewer than MinBytes are available the request waits up to
// MaxWaitMillis for new appends. Fetch sessions (v7+) are not kept: the
// response's session id is 0, which tells clients to send full requests.
// Topic ids (v13+) are not served. A current leader epoch (v9+) other than
// the leader's is FENCED_LEADER_EPOCH or UNKNOWN_LEADER_EPOCH, and each
// batch served carries the epoch that wrote it (epochs.go).

func init() { register(1, 4, 12, handleFetch) }

func handleFetch(l *Listener, ctx context.Context, r *request) func() kmsg.Response {
	req := r.kreq.(*kmsg.FetchRequest)
	return func() kmsg.Response {
		spans := l.startFetchSpans(ctx, req)
		wait := time.Duration(req.MaxWaitMillis) * time.Millisecond
		timer := time.NewTimer(wait)
		defer timer.Stop()
		for {
			appended := l.cluster.Appended()
			resp, size, failed := l.collectFetch(ctx, req)
			if size >= int(req.MinBytes) || wait <= 0 || failed {
				return l.fetched(resp, spans)
			}
			select {
			case <-appended:
			case <-timer.C:
				resp, _, _ = l.collectFetch(ctx, req)
				return l.fetched(resp, spans)
			case <-ctx.Done():
				for _, end := range spans {
					end(0, ctx.Err())
				}
				return resp
			}
		}
	}
}

// startFetchSpans opens a receive span per topic the request reads, when
// tracing; they cover the long poll and end in fetched.
func (l *Listener) startFetchSpans(ctx context.Context, req *kmsg.FetchRequest) map[string]func(int64, error) {
	if l.tracer == nil {
		return nil
	}
	spans := make(map[string]func(int64, error), len(req.Topics))
	for _, t := range req.Topics {
		if spans[t.Topic] == nil {
			spans[t.Topic] = l.tracer.StartFetch(ctx, t.Topic)
		}
	}
	return spans
}

// fetched reports the records a response returns, per topic, to metrics and
// ends the topics' receive spans.
func (l *Listener) fetched(resp *kmsg.FetchResponse, spans map[string]func(int64, error)) *kmsg.FetchResponse {
	for _, t := range resp.Topics {
		var records, bytes int64
		var err error
		for _, p := range t.Partitions {
			records += countRecords(p.RecordBatches)
			bytes += int64(len(p.RecordBatches))
			if p.ErrorCode != 0 && err == nil {
				err = kerr.ErrorForCode(p.ErrorCode)
			}
		}
		if end := spans[t.Topic]; end != nil {
			end(records, err)
			delete(spans, t.Topic)
		}
		if records > 0 {
			l.obs.Fetched(t.Topic, records, bytes)
		}
	}
	for _, end := range spans { // topics the response does not list
		end(0, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp
}

// countRecords counts the records in a run of stored (already checked) batches.
func countRecords(b []byte) int64 {
	var n int64
	for len(b) >= recordbatch.HeaderSize {
		h, err := recordbatch.ParseHeader(b)
		if err != nil {
			return n
		}
		n += int64(h.RecordCount)
		b = b[h.Length:]
	}
	return n
}

// collectFetch reads what the request asks for as of now, and reports whether
// any partition failed (an error is answered at once, not after the long poll).
func (l *Listener) collectFetch(ctx context.Context, req *kmsg.FetchRequest) (resp *kmsg.FetchResponse, size int, failed bool) {
	resp = req.ResponseKind().(*kmsg.FetchResponse)
	if req.SessionID != 0 {
		resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
		return resp, 0, true
	}
	remaining := int(req.MaxBytes)
	if remaining <= 0 {
		remaining = 50 << 20
	}
	isLeader := l.cluster.LeaderCaughtUp()
	epoch := l.cluster.LeaderEpoch()
	for _, rt := range req.Topics {
		st := kmsg.NewFetchResponseTopic()
		st.Topic = rt.Topic
		st.TopicID = rt.TopicID
		for _, rp := range rt.Partitions {
			sp := kmsg.NewFetchResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			sp.RecordBatches = []byte{} // empty, not null: librdkafka rejects a null record set
			if !isLeader {
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
			} else if part, err := l.cluster.Partition(rt.Topic, rp.Partition); err != nil {
				sp.ErrorCode = cluster.ErrorCode(err)
			} else if code := checkLeaderEpoch(rp.CurrentLeaderEpoch, epoch); code != 0 {
				sp.ErrorCode = code
			} else {
				start, next := part.Offsets()
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = next, next, start
				limit := min(int(rp.PartitionMaxBytes), remaining)
				switch {
				case rp.FetchOffset < start || rp.FetchOffset > next:
					sp.ErrorCode = kerr.OffsetOutOfRange.Code
				case rp.FetchOffset < next && limit > 0:
					var err error
					if sp.RecordBatches, err = part.AppendBatches(sp.RecordBatches, rp.FetchOffset, limit); err != nil {
						sp.ErrorCode = cluster.ErrorCode(err)
						l.storageReadFailed(ctx, rt.Topic, rp.Partition, err)
					}
					remaining -= len(sp.RecordBatches)
					size += len(sp.RecordBatches)
				}
			}
			failed = failed || sp.ErrorCode != 0
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return resp, size, failed
}
