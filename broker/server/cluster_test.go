package server_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/server"
)

// ack is one acknowledged record: where the broker said it is.
type ack struct {
	partition int32
	offset    int64
	key       []byte
	value     []byte
}

// consumeAll reads every partition from the start up to want records per
// partition (by offset count) and returns them keyed by partition.
func consumeAll(t *testing.T, c *clustertest.Cluster, topic string, want map[int32]int64) map[int32][]*kgo.Record {
	t.Helper()
	offsets := map[int32]kgo.Offset{}
	for p := range want {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	got := map[int32][]*kgo.Record{}
	done := func() bool {
		for p, n := range want {
			if int64(len(got[p])) < n {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %v of %v before timing out", lens(got), want)
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = append(got[r.Partition], r) })
	}
	return got
}

func lens(m map[int32][]*kgo.Record) map[int32]int {
	out := map[int32]int{}
	for p, rs := range m {
		out[p] = len(rs)
	}
	return out
}

// verifyAcked checks that every acknowledged record is at its acknowledged
// offset with its bytes, so nothing acknowledged was lost or moved.
func verifyAcked(t *testing.T, c *clustertest.Cluster, topic string, acks []ack) {
	t.Helper()
	want := map[int32]int64{}
	for _, a := range acks {
		if a.offset+1 > want[a.partition] {
			want[a.partition] = a.offset + 1
		}
	}
	got := consumeAll(t, c, topic, want)
	byOffset := map[int32]map[int64]*kgo.Record{}
	for p, rs := range got {
		byOffset[p] = map[int64]*kgo.Record{}
		for _, r := range rs {
			byOffset[p][r.Offset] = r
		}
	}
	lost := 0
	for _, a := range acks {
		r := byOffset[a.partition][a.offset]
		if r == nil || !bytes.Equal(r.Value, a.value) || !bytes.Equal(r.Key, a.key) {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged record %s at %d/%d missing or different", a.value, a.partition, a.offset)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost", lost, len(acks))
	}
}

func TestCluster_DefaultKgoClient_ProduceConsumeInOrder(t *testing.T) {
	eachStorage(t, func(t *testing.T, opts clustertest.Options) {
		c := clustertest.Start(t, opts)
		c.CreateTopic("orders", 4)
		cl := c.Client(kgo.DefaultProduceTopic("orders"))
		ctx := clustertest.Ctx(t)

		var acks []ack
		for i := range 400 {
			r := &kgo.Record{
				Key:     []byte(fmt.Sprintf("key-%d", i%17)),
				Value:   bytes.Repeat([]byte{byte(i)}, 1+i*7%3000),
				Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(fmt.Sprint(i))}},
			}
			res := cl.ProduceSync(ctx, r)
			if err := res.FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
			got := res[0].Record
			acks = append(acks, ack{got.Partition, got.Offset, got.Key, got.Value})
		}
		// Offsets per partition are dense and increasing in produce order.
		next := map[int32]int64{}
		for _, a := range acks {
			if a.offset != next[a.partition] {
				t.Fatalf("partition %d: offset %d acknowledged, want %d", a.partition, a.offset, next[a.partition])
			}
			next[a.partition]++
		}
		if len(next) < 2 {
			t.Fatalf("records landed in %d partitions, want several", len(next))
		}
		verifyAcked(t, c, "orders", acks)

		// Headers and keys survive byte for byte, in order.
		got := consumeAll(t, c, "orders", next)
		for p, rs := range got {
			for i, r := range rs {
				if r.Offset != int64(i) {
					t.Fatalf("partition %d: record %d has offset %d", p, i, r.Offset)
				}
				if len(r.Headers) != 1 || r.Headers[0].Key != "seq" {
					t.Fatalf("partition %d offset %d: headers %v", p, r.Offset, r.Headers)
				}
			}
		}
		c.WaitReplicasIdentical()
	})
}

// producer keeps producing acks=all records until stopped, recording every
// acknowledgement.
type producer struct {
	mu     sync.Mutex
	acks   []ack
	errs   int
	stop   chan struct{}
	done   chan struct{}
	topic  string
	client *kgo.Client
}

func startProducer(c *clustertest.Cluster, topic string) *producer {
	p := &producer{stop: make(chan struct{}), done: make(chan struct{}), topic: topic,
		client: c.Client(kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1<<30))}
	go p.run()
	return p
}

func (p *producer) run() {
	defer close(p.done)
	var wg sync.WaitGroup
	for i := 0; ; i++ {
		select {
		case <-p.stop:
			wg.Wait()
			return
		default:
		}
		r := &kgo.Record{Key: []byte(fmt.Sprintf("k%d", i%31)), Value: []byte(fmt.Sprintf("record-%08d", i))}
		wg.Add(1)
		p.client.Produce(context.Background(), r, func(r *kgo.Record, err error) {
			defer wg.Done()
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.errs++
				return
			}
			p.acks = append(p.acks, ack{r.Partition, r.Offset, r.Key, r.Value})
		})
		if i%50 == 49 {
			// Bound what is in flight so the ledger grows steadily.
			p.client.Flush(context.Background())
		}
	}
}

func (p *producer) acked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acks)
}

func (p *producer) finish() []ack {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ack(nil), p.acks...)
}

func TestCluster_LeaderKilled_NoAckedRecordLost(t *testing.T) {
	eachStorage(t, func(t *testing.T, opts clustertest.Options) {
		c := clustertest.Start(t, opts)
		c.CreateTopic("stream", 3)
		p := startProducer(c, "stream")

		clustertest.WaitFor(t, 30*time.Second, "records before the kill", func() bool { return p.acked() >= 300 })
		old := c.Leader()
		c.Kill(old)
		before := p.acked()
		newLeader := c.Leader()
		if newLeader == old {
			t.Fatal("killed leader still leads")
		}
		clustertest.WaitFor(t, 30*time.Second, "produces to succeed after the failover", func() bool { return p.acked() >= before+300 })
		acks := p.finish()
		verifyAcked(t, c, "stream", acks)

		c.StartNode(old)
		c.WaitStable()
		c.WaitReplicasIdentical()
		t.Logf("acknowledged %d records, %d produce errors (retried)", len(acks), p.errs)
	})
}

func TestCluster_NodeAndWholeClusterRestart_StateIdentical(t *testing.T) {
	eachStorage(t, func(t *testing.T, opts clustertest.Options) {
		c := clustertest.Start(t, opts)
		c.CreateTopic("replay", 2)
		cl := c.Client(kgo.DefaultProduceTopic("replay"))
		ctx := clustertest.Ctx(t)
		var acks []ack
		produce := func(n int) {
			for i := range n {
				res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("v-%d-%d", len(acks), i))})
				if err := res.FirstErr(); err != nil {
					t.Fatal(err)
				}
				r := res[0].Record
				acks = append(acks, ack{r.Partition, r.Offset, r.Key, r.Value})
			}
		}
		produce(100)
		c.WaitReplicasIdentical()
		before := c.Digests(c.Nodes[0])

		// One follower restarts and replays its log.
		f := c.Followers()[0]
		c.Restart(f)
		c.WaitStable()
		c.WaitReplicasIdentical()

		// The whole cluster restarts: every node rebuilds its state from its
		// snapshot (if any) and Raft log.
		for _, n := range c.Nodes {
			c.Kill(n)
		}
		for _, n := range c.Nodes {
			c.StartNode(n)
		}
		c.WaitStable()
		c.WaitReplicasIdentical()
		after := c.Digests(c.Nodes[0])
		for k, d := range before {
			if after[k] != d {
				t.Fatalf("partition %s changed across restart: %+v -> %+v", k, d, after[k])
			}
		}
		produce(50)
		verifyAcked(t, c, "replay", acks)
		c.WaitReplicasIdentical()
	})
}

func TestCluster_NodeDownDuringCompaction_CatchesUpBySnapshot(t *testing.T) {
	eachStorage(t, func(t *testing.T, opts clustertest.Options) {
		c := clustertest.Start(t, configured(opts, func(cfg *server.Config) { cfg.Raft.TrailingLogs = 10 }))
		c.CreateTopic("compacted", 1)
		down := c.Followers()[0]
		c.Stop(down)

		cl := c.Client(kgo.DefaultProduceTopic("compacted"))
		ctx := clustertest.Ctx(t)
		var acks []ack
		for i := range 200 {
			res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("c-%d", i))})
			if err := res.FirstErr(); err != nil {
				t.Fatal(err)
			}
			r := res[0].Record
			acks = append(acks, ack{r.Partition, r.Offset, r.Key, r.Value})
		}
		// Snapshot on every running node and compact their logs past what the
		// stopped node has: it can only catch up by InstallSnapshot.
		for _, n := range c.Nodes {
			if s := n.Server(); s != nil {
				if err := s.Node.Snapshot(); err != nil {
					t.Fatalf("snapshot node %d: %v", n.ID, err)
				}
			}
		}
		leader := c.Leader().Server()
		clustertest.WaitFor(t, 10*time.Second, "the leader's log to be compacted", func() bool {
			first, _ := leader.Node.FirstIndex()
			return first > 1
		})

		c.StartNode(down)
		c.WaitStable()
		c.WaitReplicasIdentical()
		if got := down.Server().Node.SnapshotsRestored(); got == 0 {
			t.Fatal("the returning node caught up without installing a snapshot")
		}
		// After the snapshot the node must keep replicating new entries.
		for i := range 20 {
			res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("after-%d", i))})
			if err := res.FirstErr(); err != nil {
				t.Fatal(err)
			}
			r := res[0].Record
			acks = append(acks, ack{r.Partition, r.Offset, r.Key, r.Value})
		}
		c.WaitReplicasIdentical()
		verifyAcked(t, c, "compacted", acks)
	})
}
