//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// rebalanceRun is one run of the rebalance measurements, in milliseconds:
// each from the event to every member of the resulting group reading
// records again under its new assignment.
type rebalanceRun struct {
	LeaveMs    float64 `json:"leave_ms"`    // a member of three leaves (LeaveGroup)
	JoinMs     float64 `json:"join_ms"`     // a third member joins two
	FailoverMs float64 `json:"failover_ms"` // the leader, the coordinator, is SIGKILLed
	ElectionMs float64 `json:"election_ms"` // of which: kill to an agreed new leader
	// Rejoined is how many of the three members lost their partitions in
	// the failover (the others kept their generation), counted once all
	// consumed again.
	Rejoined int    `json:"rejoined"`
	Err      string `json:"error,omitempty"`
}

func (r rebalanceRun) String() string {
	s := fmt.Sprintf("leave %.0f ms, join %.0f ms, leader failover %.0f ms (election %.0f ms, %d of 3 members rejoined)", r.LeaveMs, r.JoinMs, r.FailoverMs, r.ElectionMs, r.Rejoined)
	if r.Err != "" {
		s += ": " + r.Err
	}
	return s
}

// rebalancePartitions is the measured topic's partition count: two per
// member of three.
const rebalancePartitions = 6

// rebalanceOnce measures a leave, a join and a leader failover of a fresh
// group of three members on a fresh topic that receives 1,000 records/s.
func rebalanceOnce(ctx context.Context, c *cluster, s clientSettings, i int) (r rebalanceRun, err error) {
	defer func() {
		if err != nil {
			r.Err = err.Error()
		}
	}()
	topic, group := fmt.Sprintf("bench-groups-rebalance-%d", i), fmt.Sprintf("bench-groups-rebalance-%d", i)
	if err := createTopic(ctx, c.brokers(), topic, rebalancePartitions); err != nil {
		return r, err
	}
	stopProducing, err := produce(c.brokers(), topic, 1000)
	if err != nil {
		return r, err
	}
	defer stopProducing()

	var members []*member
	defer func() {
		for _, m := range members {
			m.leave()
		}
	}()
	start := time.Now()
	for k := range 3 {
		m, err := join(c.brokers(), topic, group, fmt.Sprintf("m%d", k+1), s)
		if err != nil {
			return r, err
		}
		members = append(members, m)
	}
	if _, err := allConsumingSince(ctx, members, start, 60*time.Second); err != nil {
		return r, fmt.Errorf("the group's first join: %w", err)
	}

	t0 := time.Now()
	last := members[2]
	members = members[:2]
	last.leave()
	d, err := allConsumingSince(ctx, members, t0, 60*time.Second)
	if err != nil {
		return r, fmt.Errorf("leave: %w", err)
	}
	r.LeaveMs = ms(d)

	t0 = time.Now()
	m, err := join(c.brokers(), topic, group, "m4", s)
	if err != nil {
		return r, err
	}
	members = append(members, m)
	if d, err = allConsumingSince(ctx, members, t0, 60*time.Second); err != nil {
		return r, fmt.Errorf("join: %w", err)
	}
	r.JoinMs = ms(d)

	leader, err := c.leader(10*time.Second, 0)
	if err != nil {
		return r, err
	}
	t0 = time.Now()
	c.kill(leader)
	if _, err := c.leader(30*time.Second, leader); err != nil {
		return r, fmt.Errorf("no new leader after killing node %d: %w", leader, err)
	}
	elected := time.Now()
	r.ElectionMs = ms(elected.Sub(t0))
	if d, err = allConsumingAgain(ctx, members, t0, elected, 60*time.Second); err != nil {
		return r, fmt.Errorf("leader failover: %w", err)
	}
	for _, m := range members {
		if m.rejoinedSince(t0) {
			r.Rejoined++
		}
	}
	r.FailoverMs = ms(d)
	if err := c.start(leader); err != nil {
		return r, err
	}
	return r, c.waitReady(ctx, 60*time.Second)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// createTopic creates topic, retrying while the cluster cannot yet.
func createTopic(ctx context.Context, brokers []string, topic string, partitions int32) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		return err
	}
	defer cl.Close()
	return poll(ctx, 30*time.Second, 100*time.Millisecond, func() error {
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, -1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", topic, err)
		}
		return nil
	})
}

// produce writes small records to topic at about rate per second, acks=all,
// until the returned function is called.
func produce(brokers []string, topic string, rate int) (func(), error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.ProducerLinger(5*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		value := make([]byte, 100)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for range rate / 100 {
				cl.Produce(ctx, &kgo.Record{Value: value}, nil)
			}
		}
	}()
	return func() { cancel(); <-done; cl.Close() }, nil
}
