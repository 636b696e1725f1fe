package kafka_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/broker/server"
)

// The tests in this file run real clusters: the listener on raftcluster.
var _ kafka.Cluster = (*raftcluster.Cluster)(nil)

// rawBatch builds a valid record batch holding values, offsets from 0.
func rawBatch(values ...string) []byte {
	now := time.Now().UnixMilli()
	b := kmsg.RecordBatch{Magic: 2, FirstTimestamp: now, MaxTimestamp: now, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(values)), LastOffsetDelta: int32(len(values) - 1)}
	var recs []byte
	for i, v := range values {
		r := kmsg.Record{OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		recs = r.AppendTo(recs)
	}
	b.Records = recs
	raw := b.AppendTo(nil)
	// Fill in the length and CRC the way a producer does.
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12))
	binary.BigEndian.PutUint32(raw[17:], crc32c(raw[21:]))
	return raw
}

func produceReq(topic string, partition int32, acks int16, records []byte) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.Acks = acks
	req.TimeoutMillis = 10000
	t := kmsg.NewProduceRequestTopic()
	t.Topic = topic
	p := kmsg.NewProduceRequestTopicPartition()
	p.Partition = partition
	p.Records = records
	t.Partitions = append(t.Partitions, p)
	req.Topics = append(req.Topics, t)
	return req
}

func request(t *testing.T, cl *kgo.Client, node int32, req kmsg.Request) kmsg.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := cl.Broker(int(node)).Request(ctx, req)
	if err != nil {
		t.Fatalf("%T to node %d: %v", req, node, err)
	}
	return resp
}

func setup(t *testing.T, topic string, partitions int32) (*clustertest.Cluster, *kgo.Client) {
	c := clustertest.Start(t, clustertest.Options{})
	cl := c.Client()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, -1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 10000
	resp := request(t, cl, c.Leader().ID, req).(*kmsg.CreateTopicsResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	clustertest.WaitFor(t, 10*time.Second, "every node to apply the topic", func() bool {
		for _, n := range c.Nodes {
			if _, ok := n.Server().Cluster.Topic(topic); !ok {
				return false
			}
		}
		return true
	})
	return c, cl
}

// highWatermark reads a partition's offsets on a running node.
func highWatermark(t *testing.T, n *clustertest.Node, topic string, partition int32) (start, next int64) {
	t.Helper()
	p, err := n.Server().Cluster.Partition(topic, partition)
	if err != nil {
		t.Fatalf("node %d, %s/%d: %v", n.ID, topic, partition, err)
	}
	return p.Offsets()
}

func TestProduce_OnFollower_NotLeaderOrFollower(t *testing.T) {
	c, cl := setup(t, "t", 1)
	f := c.Followers()[0]
	resp := request(t, cl, f.ID, produceReq("t", 0, -1, rawBatch("x"))).(*kmsg.ProduceResponse)
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.NotLeaderForPartition.Code {
		t.Fatalf("follower answered %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(got))
	}
	if _, next := highWatermark(t, f, "t", 0); next != 0 {
		t.Fatalf("follower's refused write was applied: high watermark %d", next)
	}
}

func TestProduce_BadCRC_CorruptMessageNothingWritten(t *testing.T) {
	c, cl := setup(t, "t", 1)
	leader := c.Leader()
	batch := rawBatch("a", "b")
	batch[len(batch)-1] ^= 0xff
	resp := request(t, cl, leader.ID, produceReq("t", 0, -1, batch)).(*kmsg.ProduceResponse)
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.CorruptMessage.Code {
		t.Fatalf("got %v, want CORRUPT_MESSAGE", kerr.ErrorForCode(got))
	}
	// A good batch afterwards gets offset 0: nothing of the bad one was written.
	resp = request(t, cl, leader.ID, produceReq("t", 0, -1, rawBatch("ok"))).(*kmsg.ProduceResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != 0 {
		t.Fatalf("good batch: %v at offset %d, want success at 0", kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
	}
}

func TestProduce_Acks0And1_RecordsLand(t *testing.T) {
	c, _ := setup(t, "t", 1)
	leader := c.Leader()
	// kgo sends a raw Produce with the client's configured acks.
	one := c.Client(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	resp := request(t, one, leader.ID, produceReq("t", 0, 1, rawBatch("one"))).(*kmsg.ProduceResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 {
		t.Fatalf("acks=1: %v", kerr.ErrorForCode(p.ErrorCode))
	}
	// acks=0 gets no response; the record still lands.
	zero := c.Client(kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := zero.Broker(int(leader.ID)).Request(ctx, produceReq("t", 0, 0, rawBatch("zero"))); err != nil {
		t.Fatalf("acks=0: %v", err)
	}
	c.WaitReplicasIdentical()
	clustertest.WaitFor(t, 10*time.Second, "both records on every node", func() bool {
		for _, n := range c.Nodes {
			if _, next := highWatermark(t, n, "t", 0); next != 2 {
				return false
			}
		}
		return true
	})
}

func TestProduce_InvalidAcks_InvalidRequiredAcks(t *testing.T) {
	c, _ := setup(t, "t", 1)
	req := produceReq("t", 0, 2, rawBatch("x"))
	req.SetVersion(7)
	resp := rawRequest(t, c.Leader().Cfg.Kafka.Addr, req).(*kmsg.ProduceResponse)
	if got := resp.Topics[0].Partitions[0].ErrorCode; got != kerr.InvalidRequiredAcks.Code {
		t.Fatalf("got %v, want INVALID_REQUIRED_ACKS", kerr.ErrorForCode(got))
	}
}

func TestListOffsets_EarliestLatestAndByTimestamp(t *testing.T) {
	c, cl := setup(t, "t", 1)
	leader := c.Leader()
	var stamps []int64
	for i := range 3 {
		b := rawBatch("r1", "r2")
		stamps = append(stamps, int64(binary.BigEndian.Uint64(b[35:43])))
		resp := request(t, cl, leader.ID, produceReq("t", 0, -1, b)).(*kmsg.ProduceResponse)
		if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 || p.BaseOffset != int64(2*i) {
			t.Fatalf("batch %d: %v at %d", i, kerr.ErrorForCode(p.ErrorCode), p.BaseOffset)
		}
		clustertest.WaitFor(t, 5*time.Second, "the clock to move", func() bool { return time.Now().UnixMilli() > stamps[i] })
	}
	list := func(ts int64) (int64, int16) {
		req := kmsg.NewPtrListOffsetsRequest()
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		p := request(t, cl, leader.ID, req).(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		return p.Offset, p.ErrorCode
	}
	if off, code := list(-2); code != 0 || off != 0 {
		t.Fatalf("earliest: %d %v", off, kerr.ErrorForCode(code))
	}
	if off, code := list(-1); code != 0 || off != 6 {
		t.Fatalf("latest: %d %v", off, kerr.ErrorForCode(code))
	}
	if off, _ := list(stamps[1]); off != 2 {
		t.Fatalf("by timestamp of batch 2: offset %d, want 2", off)
	}
	if off, _ := list(stamps[2] + 60_000); off != -1 {
		t.Fatalf("timestamp after every batch: offset %d, want -1", off)
	}
}

func TestFetch_LongPoll_WakesOnProduce(t *testing.T) {
	c, cl := setup(t, "t", 1)
	leader := c.Leader()
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 120_000 // far past the test's deadline: only a wake-up answers in time
	req.MinBytes = 1
	req.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)

	type result struct {
		resp kmsg.Response
		err  error
	}
	got := make(chan result, 1)
	fetcher := c.Client()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := fetcher.Broker(int(leader.ID)).Request(ctx, req)
		got <- result{resp, err}
	}()
	select {
	case r := <-got:
		t.Fatalf("fetch on an empty partition returned before any produce: %v", r.err)
	default:
	}
	request(t, cl, leader.ID, produceReq("t", 0, -1, rawBatch("wake")))
	r := <-got
	if r.err != nil {
		t.Fatalf("long poll did not wake on produce: %v", r.err)
	}
	p := r.resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
	if p.ErrorCode != 0 || p.HighWatermark != 1 || len(p.RecordBatches) == 0 {
		t.Fatalf("fetch: %v hw=%d %d bytes", kerr.ErrorForCode(p.ErrorCode), p.HighWatermark, len(p.RecordBatches))
	}
}

func TestCreateTopics_BadInput_ClearErrors(t *testing.T) {
	c, cl := setup(t, "exists", 1)
	cases := []struct {
		name       string
		partitions int32
		rf         int16
		config     map[string]string
		want       *kerr.Error
	}{
		{"bad/name", 1, -1, nil, kerr.InvalidTopicException},
		{"", 1, -1, nil, kerr.InvalidTopicException},
		{"zero-partitions", 0, -1, nil, kerr.InvalidPartitions},
		{"rf-too-big", 1, 4, nil, kerr.InvalidReplicationFactor},
		{"bad-config", 1, -1, map[string]string{"retention.ms": "soon"}, kerr.InvalidConfig},
		{"unknown-config", 1, -1, map[string]string{"compression.codec": "none"}, kerr.InvalidConfig},
		{"exists", 1, -1, nil, kerr.TopicAlreadyExists},
	}
	for _, tc := range cases {
		req := kmsg.NewPtrCreateTopicsRequest()
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic, rt.NumPartitions, rt.ReplicationFactor = tc.name, tc.partitions, tc.rf
		for k, v := range tc.config {
			cfg := kmsg.NewCreateTopicsRequestTopicConfig()
			cfg.Name, cfg.Value = k, kmsg.StringPtr(v)
			rt.Configs = append(rt.Configs, cfg)
		}
		req.Topics = append(req.Topics, rt)
		resp := request(t, cl, c.Leader().ID, req).(*kmsg.CreateTopicsResponse)
		if got := kerr.ErrorForCode(resp.Topics[0].ErrorCode); !errors.Is(got, tc.want) {
			t.Errorf("create %q: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// A follower is not the controller.
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "elsewhere", 1, -1
	req.Topics = append(req.Topics, rt)
	resp := request(t, cl, c.Followers()[0].ID, req).(*kmsg.CreateTopicsResponse)
	if got := kerr.ErrorForCode(resp.Topics[0].ErrorCode); !errors.Is(got, kerr.NotController) {
		t.Errorf("create on a follower: got %v, want NOT_CONTROLLER", got)
	}
}

func TestMetadata_AutoCreateOnFollower_ForwardedToLeader(t *testing.T) {
	c, cl := setup(t, "t", 1)
	f := c.Followers()[0]
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr("auto-created")
	req.Topics = append(req.Topics, rt)
	req.AllowAutoTopicCreation = true
	request(t, cl, f.ID, req)
	clustertest.WaitFor(t, 10*time.Second, "the auto-created topic on every node", func() bool {
		for _, n := range c.Nodes {
			if _, ok := n.Server().Cluster.Topic("auto-created"); !ok {
				return false
			}
		}
		return true
	})
	resp := request(t, cl, f.ID, req).(*kmsg.MetadataResponse)
	mt := resp.Topics[0]
	if mt.ErrorCode != 0 || len(mt.Partitions) != 1 || mt.Partitions[0].Leader != c.Leader().ID {
		t.Fatalf("metadata after auto-create: %v, %d partitions", kerr.ErrorForCode(mt.ErrorCode), len(mt.Partitions))
	}
	if len(resp.Brokers) != 3 || resp.ControllerID != c.Leader().ID {
		t.Fatalf("metadata lists %d brokers, controller %d", len(resp.Brokers), resp.ControllerID)
	}
}

// rawConn opens a plain TCP connection to a node's Kafka port.
func rawConn(t *testing.T, addr string) net.Conn {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	return conn
}

func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func header(key, version int16, corr int32) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(key))
	b = binary.BigEndian.AppendUint16(b, uint16(version))
	b = binary.BigEndian.AppendUint32(b, uint32(corr))
	return binary.BigEndian.AppendUint16(b, 0xffff) // null client id
}

// expectClosed waits for the server to close the connection.
func expectClosed(t *testing.T, conn net.Conn, what string) {
	t.Helper()
	buf := make([]byte, 1024)
	for {
		_, err := conn.Read(buf)
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || (err != nil && !isTimeout(err)) {
			return
		}
		if isTimeout(err) {
			t.Fatalf("%s: connection still open", what)
		}
	}
}

// rawRequest sends one non-flexible request on its own connection, so no
// client rewrites it, and decodes the response.
func rawRequest(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	if req.IsFlexible() {
		t.Fatal("rawRequest speaks only non-flexible versions")
	}
	conn := rawConn(t, addr)
	if _, err := conn.Write(frame(req.AppendTo(header(req.Key(), req.GetVersion(), 7)))); err != nil {
		t.Fatal(err)
	}
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	resp := req.ResponseKind()
	if err := resp.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	return resp
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestKafka_MalformedFrames_ConnectionClosedNodeKeepsServing(t *testing.T) {
	c, cl := setup(t, "t", 1)
	leader := c.Leader()
	addr := leader.Cfg.Kafka.Addr
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"oversized frame", binary.BigEndian.AppendUint32(nil, 1<<31-1)},
		{"negative size", binary.BigEndian.AppendUint32(nil, 0xffffffff)},
		{"size below a header", frame([]byte{0, 1})},
		{"unknown API key", frame(header(9999, 0, 1))},
		{"unsupported Produce version", frame(header(0, 99, 1))},
		{"garbage body", frame(append(header(3, 9, 1), 0xde, 0xad, 0xbe, 0xef))},
		{"truncated header", frame([]byte{0, 3, 0, 1, 0})},
	}
	for _, tc := range cases {
		conn := rawConn(t, addr)
		if _, err := conn.Write(tc.bytes); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		expectClosed(t, conn, tc.name)
	}
	// A frame whose body never arrives: the connection waits, then the
	// client gives up; the node is unaffected.
	conn := rawConn(t, addr)
	conn.Write(binary.BigEndian.AppendUint32(nil, 1000))
	conn.Close()

	// ApiVersions above the served range is answered with the served range.
	conn = rawConn(t, addr)
	conn.Write(frame(header(18, 99, 42)))
	var size [4]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		t.Fatalf("ApiVersions v99: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(conn, body); err != nil {
		t.Fatal(err)
	}
	if corr := int32(binary.BigEndian.Uint32(body)); corr != 42 {
		t.Fatalf("correlation id %d", corr)
	}
	av := kmsg.NewPtrApiVersionsResponse()
	av.Version = 0
	if err := av.ReadFrom(body[4:]); err != nil {
		t.Fatal(err)
	}
	if av.ErrorCode != kerr.UnsupportedVersion.Code || len(av.ApiKeys) == 0 {
		t.Fatalf("ApiVersions v99: error %d, %d keys", av.ErrorCode, len(av.ApiKeys))
	}

	// The node still serves real clients.
	resp := request(t, cl, leader.ID, produceReq("t", 0, -1, rawBatch("still here"))).(*kmsg.ProduceResponse)
	if p := resp.Topics[0].Partitions[0]; p.ErrorCode != 0 {
		t.Fatalf("after malformed input: %v", kerr.ErrorForCode(p.ErrorCode))
	}
}

func TestMetadata_ExternalListener_AdvertisesExternalAddresses(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) {
		cfg.Kafka.ExternalAddr = "127.0.0.1:0"
	}})
	primary, external := map[int32]string{}, map[int32]string{}
	for _, n := range c.Nodes {
		primary[n.ID] = n.Server().Kafka.AdvertisedAddr()
		external[n.ID] = n.Server().Kafka.AdvertisedExternalAddr()
	}
	clustertest.WaitFor(t, 10*time.Second, "external addresses registered", func() bool {
		for _, n := range c.Nodes {
			for _, m := range n.Server().Cluster.Brokers() {
				if m.ExternalKafkaAddr != external[m.ID] {
					return false
				}
			}
		}
		return true
	})
	brokers := func(addr string) map[int32]string {
		req := kmsg.NewPtrMetadataRequest()
		req.SetVersion(1)
		resp := rawRequest(t, addr, req).(*kmsg.MetadataResponse)
		out := map[int32]string{}
		for _, b := range resp.Brokers {
			out[b.NodeID] = net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
		}
		return out
	}
	n1 := c.Nodes[0].Server()
	if got := brokers(n1.Kafka.AdvertisedExternalAddr()); !maps.Equal(got, external) {
		t.Fatalf("external listener lists %v, want %v", got, external)
	}
	if got := brokers(n1.Kafka.AdvertisedAddr()); !maps.Equal(got, primary) {
		t.Fatalf("primary listener lists %v, want %v", got, primary)
	}
	// A client that only knows the external addresses produces and consumes.
	var seeds []string
	for _, a := range external {
		seeds = append(seeds, a)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("ext"),
		kgo.ConsumeTopics("ext"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("from outside")}).FirstErr(); err != nil {
		t.Fatalf("produce through the external listener: %v", err)
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal("consume through the external listener timed out")
		}
		if recs := fs.Records(); len(recs) > 0 {
			if string(recs[0].Value) != "from outside" {
				t.Fatalf("consumed %q", recs[0].Value)
			}
			return
		}
	}
}
