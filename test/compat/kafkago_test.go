//go:build unix

package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	_ "github.com/segmentio/kafka-go/gzip"
	_ "github.com/segmentio/kafka-go/lz4"
	_ "github.com/segmentio/kafka-go/snappy"
	_ "github.com/segmentio/kafka-go/zstd"

	"github.com/raftline/raftline/test/compat/matrix"
)

// kafka-go, in this process. Its Writer waits BatchTimeout (1 s by default)
// for a batch to fill; the cases set 10 ms so a few records do not each wait
// a second. Each Writer has a Transport of its own: the shared
// DefaultTransport caches metadata for up to 6 s, and a Writer without
// AllowAutoTopicCreation fails a write to a topic missing from that cache
// with UNKNOWN_TOPIC_OR_PARTITION instead of asking again.
func init() {
	register(matrix.KafkaGo, map[string]caseFunc{
		matrix.RoundTrip.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, roundTripPartitions)
			return kafkaGoRoundTrip(ctx, c, topic, 0)
		},
		matrix.Compression.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			for name, codec := range map[string]kafka.Compression{
				"gzip": kafka.Gzip, "snappy": kafka.Snappy, "lz4": kafka.Lz4, "zstd": kafka.Zstd,
			} {
				tp := topic + "-" + name
				c.createTopic(t, tp, roundTripPartitions)
				if err := kafkaGoRoundTrip(ctx, c, tp, codec); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			return nil
		},
		matrix.AutoCreate.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			w := kafkaGoWriter(c)
			w.AllowAutoTopicCreation = true
			defer closeWriter(w)
			return w.WriteMessages(ctx, kafka.Message{Topic: topic, Value: []byte("first")})
		},
		matrix.Admin.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			tr := &kafka.Transport{}
			defer tr.CloseIdleConnections()
			cl := &kafka.Client{Addr: kafka.TCP(c.seeds()...), Transport: tr}
			resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
				{Topic: topic, NumPartitions: roundTripPartitions, ReplicationFactor: -1}}})
			if err == nil {
				err = resp.Errors[topic]
			}
			if err != nil {
				return fmt.Errorf("create: %w", err)
			}
			c.waitTopic(t, topic, roundTripPartitions)
			dresp, err := cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{topic}})
			if err == nil {
				err = dresp.Errors[topic]
			}
			if err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			return nil
		},
	})
}

func kafkaGoWriter(c *cluster) *kafka.Writer {
	return &kafka.Writer{Addr: kafka.TCP(c.seeds()...), RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond,
		Transport: &kafka.Transport{}}
}

// closeWriter closes w and its own Transport's connections.
func closeWriter(w *kafka.Writer) {
	w.Close()
	w.Transport.(*kafka.Transport).CloseIdleConnections()
}

// kafkaGoRoundTrip writes the case's records and reads every partition
// back from the first offset to the last, without a group.
func kafkaGoRoundTrip(ctx context.Context, c *cluster, topic string, codec kafka.Compression) error {
	w := kafkaGoWriter(c)
	w.Compression = codec
	defer closeWriter(w)
	want := records(topic)
	var msgs []kafka.Message
	for _, r := range want {
		msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(r.key), Value: []byte(r.value)})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	tr := &kafka.Transport{}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(c.seeds()...), Transport: tr}
	var reqs []kafka.OffsetRequest
	for p := range roundTripPartitions {
		reqs = append(reqs, kafka.LastOffsetOf(p))
	}
	offs, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		return fmt.Errorf("list offsets: %w", err)
	}
	var got []record
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return fmt.Errorf("partition %d's end: %w", po.Partition, po.Error)
		}
		if po.LastOffset == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.seeds(), Topic: topic, Partition: po.Partition, MaxWait: 100 * time.Millisecond})
		for next := int64(0); next < po.LastOffset; {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return fmt.Errorf("read partition %d at %d of %d: %w", po.Partition, next, po.LastOffset, err)
			}
			got = append(got, record{string(m.Key), string(m.Value)})
			next = m.Offset + 1
		}
		r.Close()
	}
	return sameRecords(want, got)
}
