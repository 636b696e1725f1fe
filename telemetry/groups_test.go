package telemetry_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/telemetry"
)

// A node whose telemetry caps consumer lag series (raftline serve
// --consumer-lag-max-series) exports the group-partitions with the largest
// lag, from every node, and counts the one left out at each scrape: a real
// group consumer commits on three partitions, then records arrive on two of
// them.
func TestCluster_ConsumerLag_CapKeepsTheLargestLagsOnEveryNode(t *testing.T) {
	c, _ := startCluster(t, 3, func(id int32) telemetry.Config {
		return telemetry.Config{NodeID: id, Version: "test", ConsumerLagMaxSeries: 2}
	})
	const topic, group = "capped", "capped-group"
	c.CreateTopic(topic, 3)
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 60*time.Second)
	defer cancel()
	producer := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produce := func(perPartition ...int) {
		t.Helper()
		var rs []*kgo.Record
		for p, n := range perPartition {
			for i := range n {
				rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(p), Value: []byte(fmt.Sprint(p, "-", i))})
			}
		}
		if err := producer.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	produce(10, 10, 10)
	consumer := c.Client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	for got := 0; got < 30; {
		fs := consumer.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of 30: %v", got, ctx.Err())
		}
		got += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	// Lags 5, 3 and 0: the cap of 2 leaves partition 2 out.
	produce(5, 3, 0)

	for _, n := range c.Nodes {
		clustertest.Wait(t, 30*time.Second, fmt.Sprintf("node %d to export the two largest lags", n.ID), func() error {
			fams := scrape(t, n)
			got := map[string]float64{}
			for _, m := range fams["raftline_consumer_group_lag"].GetMetric() {
				ls := labels(m)
				if ls["group"] == group {
					got[ls["partition"]] = m.GetGauge().GetValue()
				}
			}
			if want := map[string]float64{"0": 5, "1": 3}; len(got) != 2 || got["0"] != want["0"] || got["1"] != want["1"] {
				return fmt.Errorf("lag by partition %v, want %v", got, want)
			}
			for _, name := range []string{"raftline_consumer_group_lag_seconds", "raftline_consumer_group_committed_offset"} {
				var parts []string
				for _, m := range fams[name].GetMetric() {
					parts = append(parts, labels(m)["partition"])
				}
				if slices.Sort(parts); !slices.Equal(parts, []string{"0", "1"}) {
					return fmt.Errorf("%s for partitions %v, want [0 1]", name, parts)
				}
			}
			if v := value(fams, "raftline_consumer_group_series_dropped_total", nil); v < 1 {
				return fmt.Errorf("raftline_consumer_group_series_dropped_total = %v", v)
			}
			return nil
		})
	}
}
