//go:build unix

package compat

import (
	"context"
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/test/compat/matrix"
)

// franz-go in a group: kadm creates the topic, kgo produces (idempotent,
// its default) and consumes with kgo.ConsumerGroup.
func init() {
	registerGroup(matrix.FranzGo, groupClient{
		createTopic: func(ctx context.Context, t *testing.T, c *cluster, topic string, partitions int32) error {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...))
			if err != nil {
				return err
			}
			defer cl.Close()
			if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic); err != nil {
				return err
			}
			c.waitTopic(t, topic, partitions)
			return nil
		},
		produce: func(ctx context.Context, t *testing.T, c *cluster, topic string, recs []record) error {
			cl, err := kgo.NewClient(kgo.SeedBrokers(c.seeds()...), kgo.RequiredAcks(kgo.AllISRAcks()))
			if err != nil {
				return err
			}
			defer cl.Close()
			var rs []*kgo.Record
			for _, r := range recs {
				rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(r.key), Value: []byte(r.value)})
			}
			return cl.ProduceSync(ctx, rs...).FirstErr()
		},
		join: franzJoin,
	})
}

type franzMember struct {
	cl     *kgo.Client
	mode   commitMode
	cancel context.CancelFunc
	done   chan struct{}
}

func franzJoin(ctx context.Context, t *testing.T, c *cluster, group, topic string, mode commitMode, sink *groupSink, name string) (groupMember, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.seeds()...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if mode != autoCommit {
		opts = append(opts, kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithCancel(context.Background())
	m := &franzMember{cl: cl, mode: mode, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for pctx.Err() == nil {
			fs := cl.PollFetches(pctx)
			for _, fe := range fs.Errors() {
				if !errors.Is(fe.Err, context.Canceled) {
					sink.fail(name, fe.Err)
				}
			}
			fs.EachRecord(func(r *kgo.Record) {
				sink.add(read{member: name, partition: r.Partition, offset: r.Offset, key: string(r.Key), value: string(r.Value)})
			})
		}
	}()
	return m, nil
}

func (m *franzMember) leave(ctx context.Context) error {
	m.cancel()
	<-m.done
	var err error
	if m.mode == commitOnLeave {
		err = m.cl.CommitUncommittedOffsets(ctx)
	}
	m.cl.Close() // leaves the group
	return err
}
