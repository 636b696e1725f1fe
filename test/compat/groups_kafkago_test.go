//go:build unix

package compat

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/raftline/raftline/test/compat/matrix"
)

// kafka-go in a group: Client.CreateTopics, a Writer (kafka-go has no
// idempotent producer) keyed with the Java client's murmur2 partitioner,
// and a Reader with GroupID.
func init() {
	registerGroup(matrix.KafkaGo, groupClient{
		createTopic: func(ctx context.Context, t *testing.T, c *cluster, topic string, partitions int32) error {
			tr := &kafka.Transport{}
			defer tr.CloseIdleConnections()
			cl := &kafka.Client{Addr: kafka.TCP(c.seeds()...), Transport: tr}
			resp, err := cl.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{
				{Topic: topic, NumPartitions: int(partitions), ReplicationFactor: -1}}})
			if err == nil {
				err = resp.Errors[topic]
			}
			if err != nil {
				return err
			}
			c.waitTopic(t, topic, partitions)
			return nil
		},
		produce: func(ctx context.Context, t *testing.T, c *cluster, topic string, recs []record) error {
			w := kafkaGoWriter(c)
			w.Balancer = kafka.Murmur2Balancer{}
			defer closeWriter(w)
			var msgs []kafka.Message
			for _, r := range recs {
				msgs = append(msgs, kafka.Message{Topic: topic, Key: []byte(r.key), Value: []byte(r.value)})
			}
			return w.WriteMessages(ctx, msgs...)
		},
		join: kafkaGoJoin,
	})
}

// kafkaGoMaxWait is the Readers' long poll. Reader.Close waits for the
// fetch in flight, MaxWait at most (10 s by default): a member would take
// that long to leave.
const kafkaGoMaxWait = 500 * time.Millisecond

type kafkaGoMember struct {
	r      *kafka.Reader
	mode   commitMode
	cancel context.CancelFunc
	done   chan struct{}
	// last is the last record read of each partition, for commitOnLeave.
	last map[int]kafka.Message
}

func kafkaGoJoin(ctx context.Context, t *testing.T, c *cluster, group, topic string, mode commitMode, sink *groupSink, name string) (groupMember, error) {
	// A Reader reports errors only to its loggers and retries: they go
	// to the test's log.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.seeds(), GroupID: group, Topic: topic, StartOffset: kafka.FirstOffset,
		MaxWait:     kafkaGoMaxWait,
		ErrorLogger: kafka.LoggerFunc(func(format string, args ...any) { t.Logf("%s, kafka-go: %s", name, fmt.Sprintf(format, args...)) })})
	fctx, cancel := context.WithCancel(context.Background())
	m := &kafkaGoMember{r: r, mode: mode, cancel: cancel, done: make(chan struct{}), last: map[int]kafka.Message{}}
	go func() {
		defer close(m.done)
		for {
			// FetchMessage does not commit; ReadMessage would commit
			// each record itself.
			msg, err := r.FetchMessage(fctx)
			if err != nil {
				if fctx.Err() == nil {
					sink.fail(name, err)
				}
				return
			}
			sink.add(read{member: name, partition: int32(msg.Partition), offset: msg.Offset, key: string(msg.Key), value: string(msg.Value)})
			m.last[msg.Partition] = msg
			// A commit can fail while the group rebalances (the
			// generation ended): an application logs it and reads on,
			// and the next owner reads the record again.
			if mode == autoCommit {
				if err := r.CommitMessages(fctx, msg); err != nil && fctx.Err() == nil {
					t.Logf("%s, kafka-go: commit of offset %d of partition %d: %v", name, msg.Offset, msg.Partition, err)
				}
			}
		}
	}()
	return m, nil
}

func (m *kafkaGoMember) leave(ctx context.Context) error {
	m.cancel()
	<-m.done
	var err error
	if m.mode == commitOnLeave && len(m.last) > 0 {
		var msgs []kafka.Message
		for _, msg := range m.last {
			msgs = append(msgs, msg)
		}
		err = m.r.CommitMessages(ctx, msgs...)
	}
	return errors.Join(err, m.r.Close()) // Close leaves the group
}
