//go:build unix

package compat

import (
	"context"
	"errors"
	"testing"

	"github.com/IBM/sarama"

	"github.com/raftline/raftline/test/compat/matrix"
)

// sarama in a group: ClusterAdmin creates the topic, an idempotent
// SyncProducer produces, ConsumerGroup consumes.
func init() {
	registerGroup(matrix.Sarama, groupClient{
		createTopic: func(ctx context.Context, t *testing.T, c *cluster, topic string, partitions int32) error {
			err := inTime(ctx, func() error {
				adm, err := sarama.NewClusterAdmin(c.seeds(), saramaConfig())
				if err != nil {
					return err
				}
				defer adm.Close()
				return adm.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: -1}, false)
			})
			if err != nil {
				return err
			}
			c.waitTopic(t, topic, partitions)
			return nil
		},
		produce: func(ctx context.Context, t *testing.T, c *cluster, topic string, recs []record) error {
			cfg := saramaConfig()
			cfg.Producer.Idempotent = true
			cfg.Net.MaxOpenRequests = 1
			return inTime(ctx, func() error {
				p, err := sarama.NewSyncProducer(c.seeds(), cfg)
				if err != nil {
					return err
				}
				defer p.Close()
				var msgs []*sarama.ProducerMessage
				for _, r := range recs {
					msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(r.key), Value: sarama.StringEncoder(r.value)})
				}
				return p.SendMessages(msgs)
			})
		},
		join: saramaJoin,
	})
}

type saramaMember struct {
	g      sarama.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{}
}

func saramaJoin(ctx context.Context, t *testing.T, c *cluster, group, topic string, mode commitMode, sink *groupSink, name string) (groupMember, error) {
	cfg := saramaConfig()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = mode == autoCommit
	cfg.Consumer.Return.Errors = true
	g, err := sarama.NewConsumerGroup(c.seeds(), group, cfg)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	m := &saramaMember{g: g, cancel: cancel, done: make(chan struct{})}
	h := saramaHandler{mode: mode, sink: sink, name: name}
	go func() {
		defer close(m.done)
		// Consume returns at the end of each session (a rebalance); a
		// member consumes again until it is told to leave.
		for cctx.Err() == nil {
			if err := g.Consume(cctx, []string{topic}, h); err != nil && cctx.Err() == nil {
				sink.fail(name, err)
				return
			}
		}
	}()
	// Errors are what sarama reports and goes on from (a commit refused
	// while the group rebalances): an application logs them. The channel
	// closes with the group, before the case ends.
	go func() {
		for err := range g.Errors() {
			if !errors.Is(err, context.Canceled) {
				t.Logf("%s, sarama: %v", name, err)
			}
		}
	}()
	return m, nil
}

func (m *saramaMember) leave(ctx context.Context) error {
	m.cancel()
	<-m.done // the handler's Cleanup has committed
	return inTime(ctx, m.g.Close)
}

// saramaHandler reports every record and marks it; with commitOnLeave,
// Cleanup commits what was marked.
type saramaHandler struct {
	mode commitMode
	sink *groupSink
	name string
}

func (saramaHandler) Setup(sarama.ConsumerGroupSession) error { return nil }

func (h saramaHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	if h.mode == commitOnLeave {
		s.Commit()
	}
	return nil
}

func (h saramaHandler) ConsumeClaim(s sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.sink.add(read{member: h.name, partition: msg.Partition, offset: msg.Offset, key: string(msg.Key), value: string(msg.Value)})
			if h.mode != noCommit {
				s.MarkMessage(msg, "")
			}
		case <-s.Context().Done():
			return nil
		}
	}
}
