package kafka_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/clusterfake"
)

// deleteRecordsReq asks for offsets per topic and partition, in order.
func deleteRecordsReq(version int16, parts ...struct {
	topic     string
	partition int32
	offset    int64
}) *kmsg.DeleteRecordsRequest {
	req := kmsg.NewPtrDeleteRecordsRequest()
	req.SetVersion(version)
	req.TimeoutMillis = 5000
	for _, p := range parts {
		if n := len(req.Topics); n == 0 || req.Topics[n-1].Topic != p.topic {
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = p.topic
			req.Topics = append(req.Topics, rt)
		}
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = p.partition, p.offset
		req.Topics[len(req.Topics)-1].Partitions = append(req.Topics[len(req.Topics)-1].Partitions, rp)
	}
	return req
}

type deletion = struct {
	topic     string
	partition int32
	offset    int64
}

// answers flattens a DeleteRecords response into (low watermark, error) in
// request order.
func answers(resp *kmsg.DeleteRecordsResponse) (lws []int64, errs []error) {
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			lws = append(lws, p.LowWatermark)
			errs = append(errs, code(p.ErrorCode))
		}
	}
	return lws, errs
}

// Every answer Kafka gives, against the real handlers and state machine:
// the start moves (inside a batch too) and the low watermark says where;
// -1 is the high watermark; past it or below -1 is OFFSET_OUT_OF_RANGE; at
// or below the start changes nothing; unknown partitions are
// UNKNOWN_TOPIC_OR_PARTITION; a write that fails answers its code; a
// follower answers NOT_LEADER_OR_FOLLOWER. After it a fetch below the start
// is OFFSET_OUT_OF_RANGE and ListOffsets earliest is the start.
func TestFakeDeleteRecords_KafkasAnswers(t *testing.T) {
	for _, version := range []int16{0, 1} { // v2 (flexible) is kadm's, in the cluster tests
		fake, addr := fakeWithTopic(t, 2)
		for range 3 {
			if res, err := fake.Produce("t", 0, [][]byte{rawBatch("a", "b")}, nil).Result(); err != nil || res.Err != nil {
				t.Fatal(err, res.Err)
			}
		}
		del := func(parts ...deletion) ([]int64, []error) {
			t.Helper()
			return answers(rawRequest(t, addr, deleteRecordsReq(version, parts...)).(*kmsg.DeleteRecordsResponse))
		}
		lws, errs := del(deletion{"t", 0, 3}, deletion{"t", 1, 0}, deletion{"t", 2, 0}, deletion{"nope", 0, 0})
		want := []struct {
			lw  int64
			err error
		}{{3, nil}, {0, nil}, {-1, kerr.UnknownTopicOrPartition}, {-1, kerr.UnknownTopicOrPartition}}
		for i, w := range want {
			if lws[i] != w.lw || !errors.Is(errs[i], w.err) || (w.err == nil) != (errs[i] == nil) {
				t.Errorf("v%d: partition %d answered %d, %v; want %d, %v", version, i, lws[i], errs[i], w.lw, w.err)
			}
		}

		fetched := rawRequest(t, addr, fetchReq("t", 0, 2)).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if !errors.Is(code(fetched.ErrorCode), kerr.OffsetOutOfRange) || fetched.LogStartOffset != 3 {
			t.Errorf("v%d: fetch below the start: %v, log start %d; want OFFSET_OUT_OF_RANGE, 3", version, code(fetched.ErrorCode), fetched.LogStartOffset)
		}
		fetched = rawRequest(t, addr, fetchReq("t", 0, 3)).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if fetched.ErrorCode != 0 || len(fetched.RecordBatches) == 0 {
			t.Errorf("v%d: fetch at the start: %v, %d bytes", version, code(fetched.ErrorCode), len(fetched.RecordBatches))
		}
		list := kmsg.NewPtrListOffsetsRequest()
		list.SetVersion(5)
		lt := kmsg.NewListOffsetsRequestTopic()
		lt.Topic = "t"
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Timestamp = -2
		lt.Partitions = append(lt.Partitions, lp)
		list.Topics = append(list.Topics, lt)
		if p := rawRequest(t, addr, list).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.Offset != 3 {
			t.Errorf("v%d: earliest after delete records: %d, %v; want 3", version, p.Offset, code(p.ErrorCode))
		}

		for _, tc := range []struct {
			offset int64
			lw     int64
			err    error
		}{
			{7, -1, kerr.OffsetOutOfRange}, // past the high watermark (6)
			{-2, -1, kerr.OffsetOutOfRange},
			{1, 3, nil}, // below the start: the start
			{3, 3, nil},
			{-1, 6, nil}, // the high watermark
		} {
			lws, errs := del(deletion{"t", 0, tc.offset})
			if lws[0] != tc.lw || !errors.Is(errs[0], tc.err) || (tc.err == nil) != (errs[0] == nil) {
				t.Errorf("v%d: delete to %d answered %d, %v; want %d, %v", version, tc.offset, lws[0], errs[0], tc.lw, tc.err)
			}
		}

		fake.FailWrites(cluster.ErrIndeterminate)
		if lws, errs := del(deletion{"t", 0, -1}); lws[0] != -1 || !errors.Is(errs[0], kerr.RequestTimedOut) {
			t.Errorf("v%d: a write that may not have happened: %d, %v; want REQUEST_TIMED_OUT", version, lws[0], errs[0])
		}
		fake.FailWrites(nil)

		fake.SetLeader(2)
		lws, errs = del(deletion{"t", 0, -1}, deletion{"nope", 0, 0})
		if lws[0] != -1 || !errors.Is(errs[0], kerr.NotLeaderForPartition) || !errors.Is(errs[1], kerr.UnknownTopicOrPartition) {
			t.Errorf("v%d: on a follower: %v, %v; want NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION", version, errs[0], errs[1])
		}
	}
}

// Retention moves the log start too: earliest follows it, latest stays, and
// a timestamp lookup finds nothing that retention deleted.
func TestFakeListOffsets_AfterRetention_EarliestFollowsTheStart(t *testing.T) {
	fake := clusterfake.New(1)
	if err := fake.CreateTopic(context.Background(), cluster.TopicSpec{Name: "t", Partitions: 1, Configs: map[string]string{"retention.bytes": "0"}}); err != nil {
		t.Fatal(err)
	}
	addr := listen(t, fake)
	for range 3 {
		if res, err := fake.Produce("t", 0, [][]byte{rawBatch("a", "b")}, nil).Result(); err != nil || res.Err != nil {
			t.Fatal(err, res.Err)
		}
	}
	if err := fake.Retention(context.Background()); err != nil {
		t.Fatal(err)
	}
	list := func(ts int64) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(5)
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rawRequest(t, addr, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	for ts, want := range map[int64]int64{-2: 6, -1: 6, 0: -1} {
		if p := list(ts); p.ErrorCode != 0 || p.Offset != want {
			t.Errorf("ListOffsets(%d) after retention emptied the log: %d, %v; want %d", ts, p.Offset, code(p.ErrorCode), want)
		}
	}
}
