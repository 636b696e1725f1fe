package kafka_test

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/cluster/clusterfake"
	"github.com/raftline/raftline/broker/kafka"
)

// The tests in this file serve real Kafka requests from a listener on
// clusterfake: the handlers, the cluster's reads and the state machine, no
// Raft. The node is 1; the fake starts as leader and only voter.

var _ kafka.Cluster = (*clusterfake.Cluster)(nil)

// listen serves fake on a loopback port and returns the address.
func listen(t *testing.T, fake *clusterfake.Cluster) string {
	t.Helper()
	l := kafka.New(kafka.Config{NodeID: 1, Addr: "127.0.0.1:0", AutoCreateTopics: true,
		DefaultTopicConfigs: map[string]string{"retention.bytes": "1000"}}, fake)
	if err := l.Listen(); err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	t.Cleanup(func() { l.Close() })
	return l.Addr()
}

// fakeWithTopic is a leading fake holding topic "t" (partitions as asked),
// and the listener's address.
func fakeWithTopic(t *testing.T, partitions int32) (*clusterfake.Cluster, string) {
	t.Helper()
	fake := clusterfake.New(1)
	if err := fake.CreateTopic(context.Background(), cluster.TopicSpec{Name: "t", Partitions: partitions}); err != nil {
		t.Fatal(err)
	}
	return fake, listen(t, fake)
}

func code(c int16) error { return kerr.ErrorForCode(c) }

func TestFakeProduce_Leader_OffsetsAssigned(t *testing.T) {
	_, addr := fakeWithTopic(t, 1)
	for i, want := range []int64{0, 2} {
		req := produceReq("t", 0, -1, rawBatch("a", "b"))
		req.SetVersion(7)
		p := rawRequest(t, addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 || p.BaseOffset != want || p.LogStartOffset != 0 {
			t.Fatalf("batch %d: %v at %d (log start %d), want offset %d", i, code(p.ErrorCode), p.BaseOffset, p.LogStartOffset, want)
		}
	}
}

func TestFakeProduce_Follower_NotLeaderOrFollowerNothingWritten(t *testing.T) {
	fake, addr := fakeWithTopic(t, 1)
	fake.SetLeader(2)
	req := produceReq("t", 0, -1, rawBatch("x"))
	req.SetVersion(7)
	p := rawRequest(t, addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	if !errors.Is(code(p.ErrorCode), kerr.NotLeaderForPartition) || p.BaseOffset != -1 {
		t.Fatalf("follower answered %v at %d, want NOT_LEADER_OR_FOLLOWER at -1", code(p.ErrorCode), p.BaseOffset)
	}
	part, _ := fake.Partition("t", 0)
	if _, next := part.Offsets(); next != 0 {
		t.Fatalf("refused write was applied: high watermark %d", next)
	}
}

func TestFakeProduce_BadPartitionOrLostWrite_ErrorCodes(t *testing.T) {
	fake, addr := fakeWithTopic(t, 2)
	for _, tc := range []struct {
		topic     string
		partition int32
		fail      error
		want      *kerr.Error
	}{
		{"t", 2, nil, kerr.UnknownTopicOrPartition},
		{"t", -1, nil, kerr.UnknownTopicOrPartition},
		{"nope", 0, nil, kerr.UnknownTopicOrPartition},
		{"t", 1, cluster.ErrIndeterminate, kerr.RequestTimedOut},
		{"t", 1, cluster.ErrShutdown, kerr.NotLeaderForPartition},
	} {
		fake.FailWrites(tc.fail)
		req := produceReq(tc.topic, tc.partition, -1, rawBatch("x"))
		req.SetVersion(7)
		p := rawRequest(t, addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if got := code(p.ErrorCode); !errors.Is(got, tc.want) {
			t.Errorf("%s/%d with writes failing %v: got %v, want %v", tc.topic, tc.partition, tc.fail, got, tc.want)
		}
	}
}

func fetchReq(topic string, partition int32, offset int64) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.SetVersion(11)
	req.MaxBytes = 1 << 20
	req.MaxWaitMillis = 0
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = partition, offset, 1<<20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	return req
}

func TestFakeFetch_Bounds_UnknownPartitionAndOffsetOutOfRange(t *testing.T) {
	fake, addr := fakeWithTopic(t, 1)
	if res, err := fake.Produce("t", 0, [][]byte{rawBatch("a", "b")}, nil).Result(); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	for _, tc := range []struct {
		topic     string
		partition int32
		offset    int64
		want      *kerr.Error // nil: no error
		records   bool
	}{
		{"t", 0, 0, nil, true},
		{"t", 0, 2, nil, false}, // at the high watermark: nothing yet
		{"t", 0, 3, kerr.OffsetOutOfRange, false},
		{"t", 0, -1, kerr.OffsetOutOfRange, false},
		{"t", 1, 0, kerr.UnknownTopicOrPartition, false},
		{"t", -1, 0, kerr.UnknownTopicOrPartition, false},
		{"nope", 0, 0, kerr.UnknownTopicOrPartition, false},
	} {
		p := rawRequest(t, addr, fetchReq(tc.topic, tc.partition, tc.offset)).(*kmsg.FetchResponse).Topics[0].Partitions[0]
		if got := code(p.ErrorCode); (tc.want == nil && got != nil) || (tc.want != nil && !errors.Is(got, tc.want)) {
			t.Errorf("fetch %s/%d@%d: got %v, want %v", tc.topic, tc.partition, tc.offset, got, tc.want)
		}
		if got := len(p.RecordBatches) > 0; got != tc.records {
			t.Errorf("fetch %s/%d@%d: %d bytes of records", tc.topic, tc.partition, tc.offset, len(p.RecordBatches))
		}
		if tc.want == nil && p.HighWatermark != 2 {
			t.Errorf("fetch %s/%d@%d: high watermark %d, want 2", tc.topic, tc.partition, tc.offset, p.HighWatermark)
		}
	}
	fake.SetLeader(2)
	p := rawRequest(t, addr, fetchReq("t", 0, 0)).(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if !errors.Is(code(p.ErrorCode), kerr.NotLeaderForPartition) {
		t.Errorf("fetch on a follower: %v, want NOT_LEADER_OR_FOLLOWER", code(p.ErrorCode))
	}
}

func TestFakeListOffsets_LatestEarliestAndFollower(t *testing.T) {
	fake, addr := fakeWithTopic(t, 1)
	for range 3 {
		fake.Produce("t", 0, [][]byte{rawBatch("a", "b")}, nil)
	}
	list := func(partition int32, ts int64) kmsg.ListOffsetsResponseTopicPartition {
		req := kmsg.NewPtrListOffsetsRequest()
		req.SetVersion(5)
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition, rp.Timestamp = partition, ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return rawRequest(t, addr, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
	}
	if p := list(0, -1); p.ErrorCode != 0 || p.Offset != 6 {
		t.Errorf("latest: %d %v, want 6", p.Offset, code(p.ErrorCode))
	}
	if p := list(0, -2); p.ErrorCode != 0 || p.Offset != 0 {
		t.Errorf("earliest: %d %v, want 0", p.Offset, code(p.ErrorCode))
	}
	if p := list(1, -1); !errors.Is(code(p.ErrorCode), kerr.UnknownTopicOrPartition) {
		t.Errorf("partition 1 of 1: %v, want UNKNOWN_TOPIC_OR_PARTITION", code(p.ErrorCode))
	}
	fake.SetLeader(2)
	if p := list(0, -1); !errors.Is(code(p.ErrorCode), kerr.NotLeaderForPartition) || p.Offset != -1 {
		t.Errorf("follower: %d %v, want NOT_LEADER_OR_FOLLOWER", p.Offset, code(p.ErrorCode))
	}
}

func createReq(validateOnly bool, topics ...kmsg.CreateTopicsRequestTopic) *kmsg.CreateTopicsRequest {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(4)
	req.TimeoutMillis = 5000
	req.ValidateOnly = validateOnly
	req.Topics = topics
	return req
}

func createTopic(name string, partitions int32, rf int16, configs ...string) kmsg.CreateTopicsRequestTopic {
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, partitions, rf
	for i := 0; i+1 < len(configs); i += 2 {
		c := kmsg.NewCreateTopicsRequestTopicConfig()
		c.Name, c.Value = configs[i], kmsg.StringPtr(configs[i+1])
		rt.Configs = append(rt.Configs, c)
	}
	return rt
}

func TestFakeCreateTopics_Errors(t *testing.T) {
	fake, addr := fakeWithTopic(t, 1)
	fake.SetVoters(1, 2, 3)
	for _, tc := range []struct {
		req  *kmsg.CreateTopicsRequest
		want *kerr.Error
	}{
		{createReq(false, createTopic("twice", 1, -1), createTopic("twice", 1, -1)), kerr.InvalidRequest},
		{createReq(false, createTopic("bad/name", 1, -1)), kerr.InvalidTopicException},
		{createReq(false, createTopic("zero", 0, -1)), kerr.InvalidPartitions},
		{createReq(false, createTopic("huge", cluster.MaxPartitions+1, -1)), kerr.InvalidPartitions},
		{createReq(false, createTopic("rf4", 1, 4)), kerr.InvalidReplicationFactor},
		{createReq(false, createTopic("conf", 1, -1, "retention.ms", "soon")), kerr.InvalidConfig},
		{createReq(false, createTopic("t", 1, -1)), kerr.TopicAlreadyExists},
	} {
		got := code(rawRequest(t, addr, tc.req).(*kmsg.CreateTopicsResponse).Topics[0].ErrorCode)
		if !errors.Is(got, tc.want) {
			t.Errorf("create %q: got %v, want %v", tc.req.Topics[0].Topic, got, tc.want)
		}
	}
	if _, ok := fake.Topic("twice"); ok {
		t.Error("a refused topic was created")
	}

	st := rawRequest(t, addr, createReq(true, createTopic("dry", 3, -1))).(*kmsg.CreateTopicsResponse).Topics[0]
	if _, ok := fake.Topic("dry"); st.ErrorCode != 0 || ok {
		t.Errorf("validate only: %v, created %v", code(st.ErrorCode), ok)
	}

	st = rawRequest(t, addr, createReq(false, createTopic("new", -1, -1))).(*kmsg.CreateTopicsResponse).Topics[0]
	nt, ok := fake.Topic("new")
	if st.ErrorCode != 0 || !ok || nt.Partitions != 1 || nt.Configs["retention.bytes"] != "1000" {
		t.Fatalf("create: %v; topic %+v (%v)", code(st.ErrorCode), nt, ok)
	}

	fake.SetLeader(2)
	st = rawRequest(t, addr, createReq(false, createTopic("elsewhere", 1, -1))).(*kmsg.CreateTopicsResponse).Topics[0]
	if !errors.Is(code(st.ErrorCode), kerr.NotController) {
		t.Errorf("create on a follower: %v, want NOT_CONTROLLER", code(st.ErrorCode))
	}
}

func TestFakeDeleteTopics_ControllerOnly(t *testing.T) {
	fake, addr := fakeWithTopic(t, 1)
	del := func(name string) error {
		req := kmsg.NewPtrDeleteTopicsRequest()
		req.SetVersion(3)
		req.TimeoutMillis = 5000
		req.TopicNames = []string{name}
		return code(rawRequest(t, addr, req).(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode)
	}
	fake.SetLeader(2)
	if err := del("t"); !errors.Is(err, kerr.NotController) {
		t.Errorf("delete on a follower: %v, want NOT_CONTROLLER", err)
	}
	fake.SetLeader(1)
	if err := del("nope"); !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("delete unknown: %v", err)
	}
	if err := del("t"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, ok := fake.Topic("t"); ok {
		t.Error("deleted topic still there")
	}
}

func TestFakeMetadata_AutoCreateOnFollower_LeaderNotAvailableThenListed(t *testing.T) {
	fake := clusterfake.New(1)
	fake.SetLeader(2) // a follower: the creation is forwarded
	addr := listen(t, fake)
	meta := func() kmsg.MetadataResponseTopic {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(8)
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr("auto")
		req.Topics = append(req.Topics, rt)
		req.AllowAutoTopicCreation = true
		return rawRequest(t, addr, req).(*kmsg.MetadataResponse).Topics[0]
	}
	if mt := meta(); !errors.Is(code(mt.ErrorCode), kerr.LeaderNotAvailable) {
		t.Fatalf("first metadata: %v, want LEADER_NOT_AVAILABLE", code(mt.ErrorCode))
	}
	mt := meta()
	if mt.ErrorCode != 0 || len(mt.Partitions) != 1 || mt.Partitions[0].Leader != 2 {
		t.Fatalf("after auto-create: %v, %d partitions", code(mt.ErrorCode), len(mt.Partitions))
	}
}

func TestFakeInitProducerID_NoLeader_CoordinatorNotAvailable(t *testing.T) {
	fake := clusterfake.New(1)
	addr := listen(t, fake)
	init := func() *kmsg.InitProducerIDResponse {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.SetVersion(1)
		return rawRequest(t, addr, req).(*kmsg.InitProducerIDResponse)
	}
	if r := init(); r.ErrorCode != 0 || r.ProducerID != 0 {
		t.Fatalf("on the leader: %v, id %d", code(r.ErrorCode), r.ProducerID)
	}
	fake.SetLeader(-1)
	if r := init(); !errors.Is(code(r.ErrorCode), kerr.CoordinatorNotAvailable) || r.ProducerID != -1 {
		t.Fatalf("with no leader: %v, id %d", code(r.ErrorCode), r.ProducerID)
	}
}
