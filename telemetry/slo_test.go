package telemetry_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/recordbatch/batchtest"
)

// The produce availability SLI counts every partition of every answered
// Produce request by its outcome, exactly, and the latency SLI every answered
// Produce whose partitions were all written: raw requests with a known
// number of partitions each, to the leader and to a follower, with written,
// refused (unknown partition) and misdirected (not the leader) partitions,
// and acks=0 requests that are answered nothing and counted nowhere.
func TestCluster_Metrics_ProduceSLI_CountsEveryPartitionByOutcome(t *testing.T) {
	c, _ := startCluster(t, 3, nil)
	const topic = "sli"
	c.CreateTopic(topic, 3)
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 60*time.Second)
	defer cancel()
	// The client sets a Produce request's acks to its own setting.
	clients := map[int16]*kgo.Client{
		-1: c.Client(),
		1:  c.Client(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()),
		0:  c.Client(kgo.RequiredAcks(kgo.NoAck()), kgo.DisableIdempotentWrite()),
	}
	requests := map[int32]float64{}
	leader := c.Leader()
	follower := c.Followers()[0]

	// send produces one request with a batch for each of parts, and
	// returns the error codes the broker answered per partition.
	send := func(n *clustertest.Node, acks int16, parts ...int32) []int16 {
		t.Helper()
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = acks, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		for _, p := range parts {
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Partition = p
			rp.Records = batchtest.Plain(time.Now().UnixMilli(), "a", "b")
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		requests[n.ID]++
		cl := clients[acks]
		if acks == 0 {
			// No answer: write it and leave it.
			if _, err := cl.Broker(int(n.ID)).Request(ctx, req); err != nil {
				t.Fatalf("acks=0 produce to node %d: %v", n.ID, err)
			}
			return nil
		}
		resp, err := req.RequestWith(ctx, cl.Broker(int(n.ID)))
		if err != nil {
			t.Fatalf("produce to node %d: %v", n.ID, err)
		}
		var codes []int16
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				codes = append(codes, rp.ErrorCode)
			}
		}
		return codes
	}
	type want struct{ ok, unknown, notLeader, durations float64 }
	expect := map[int32]*want{leader.ID: {}, follower.ID: {}}
	tally := func(n *clustertest.Node, codes []int16) {
		w := expect[n.ID]
		all := true
		for _, code := range codes {
			switch code {
			case 0:
				w.ok++
			case 3:
				w.unknown++
				all = false
			case 6:
				w.notLeader++
				all = false
			default:
				t.Fatalf("node %d answered error code %d", n.ID, code)
			}
		}
		if all {
			w.durations++
		}
	}
	for range 5 {
		tally(leader, send(leader, -1, 0, 1, 2)) // three written
		tally(leader, send(leader, 1, 1))        // one written, acks=1
		tally(leader, send(leader, -1, 0, 99))   // one written, one unknown
		tally(follower, send(follower, -1, 0, 1))
	}
	if w := expect[leader.ID]; w.ok != 25 || w.unknown != 5 || w.durations != 10 {
		t.Fatalf("leader answered %+v, want 25 written, 5 unknown, 10 fully written requests", *w)
	}
	if w := expect[follower.ID]; w.notLeader != 10 {
		t.Fatalf("follower answered %+v, want 10 NOT_LEADER_OR_FOLLOWER", *w)
	}
	// acks=0: nothing answered, nothing counted, on either node. The
	// scrapes below wait for every request to be handled
	// (raftline_kafka_requests_total), acks=0 ones included.
	send(leader, 0, 0, 1)
	send(follower, 0, 0)

	for _, n := range []*clustertest.Node{leader, follower} {
		w := expect[n.ID]
		clustertest.Wait(t, 30*time.Second, fmt.Sprintf("node %d's produce SLI counters", n.ID), func() error {
			fams := scrape(t, n)
			got := want{
				ok:        value(fams, "raftline_produce_partition_requests_total", map[string]string{"error_code": "NONE"}),
				unknown:   value(fams, "raftline_produce_partition_requests_total", map[string]string{"error_code": "UNKNOWN_TOPIC_OR_PARTITION"}),
				notLeader: value(fams, "raftline_produce_partition_requests_total", map[string]string{"error_code": "NOT_LEADER_OR_FOLLOWER"}),
				durations: value(fams, "raftline_produce_duration_seconds", nil),
			}
			all := value(fams, "raftline_produce_partition_requests_total", nil)
			if r := value(fams, "raftline_kafka_requests_total", map[string]string{"api": "Produce"}); r != requests[n.ID] {
				return fmt.Errorf("%v Produce requests handled of %v sent", r, requests[n.ID])
			}
			if got != *w || all != w.ok+w.unknown+w.notLeader {
				return fmt.Errorf("counted %+v (%v partitions in all), want %+v", got, all, *w)
			}
			return nil
		})
	}
	// A third node that was sent nothing exports the written outcome at 0.
	for _, n := range c.Nodes {
		if n == leader || n == follower {
			continue
		}
		fams := scrape(t, n)
		f := fams["raftline_produce_partition_requests_total"]
		if f == nil || len(f.Metric) != 1 || value(fams, "raftline_produce_partition_requests_total", map[string]string{"error_code": "NONE"}) != 0 {
			t.Errorf("node %d (sent nothing): raftline_produce_partition_requests_total = %v, want only error_code=NONE at 0", n.ID, f)
		}
	}
}
