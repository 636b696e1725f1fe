//go:build unix

package compat

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/test/compat/matrix"
)

// franz-go: kgo and kadm, in this process.
func init() {
	register(matrix.FranzGo, map[string]caseFunc{
		matrix.RoundTrip.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, roundTripPartitions)
			return franzRoundTrip(ctx, c, topic, kgo.DisableIdempotentWrite())
		},
		matrix.Compression.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			for name, codec := range map[string]kgo.CompressionCodec{
				"gzip": kgo.GzipCompression(), "snappy": kgo.SnappyCompression(),
				"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression(),
			} {
				tp := topic + "-" + name
				c.createTopic(t, tp, roundTripPartitions)
				if err := franzRoundTrip(ctx, c, tp, kgo.ProducerBatchCompression(codec)); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			return nil
		},
		matrix.AutoCreate.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.AllowAutoTopicCreation())
			if err != nil {
				return err
			}
			defer cl.Close()
			return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("first")}).FirstErr()
		},
		matrix.Idempotent.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, roundTripPartitions)
			return franzRoundTrip(ctx, c, topic) // idempotent is kgo's default
		},
		matrix.Admin.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
			if err != nil {
				return err
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			if _, err := adm.CreateTopic(ctx, roundTripPartitions, -1, nil, topic); err != nil {
				return fmt.Errorf("create: %w", err)
			}
			c.waitTopic(t, topic, roundTripPartitions)
			if _, err := adm.DeleteTopic(ctx, topic); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			return nil
		},
		matrix.Transactions.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, 1)
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.TransactionalID(topic))
			if err != nil {
				return err
			}
			defer cl.Close()
			if err := cl.BeginTransaction(); err != nil {
				return err
			}
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("txn")}).FirstErr(); err != nil {
				return err
			}
			return cl.EndTransaction(ctx, kgo.TryCommit)
		},
	})
}

// franzRoundTrip produces the case's records with acks=all and reads every
// partition back from the start, without a group.
func franzRoundTrip(ctx context.Context, c *cluster, topic string, opts ...kgo.Opt) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.seeds()...), kgo.RequiredAcks(kgo.AllISRAcks())}, opts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	want := records(topic)
	var rs []*kgo.Record
	for _, r := range want {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(r.key), Value: []byte(r.value)})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	consumer, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer consumer.Close()
	var got []record
	for len(got) < len(want) {
		fs := consumer.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("consume: read %d of %d records: %w", len(got), len(want), err)
			}
			return fmt.Errorf("consume: %w", err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, record{string(r.Key), string(r.Value)}) })
	}
	return sameRecords(want, got)
}
