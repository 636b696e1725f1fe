package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/loadgen"
)

// newClients returns Clients for a fresh in-process fake Kafka cluster.
func newClients(t *testing.T, mutate func(*loadgen.Config)) *Clients {
	t.Helper()
	cluster, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	cfg := loadgen.Config{
		Brokers: cluster.ListenAddrs(), Topic: "t", Partitions: 3, Replication: -1,
		Acks: "all", Idempotent: true, Compression: "zstd", Linger: time.Millisecond,
		BatchMaxBytes: 1 << 20,
		MaxBuffered:   1000, DeliveryTimeout: 10 * time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureTopic_CreatesOnceThenReusesExisting(t *testing.T) {
	c := newClients(t, nil)
	for range 2 {
		n, err := c.EnsureTopic(ctx(t))
		if err != nil || n != 3 {
			t.Fatalf("EnsureTopic = %d, %v; want 3 partitions", n, err)
		}
	}
}

// Records produced through a Sink come back through a Source reading the
// partitions directly, at the offsets the acknowledgements gave.
func TestSinkAndSource_RoundTripAtAckedOffsets(t *testing.T) {
	c := newClients(t, nil)
	if _, err := c.EnsureTopic(ctx(t)); err != nil {
		t.Fatal(err)
	}
	starts, err := c.Offsets(ctx(t), true)
	if err != nil || len(starts) != 3 {
		t.Fatalf("Offsets = %v, %v", starts, err)
	}

	sink, err := c.Sink(0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var mu sync.Mutex
	acked := map[string]loadgen.Ack{}
	for i := range n {
		v := fmt.Sprintf("value-%03d", i)
		sink.Produce(ctx(t), loadgen.Record{Key: []byte(v), Value: []byte(v)}, func(a loadgen.Ack) {
			mu.Lock()
			acked[v] = a
			mu.Unlock()
		})
	}
	if err := sink.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	sink.Close()
	for v, a := range acked {
		if a.Err != nil {
			t.Fatalf("%s: %v", v, a.Err)
		}
	}

	ends, err := c.Offsets(ctx(t), true)
	if err != nil {
		t.Fatal(err)
	}
	src, err := c.Source(0, starts)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := 0
	for got < n {
		msgs, errs := src.Poll(ctx(t))
		if len(errs) > 0 {
			t.Fatalf("poll: %v", errs)
		}
		for _, m := range msgs {
			a := acked[string(m.Value)]
			if a.Partition != m.Partition || a.Offset != m.Offset {
				t.Fatalf("%s read at %d/%d, acked at %d/%d", m.Value, m.Partition, m.Offset, a.Partition, a.Offset)
			}
			if m.Offset >= ends[m.Partition] {
				t.Fatalf("offset %d beyond end %d", m.Offset, ends[m.Partition])
			}
			got++
		}
	}
}

func TestSource_GroupReadsFromStart(t *testing.T) {
	c := newClients(t, func(cfg *loadgen.Config) { cfg.Group = "g" })
	if _, err := c.EnsureTopic(ctx(t)); err != nil {
		t.Fatal(err)
	}
	sink, _ := c.Sink(0)
	for i := range 10 {
		sink.Produce(ctx(t), loadgen.Record{Value: []byte{byte(i)}}, func(loadgen.Ack) {})
	}
	if err := sink.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}
	sink.Close()

	src, err := c.Source(0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := 0
	for got < 10 {
		msgs, errs := src.Poll(ctx(t))
		if len(errs) > 0 {
			t.Fatalf("poll: %v", errs)
		}
		got += len(msgs)
	}
}

func TestWrap_KindNamesTheFailure(t *testing.T) {
	for err, want := range map[error]string{
		kerr.NotLeaderForPartition:                      "NOT_LEADER_FOR_PARTITION",
		fmt.Errorf("produce: %w", kerr.RequestTimedOut): "REQUEST_TIMED_OUT",
		kgo.ErrRecordTimeout:                            "record_timeout",
		kgo.ErrClientClosed:                             "client_closed",
		context.Canceled:                                "canceled",
		errors.New("something new"):                     "other",
	} {
		if got := loadgen.ErrorKind(Wrap(err)); got != want {
			t.Errorf("kind of %v = %q, want %q", err, got, want)
		}
	}
	if Wrap(nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
}

func TestEnsureTopic_UnreachableBrokerFailsWithinContext(t *testing.T) {
	c, err := New(loadgen.Config{Brokers: []string{"127.0.0.1:1"}, Topic: "t", Partitions: 1, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := c.EnsureTopic(ctx); err == nil {
		t.Fatal("EnsureTopic succeeded without a broker")
	}
}
