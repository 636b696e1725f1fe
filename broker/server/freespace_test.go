package server_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/recordbatch/batchtest"
	"github.com/raftline/raftline/broker/server"
)

// A cluster whose free-space floor is above what its filesystem holds (the
// filesystem's own size: free space never reaches it) refuses produces with
// KAFKA_STORAGE_ERROR and writes nothing. A franz-go producer keeps retrying
// the records rather than failing them, and once the floor is lowered they
// land, each once.
func TestCluster_BelowFreeSpaceFloor_ProducesRefusedRetriably_TakenOnceLowered(t *testing.T) {
	eachStorage(t, func(t *testing.T, opts clustertest.Options) {
		var st syscall.Statfs_t
		if err := syscall.Statfs(t.TempDir(), &st); err != nil {
			t.Fatal(err)
		}
		capacity := int64(st.Blocks) * int64(st.Bsize)
		c := clustertest.Start(t, configured(opts, func(cfg *server.Config) { cfg.StorageMinFreeBytes = capacity }))
		c.CreateTopic("floor", 1) // metadata is not refused
		ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 60*time.Second)
		defer cancel()
		// franz-go refreshes metadata before retrying KAFKA_STORAGE_ERROR,
		// no sooner than its metadata min age (5s by default).
		cl := c.Client(kgo.DefaultProduceTopic("floor"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.MetadataMinAge(100*time.Millisecond))

		leader := c.Leader()
		req := kmsg.NewPtrProduceRequest()
		req.SetVersion(7)
		req.Acks, req.TimeoutMillis = -1, 5000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = "floor"
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batchtest.Plain(time.Now().UnixMilli(), "refused")
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(leader.ID)))
		if err != nil {
			t.Fatal(err)
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 56 {
			t.Fatalf("leader below its floor answered error code %d, want 56 (KAFKA_STORAGE_ERROR)", code)
		}

		values := []string{"a", "b", "c"}
		done := make(chan error, 1)
		go func() {
			var rs []*kgo.Record
			for _, v := range values {
				rs = append(rs, &kgo.Record{Value: []byte(v)})
			}
			done <- cl.ProduceSync(ctx, rs...).FirstErr()
		}()
		clustertest.Wait(t, 30*time.Second, "the producer to retry its refused records", func() error {
			select {
			case err := <-done:
				return fmt.Errorf("ProduceSync returned while every produce is refused: %v", err)
			default:
			}
			if n := leader.Server().FreeSpace.Refused(); n < 4 {
				return fmt.Errorf("the leader refused %d produces", n)
			}
			return nil
		})
		if _, next := partitionOffsets(t, leader); next != 0 {
			t.Fatalf("refused produces were written: high watermark %d", next)
		}

		for _, n := range c.Nodes {
			n.Server().FreeSpace.SetMinFreeBytes(0)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("after the floor was lowered the producer failed: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("the producer's records did not land after the floor was lowered")
		}
		c.WaitReplicasIdentical()
		consumer := c.Client(kgo.ConsumeTopics("floor"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got []string
		for len(got) < len(values) {
			fs := consumer.PollFetches(ctx)
			if err := ctx.Err(); err != nil {
				t.Fatalf("consumed %q: %v", got, err)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
		}
		if _, next := partitionOffsets(t, c.Leader()); fmt.Sprint(got) != fmt.Sprint(values) || next != int64(len(values)) {
			t.Fatalf("partition holds %q up to offset %d, want %q, each once", got, next, values)
		}
	})
}

func partitionOffsets(t *testing.T, n *clustertest.Node) (start, next int64) {
	t.Helper()
	p, err := n.Server().Cluster.Partition("floor", 0)
	if err != nil {
		t.Fatal(err)
	}
	return p.Offsets()
}
