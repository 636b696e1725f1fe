package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/clustertest"
)

// After the whole cluster restarts, the first leader holds every committed
// entry in its log but applies those of earlier terms only once an entry of
// its own term commits. Until then its partition ends below records clients
// were acknowledged, and a Fetch there was answered OFFSET_OUT_OF_RANGE:
// a consumer reset its position, reading everything again (earliest) or
// skipping what was written meanwhile (latest). The leader now serves reads
// only once it has caught up; a consumer resuming at an acknowledged offset
// reads on from there, whichever node leads.
func TestFetch_AfterWholeClusterRestart_NoOffsetOutOfRange(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{})
	const topic = "caught-up"
	c.CreateTopic(topic, 1)
	ctx := clustertest.Ctx(t)
	cl := c.Client(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0), kgo.MaxBufferedRecords(64))
	// One entry per record, so the restarted nodes have thousands of
	// entries to apply from the Raft log.
	const n = 4000
	for i := 0; i < n; i++ {
		cl.Produce(ctx, &kgo.Record{Value: []byte("r")}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	for _, nd := range c.Nodes {
		c.Kill(nd)
	}
	for _, nd := range c.Nodes {
		c.StartNode(nd)
	}

	// Meanwhile no node that serves reads has its partition short.
	done := make(chan struct{})
	watched := make(chan int)
	go func() {
		shortLeaders := 0
		defer func() { watched <- shortLeaders }()
		for {
			select {
			case <-done:
				return
			default:
			}
			for _, nd := range c.Nodes {
				s := nd.Server()
				if s == nil {
					continue
				}
				p, err := s.Node.State.Topic(topic).Partition(0)
				if err != nil {
					continue
				}
				caught, leads := s.Node.LeaderCaughtUp(), s.Node.IsLeader()
				_, next := p.Offsets()
				if caught && next < n {
					t.Errorf("node %d serves reads with its partition ending at %d, below the %d records acknowledged", nd.ID, next, n)
				}
				if leads && !caught && next < n {
					shortLeaders++
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()

	// Every node is asked, from the moment it is up and as fast as it
	// answers, for the records from n-10: what a consumer that had read up
	// to there asks first. The answer may be "not the leader", never "out
	// of range".
	fetchers := c.Client(kgo.RequestRetries(0), kgo.RetryTimeout(time.Second))
	defer fetchers.Close()
	served := make(chan int32, len(c.Nodes))
	fctx, stopFetching := context.WithCancel(ctx)
	defer stopFetching()
	for _, nd := range c.Nodes {
		go func() {
			for fctx.Err() == nil {
				req := kmsg.NewPtrFetchRequest()
				req.Version, req.ReplicaID, req.MaxBytes = 11, -1, 1<<20
				ft := kmsg.NewFetchRequestTopic()
				ft.Topic = topic
				fp := kmsg.NewFetchRequestTopicPartition()
				fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch, fp.LogStartOffset = 0, n-10, 1<<20, -1, -1
				ft.Partitions = append(ft.Partitions, fp)
				req.Topics = append(req.Topics, ft)
				resp, err := fetchers.Broker(int(nd.ID)).Request(fctx, req)
				if err != nil {
					continue
				}
				p := resp.(*kmsg.FetchResponse).Topics[0].Partitions[0]
				switch {
				case p.ErrorCode == kerr.OffsetOutOfRange.Code:
					t.Errorf("node %d answered OFFSET_OUT_OF_RANGE for offset %d, below the %d records acknowledged (its high watermark %d)", nd.ID, n-10, n, p.HighWatermark)
					served <- nd.ID
					return
				case p.ErrorCode == 0 && len(p.RecordBatches) > 0:
					if p.HighWatermark != n {
						t.Errorf("node %d served records with a high watermark of %d, want %d", nd.ID, p.HighWatermark, n)
					}
					served <- nd.ID
					return
				}
			}
		}()
	}
	select {
	case id := <-served:
		t.Logf("node %d served offset %d", id, n-10)
	case <-time.After(60 * time.Second):
		t.Fatal("no node served the records within 60s")
	}
	stopFetching()

	resume := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(n - 10)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	defer resume.Close()

	var got int64 = n - 10
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for got < n && time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		fs := resume.PollFetches(pctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			var loss *kgo.ErrDataLoss
			if errors.As(err, &loss) || errors.Is(err, kerr.OffsetOutOfRange) {
				t.Fatalf("the resumed consumer was told its acknowledged offset is gone: %v", err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				lastErr = err
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != got {
				t.Fatalf("read offset %d, want %d", r.Offset, got)
			}
			got++
		})
	}
	close(done)
	short := <-watched
	if got < n {
		t.Fatalf("read up to %d of %d within 60s; last error: %v", got, n, lastErr)
	}
	t.Logf("resumed at %d and read to %d; polls saw a leader not yet caught up %d times", n-10, got, short)
}
