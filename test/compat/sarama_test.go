//go:build unix

package compat

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/raftline/raftline/test/compat/matrix"
)

// sarama, in this process, at its default protocol version.
func init() {
	register(matrix.Sarama, map[string]caseFunc{
		matrix.RoundTrip.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, roundTripPartitions)
			return saramaRoundTrip(ctx, c, topic, saramaConfig())
		},
		matrix.Compression.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			for name, codec := range map[string]sarama.CompressionCodec{
				"gzip": sarama.CompressionGZIP, "snappy": sarama.CompressionSnappy,
				"lz4": sarama.CompressionLZ4, "zstd": sarama.CompressionZSTD,
			} {
				tp := topic + "-" + name
				c.createTopic(t, tp, roundTripPartitions)
				cfg := saramaConfig()
				cfg.Producer.Compression = codec
				if err := saramaRoundTrip(ctx, c, tp, cfg); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
			}
			return nil
		},
		matrix.AutoCreate.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			p, err := sarama.NewSyncProducer(c.seeds(), saramaConfig())
			if err != nil {
				return err
			}
			defer p.Close()
			_, _, err = p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("first")})
			return err
		},
		matrix.Idempotent.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, roundTripPartitions)
			cfg := saramaConfig()
			cfg.Producer.Idempotent = true
			cfg.Net.MaxOpenRequests = 1
			return saramaRoundTrip(ctx, c, topic, cfg)
		},
		matrix.Admin.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			adm, err := sarama.NewClusterAdmin(c.seeds(), saramaConfig())
			if err != nil {
				return err
			}
			defer adm.Close()
			if err := adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: roundTripPartitions, ReplicationFactor: -1}, false); err != nil {
				return fmt.Errorf("create: %w", err)
			}
			c.waitTopic(t, topic, roundTripPartitions)
			if err := adm.DeleteTopic(topic); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			return nil
		},
		matrix.Transactions.Name: func(ctx context.Context, t *testing.T, c *cluster, topic string) error {
			c.createTopic(t, topic, 1)
			cfg := saramaConfig()
			cfg.Producer.Idempotent = true
			cfg.Producer.Transaction.ID = topic
			cfg.Net.MaxOpenRequests = 1
			return inTime(ctx, func() error {
				p, err := sarama.NewSyncProducer(c.seeds(), cfg)
				if err != nil {
					return err
				}
				defer p.Close()
				if err := p.BeginTxn(); err != nil {
					return err
				}
				if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("txn")}); err != nil {
					return err
				}
				return p.CommitTxn()
			})
		},
	})
}

func saramaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	return cfg
}

// saramaRoundTrip produces the case's records and reads every partition
// back from the oldest offset, without a group.
func saramaRoundTrip(ctx context.Context, c *cluster, topic string, cfg *sarama.Config) error {
	return inTime(ctx, func() error {
		p, err := sarama.NewSyncProducer(c.seeds(), cfg)
		if err != nil {
			return err
		}
		defer p.Close()
		want := records(topic)
		var msgs []*sarama.ProducerMessage
		for _, r := range want {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.key), Value: sarama.StringEncoder(r.value)})
		}
		if err := p.SendMessages(msgs); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		ccfg := saramaConfig()
		// Long polls end at the high watermark; closing a partition
		// consumer waits for its poll.
		ccfg.Consumer.MaxWaitTime = 50 * time.Millisecond
		client, err := sarama.NewClient(c.seeds(), ccfg)
		if err != nil {
			return err
		}
		defer client.Close()
		consumer, err := sarama.NewConsumerFromClient(client)
		if err != nil {
			return err
		}
		defer consumer.Close()
		var got []record
		for part := range int32(roundTripPartitions) {
			end, err := client.GetOffset(topic, part, sarama.OffsetNewest)
			if err != nil {
				return fmt.Errorf("partition %d's end: %w", part, err)
			}
			if end == 0 {
				continue
			}
			pc, err := consumer.ConsumePartition(topic, part, sarama.OffsetOldest)
			if err != nil {
				return fmt.Errorf("consume partition %d: %w", part, err)
			}
			for next := int64(0); next < end; {
				select {
				case m := <-pc.Messages():
					got = append(got, record{string(m.Key), string(m.Value)})
					next = m.Offset + 1
				case err := <-pc.Errors():
					pc.Close()
					return fmt.Errorf("consume partition %d: %w", part, err)
				case <-ctx.Done():
					pc.Close()
					return fmt.Errorf("consume partition %d: read to %d of %d: %w", part, next, end, ctx.Err())
				}
			}
			pc.Close()
		}
		return sameRecords(want, got)
	})
}

// inTime runs f, which cannot be cancelled, and gives up on it when ctx
// ends: a client stuck retrying must not hold the suite.
func inTime(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return errors.Join(ctx.Err(), errors.New("the client was still retrying"))
	}
}
