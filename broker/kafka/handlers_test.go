package kafka_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
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

// A leader below its free-space floor refuses produces before proposing
// them: KAFKA_STORAGE_ERROR, which clients retry, or NOT_LEADER_OR_FOLLOWER
// for Produce v3, which predates it; nothing is written, and produces are
// taken again once the floor is met.
func TestFakeProduce_BelowFreeSpaceFloor_RetriableStorageErrorNothingWritten(t *testing.T) {
	fake, addr := fakeWithTopic(t, 1)
	var below sync.Mutex
	refusing := true
	fake.GateProduces(func() error {
		below.Lock()
		defer below.Unlock()
		if refusing {
			return fmt.Errorf("%w: 10MiB free, floor 1GiB", cluster.ErrNoSpace)
		}
		return nil
	})
	for version, want := range map[int16]*kerr.Error{8: kerr.KafkaStorageError, 7: kerr.KafkaStorageError, 4: kerr.KafkaStorageError, 3: kerr.NotLeaderForPartition} {
		req := produceReq("t", 0, -1, rawBatch("x"))
		req.SetVersion(version)
		p := rawRequest(t, addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]
		if got := code(p.ErrorCode); !errors.Is(got, want) || p.BaseOffset != -1 {
			t.Errorf("Produce v%d below the floor: %v at %d, want %v at -1", version, got, p.BaseOffset, want)
		}
	}
	part, _ := fake.Partition("t", 0)
	if _, next := part.Offsets(); next != 0 {
		t.Fatalf("refused produces were written: high watermark %d", next)
	}
	below.Lock()
	refusing = false
	below.Unlock()
	req := produceReq("t", 0, -1, rawBatch("x"))
	req.SetVersion(8)
	if p := rawRequest(t, addr, req).(*kmsg.ProduceResponse).Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("floor met again: %v at %d, want offset 0", code(p.ErrorCode), p.BaseOffset)
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

// lagging is a node that has not applied some topics yet: the next lookups
// of a name (Topic) miss, as they do on a follower between the leader
// applying a creation and the entry reaching it.
type lagging struct {
	*clusterfake.Cluster
	mu     sync.Mutex
	misses map[string]int
}

// miss makes the next n lookups of name miss.
func (g *lagging) miss(name string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.misses == nil {
		g.misses = map[string]int{}
	}
	g.misses[name] = n
}

func (g *lagging) Topic(name string) (cluster.Topic, bool) {
	g.mu.Lock()
	if g.misses[name] > 0 {
		g.misses[name]--
		g.mu.Unlock()
		return cluster.Topic{}, false
	}
	g.mu.Unlock()
	return g.Cluster.Topic(name)
}

// logBuffer collects a listener's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// lines are the logged lines containing s.
func (b *logBuffer) lines(s string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.b.String(), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// listenLogged serves c with auto-creation on (2 partitions by default) and
// its log in the returned buffer.
func listenLogged(t *testing.T, c kafka.Cluster) (string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	l := kafka.New(kafka.Config{NodeID: 1, Addr: "127.0.0.1:0", AutoCreateTopics: true, DefaultPartitions: 2,
		Logger: slog.New(slog.NewTextHandler(logs, nil))}, c)
	if err := l.Listen(); err != nil {
		t.Fatal(err)
	}
	go l.Serve()
	t.Cleanup(func() { l.Close() })
	return l.Addr(), logs
}

func autoCreateMetadata(t *testing.T, addr, topic string) kmsg.MetadataResponseTopic {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	req.SetVersion(8)
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	return rawRequest(t, addr, req).(*kmsg.MetadataResponse).Topics[0]
}

// checkLed fails unless mt lists the topic's partitions, each led by leader.
func checkLed(t *testing.T, what string, mt kmsg.MetadataResponseTopic, partitions int, leader int32) {
	t.Helper()
	if mt.ErrorCode != 0 || len(mt.Partitions) != partitions {
		t.Fatalf("%s: %v, %d partitions; want the topic's %d partitions at once", what, code(mt.ErrorCode), len(mt.Partitions), partitions)
	}
	for _, p := range mt.Partitions {
		if p.ErrorCode != 0 || p.Leader != leader {
			t.Fatalf("%s: partition %d: %v, leader %d; want leader %d", what, p.Partition, code(p.ErrorCode), p.Leader, leader)
		}
	}
}

func TestFakeMetadata_AutoCreateOnLeader_FirstAnswerCarriesLeaderAndLogsOnce(t *testing.T) {
	fake := clusterfake.New(1)
	addr, logs := listenLogged(t, fake)
	checkLed(t, "first metadata", autoCreateMetadata(t, addr, "auto"), 2, 1)
	checkLed(t, "second metadata", autoCreateMetadata(t, addr, "auto"), 2, 1)
	if got := logs.lines("auto-created topic"); len(got) != 1 || !strings.Contains(got[0], "topic=auto partitions=2") {
		t.Fatalf("logged %q, want one auto-created line with partitions=2", got)
	}
}

func TestFakeMetadata_AutoCreateOnFollower_WaitsToApplyThenCarriesLeader(t *testing.T) {
	fake := clusterfake.New(1)
	fake.SetLeader(2) // a follower: the creation is forwarded
	g := &lagging{Cluster: fake}
	addr, logs := listenLogged(t, g)
	// The request's own lookup, then two more while the entry is on its
	// way: the answer must wait for it rather than say LEADER_NOT_AVAILABLE.
	g.miss("auto", 3)
	checkLed(t, "first metadata", autoCreateMetadata(t, addr, "auto"), 2, 2)
	if got := logs.lines("auto-created topic"); len(got) != 1 {
		t.Fatalf("logged %q, want one auto-created line", got)
	}
}

func TestFakeMetadata_AutoCreateOfTopicCreatedElsewhere_NotLoggedRealPartitions(t *testing.T) {
	fake := clusterfake.New(1)
	g := &lagging{Cluster: fake}
	addr, logs := listenLogged(t, g)
	// Created with 3 partitions through CreateTopics, not yet applied
	// here: the auto-creation finds it already exists.
	if err := fake.CreateTopic(context.Background(), cluster.TopicSpec{Name: "made", Partitions: 3}); err != nil {
		t.Fatal(err)
	}
	g.miss("made", 2)
	checkLed(t, "metadata", autoCreateMetadata(t, addr, "made"), 3, 1)
	if got := logs.lines("auto-created"); len(got) != 0 {
		t.Fatalf("logged %q for a topic this node did not create", got)
	}
}

func TestFakeMetadata_AutoCreateWithNoLeader_LeaderNotAvailable(t *testing.T) {
	fake := clusterfake.New(1)
	fake.SetLeader(-1)
	addr, logs := listenLogged(t, fake)
	if mt := autoCreateMetadata(t, addr, "auto"); !errors.Is(code(mt.ErrorCode), kerr.LeaderNotAvailable) {
		t.Fatalf("with no leader: %v, want LEADER_NOT_AVAILABLE", code(mt.ErrorCode))
	}
	if mt := autoCreateMetadata(t, addr, "bad/name"); !errors.Is(code(mt.ErrorCode), kerr.InvalidTopicException) {
		t.Fatalf("bad name: %v, want INVALID_TOPIC_EXCEPTION", code(mt.ErrorCode))
	}
	if got := logs.lines("auto-created"); len(got) != 0 {
		t.Fatalf("logged %q, nothing was created", got)
	}
}

func TestFakeFindCoordinator_GroupsAnswerTheLeader_TransactionsNamedHere(t *testing.T) {
	fake := clusterfake.New(1)
	addr := listen(t, fake)
	find := func(version int16, keyType int8) *kmsg.FindCoordinatorResponse {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.SetVersion(version)
		req.CoordinatorKey, req.CoordinatorType = "key", keyType
		return rawRequest(t, addr, req).(*kmsg.FindCoordinatorResponse)
	}
	host, port, _ := net.SplitHostPort(addr)
	for _, v := range []int16{0, 1, 2} {
		if r := find(v, 0); r.ErrorCode != 0 || r.NodeID != 1 || r.Host != host || strconv.Itoa(int(r.Port)) != port {
			t.Errorf("v%d group: %v, node %d at %s:%d; want the leader, this node, %s", v, code(r.ErrorCode), r.NodeID, r.Host, r.Port, addr)
		}
	}
	if r := find(1, 1); r.ErrorCode != 0 || r.NodeID != 1 || r.Host != host || strconv.Itoa(int(r.Port)) != port {
		t.Errorf("transaction: %v, node %d at %s:%d; want this node, %s", code(r.ErrorCode), r.NodeID, r.Host, r.Port, addr)
	}
	if r := find(2, 2); !errors.Is(code(r.ErrorCode), kerr.InvalidRequest) {
		t.Errorf("key type 2: %v, want INVALID_REQUEST", code(r.ErrorCode))
	}

	// v4 batches keys; kgo speaks it (flexible) and asks for it.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrFindCoordinatorRequest()
	req.CoordinatorKeys = []string{"a", "b"}
	resp, err := req.RequestWith(context.Background(), cl.SeedBrokers()[0])
	if err != nil {
		t.Fatal(err)
	}
	if resp.Version != 4 || len(resp.Coordinators) != 2 || resp.Coordinators[1].Key != "b" || resp.Coordinators[1].NodeID != 1 {
		t.Fatalf("v%d batch of groups: %+v", resp.Version, resp.Coordinators)
	}

	// With no leader known, the group's coordinator is not available yet.
	fake.SetLeader(-1)
	if r := find(1, 0); !errors.Is(code(r.ErrorCode), kerr.CoordinatorNotAvailable) || r.NodeID != -1 {
		t.Errorf("group with no leader: %v, node %d; want COORDINATOR_NOT_AVAILABLE", code(r.ErrorCode), r.NodeID)
	}
}

func TestFakeInitProducerID_Transactional_RefusedFatally(t *testing.T) {
	fake := clusterfake.New(1)
	addr := listen(t, fake)
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(1)
	req.TransactionalID = kmsg.StringPtr("txn")
	r := rawRequest(t, addr, req).(*kmsg.InitProducerIDResponse)
	if !errors.Is(code(r.ErrorCode), kerr.TransactionalIDAuthorizationFailed) || r.ProducerID != -1 {
		t.Fatalf("transactional id: %v, id %d; want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", code(r.ErrorCode), r.ProducerID)
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
