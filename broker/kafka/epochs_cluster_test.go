package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/clustertest"
)

func termOf(n *clustertest.Node) int32 { return int32(n.Server().Node.Raft().CurrentTerm()) }

// waitMetadataEpoch waits until every running node's Metadata answers the
// topic's partitions with the leader epoch.
func waitMetadataEpoch(t *testing.T, c *clustertest.Cluster, cl *kgo.Client, topic string, epoch int32) {
	t.Helper()
	clustertest.Wait(t, 15*time.Second, "metadata epoch "+strconv.Itoa(int(epoch)), func() error {
		for _, n := range c.Nodes {
			if !n.Up() {
				continue
			}
			req := kmsg.NewPtrMetadataRequest()
			mt := kmsg.NewMetadataRequestTopic()
			mt.Topic = kmsg.StringPtr(topic)
			req.Topics = append(req.Topics, mt)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := cl.Broker(int(n.ID)).Request(ctx, req)
			cancel()
			if err != nil {
				return fmt.Errorf("node %d: %v", n.ID, err)
			}
			for _, p := range resp.(*kmsg.MetadataResponse).Topics[0].Partitions {
				if p.LeaderEpoch != epoch {
					return fmt.Errorf("node %d: partition %d at epoch %d", n.ID, p.Partition, p.LeaderEpoch)
				}
			}
		}
		return nil
	})
}

// keysSent counts the requests a client wrote, by API key.
type keysSent struct {
	mu sync.Mutex
	n  map[int16]int
}

func (k *keysSent) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		k.mu.Lock()
		k.n[key]++
		k.mu.Unlock()
	}
}

func (k *keysSent) count(key int16) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n[key]
}

// consumeN polls until n more records arrive, failing on any fetch error
// (a truncation the client detected is ErrDataLoss).
func consumeN(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(out), n)
		}
		for _, e := range fs.Errors() {
			var loss *kgo.ErrDataLoss
			if errors.As(e.Err, &loss) {
				t.Fatalf("the consumer detected data loss: %v", e.Err)
			}
			t.Logf("fetch error (retried): %s/%d: %v", e.Topic, e.Partition, e.Err)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// Across a leader failover a franz-go consumer keeps its position: the new
// leader's epoch is in Metadata, batches carry the epoch that wrote them,
// and OffsetForLeaderEpoch answers the old epoch's end where the consumer
// is, so the client's truncation check passes; no record is lost or
// delivered twice.
func TestLeaderEpochs_FollowTheRaftTerm_AcrossAFailover(t *testing.T) {
	c, cl := setup(t, "t", 1)
	old := c.Leader()
	t1 := termOf(old)
	waitMetadataEpoch(t, c, cl, "t", t1)
	producer := c.Client(kgo.RecordRetries(20))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	produce := func(from, n int) {
		for i := from; i < from+n; i++ {
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, 20)
	sent := &keysSent{n: map[int16]int{}}
	consumer := c.Client(kgo.WithHooks(sent), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"t": {0: kgo.NewOffset().AtStart()}}))
	got := consumeN(t, consumer, 20)

	c.Kill(old)
	leader := c.Leader()
	t2 := termOf(leader)
	if t2 <= t1 {
		t.Fatalf("new leader's term %d, old %d", t2, t1)
	}
	waitMetadataEpoch(t, c, cl, "t", t2)
	produce(20, 20)
	got = append(got, consumeN(t, consumer, 20)...)
	for i, r := range got {
		want := t1
		if i >= 20 {
			want = t2
		}
		if r.Offset != int64(i) || string(r.Value) != strconv.Itoa(i) || r.LeaderEpoch != want {
			t.Fatalf("record %d: offset %d value %q epoch %d; want offset %d epoch %d", i, r.Offset, r.Value, r.LeaderEpoch, i, want)
		}
	}

	if sent.count(23) == 0 {
		t.Errorf("the consumer never checked its position with OffsetForLeaderEpoch after the epoch changed")
	}

	// The answers a client's truncation check gets, through kadm.
	adm := kadm.NewClient(cl)
	for _, tc := range []struct {
		asked, epoch int32
		end          int64
	}{{t1, t1, 20}, {t2, t2, 40}, {t1 - 1, t1 - 1, 0}, {t2 + 1, -1, -1}} {
		res, err := adm.OffsetForLeaderEpoch(ctx, kadm.OffsetForLeaderEpochRequest{"t": {0: tc.asked}})
		if err != nil {
			t.Fatal(err)
		}
		if r := res["t"][0]; r.Err != nil || r.LeaderEpoch != tc.epoch || r.EndOffset != tc.end {
			t.Errorf("epoch %d: %+v; want epoch %d ending at %d", tc.asked, r, tc.epoch, tc.end)
		}
	}
	// A stale or future current epoch, and a follower.
	ask := func(node, current int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.CurrentLeaderEpoch, rp.LeaderEpoch = current, t1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return request(t, cl, node, req).(*kmsg.OffsetForLeaderEpochResponse).Topics[0].Partitions[0]
	}
	if p := ask(leader.ID, t1); p.ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Errorf("current epoch %d on the leader at %d: %v, want FENCED_LEADER_EPOCH", t1, t2, kerr.ErrorForCode(p.ErrorCode))
	}
	if p := ask(leader.ID, t2+1); p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Errorf("current epoch %d: %v, want UNKNOWN_LEADER_EPOCH", t2+1, kerr.ErrorForCode(p.ErrorCode))
	}
	if p := ask(leader.ID, t2); p.ErrorCode != 0 || p.EndOffset != 20 {
		t.Errorf("current epoch %d: %v end %d, want 20", t2, kerr.ErrorForCode(p.ErrorCode), p.EndOffset)
	}
	if p := ask(c.Followers()[0].ID, t2); p.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Errorf("follower: %v, want NOT_LEADER_OR_FOLLOWER", kerr.ErrorForCode(p.ErrorCode))
	}

	// Fetch and ListOffsets check the current epoch too, and ListOffsets
	// answers the epoch of the offset.
	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "t"
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes, fp.CurrentLeaderEpoch = 1<<20, t1
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	if p := request(t, cl, leader.ID, fetch).(*kmsg.FetchResponse).Topics[0].Partitions[0]; p.ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Errorf("fetch at epoch %d: %v, want FENCED_LEADER_EPOCH", t1, kerr.ErrorForCode(p.ErrorCode))
	}
	starts, err := adm.ListStartOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := starts.Lookup("t", 0); s.LeaderEpoch != t1 {
		t.Errorf("start offset's epoch %d, want %d", s.LeaderEpoch, t1)
	}
	if e, _ := ends.Lookup("t", 0); e.LeaderEpoch != t2 || e.Offset != 40 {
		t.Errorf("end offset %d at epoch %d, want 40 at %d", e.Offset, e.LeaderEpoch, t2)
	}

	// The old leader, back, answers with the same epoch.
	c.StartNode(old)
	c.WaitStable()
	waitMetadataEpoch(t, c, cl, "t", termOf(c.Leader()))
}
