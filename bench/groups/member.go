//go:build linux

package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// clientSettings are the group members' franz-go settings that bound how
// fast a member can take part in a rebalance, reported beside the figures.
type clientSettings struct {
	Heartbeat        time.Duration `json:"heartbeat_ns"`
	SessionTimeout   time.Duration `json:"session_timeout_ns"`
	RebalanceTimeout time.Duration `json:"rebalance_timeout_ns"`
	FetchMaxWait     time.Duration `json:"fetch_max_wait_ns"`
	MetadataMinAge   time.Duration `json:"metadata_min_age_ns"`
	RetryBackoff     time.Duration `json:"retry_backoff_ns"`
}

// member is one consumer of a measured group. It records when each
// assignment arrived and when it first read a record under the latest.
type member struct {
	name   string
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	assigned  time.Time // the latest assignment
	readAfter time.Time // the first read under it; zero until then
	stopped   time.Time // partitions last revoked or lost
	reads     []time.Time
	errs      map[string]int
}

// join starts a member of group on topic. The balancer is the eager range
// balancer, so that every rebalance revokes and assigns every member's
// partitions and each member's "consuming again" marks its end.
func join(brokers []string, topic, group, name string, s clientSettings) (*member, error) {
	m := &member{name: name, done: make(chan struct{}), errs: map[string]int{}}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("raftline-bench-groups"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.BlockRebalanceOnPoll(),
		kgo.HeartbeatInterval(s.Heartbeat),
		kgo.SessionTimeout(s.SessionTimeout),
		kgo.RebalanceTimeout(s.RebalanceTimeout),
		kgo.FetchMaxWait(s.FetchMaxWait),
		kgo.MetadataMinAge(s.MetadataMinAge),
		kgo.RetryBackoffFn(func(int) time.Duration { return s.RetryBackoff }),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			m.mu.Lock()
			m.assigned, m.readAfter = time.Now(), time.Time{}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
			m.stop()
			_ = cl.CommitUncommittedOffsets(ctx)
		}),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) { m.stop() }),
	)
	if err != nil {
		return nil, err
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.loop(ctx)
	return m, nil
}

func (m *member) stop() {
	m.mu.Lock()
	m.stopped = time.Now()
	m.mu.Unlock()
}

func (m *member) loop(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		m.cl.AllowRebalance()
		fs := m.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		m.mu.Lock()
		fs.EachError(func(_ string, _ int32, err error) { m.errs[err.Error()]++ })
		if fs.NumRecords() > 0 {
			if m.readAfter.IsZero() && !m.assigned.IsZero() {
				m.readAfter = now
			}
			m.reads = append(m.reads, now)
		}
		m.mu.Unlock()
	}
}

// leave stops the member, which commits and sends LeaveGroup.
func (m *member) leave() {
	m.cancel()
	<-m.done
	m.cl.CloseAllowingRebalance()
}

// consumingSince returns when the member first read a record under an
// assignment that arrived at or after t.
func (m *member) consumingSince(t time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.assigned.Before(t) || m.readAfter.IsZero() {
		return time.Time{}, false
	}
	return m.readAfter, true
}

// consumingAgain returns when the member consumed again after an event at
// t that may not rebalance the group (a coordinator's failover: franz-go
// rejoins when a heartbeat fails, but a member whose retried heartbeat
// reaches the new coordinator keeps its generation, as in Kafka): if it lost
// its partitions at or after t, its first read under the assignment that
// followed; otherwise its first read at or after resumed, when reads can
// only be fresh ones.
func (m *member) consumingAgain(t, resumed time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := resumed
	if !m.stopped.Before(t) {
		if !m.assigned.After(m.stopped) {
			return time.Time{}, false
		}
		from = m.assigned
	}
	i, _ := slices.BinarySearchFunc(m.reads, from, func(a, b time.Time) int { return a.Compare(b) })
	if i == len(m.reads) {
		return time.Time{}, false
	}
	return m.reads[i], true
}

func (m *member) state() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("%s: assigned %s, read since %s, errors %v", m.name,
		m.assigned.Format("15:04:05.000"), m.readAfter.Format("15:04:05.000"), m.errs)
}

// allConsumingSince waits until every member has read a record under an
// assignment received at or after t, and returns how long after t the last
// of them did.
func allConsumingSince(ctx context.Context, members []*member, t time.Time, timeout time.Duration) (time.Duration, error) {
	return allConsuming(ctx, members, t, timeout, func(m *member) (time.Time, bool) { return m.consumingSince(t) })
}

// allConsumingAgain is allConsumingSince for an event that may not
// rebalance the group (member.consumingAgain).
func allConsumingAgain(ctx context.Context, members []*member, t, resumed time.Time, timeout time.Duration) (time.Duration, error) {
	return allConsuming(ctx, members, t, timeout, func(m *member) (time.Time, bool) { return m.consumingAgain(t, resumed) })
}

func allConsuming(ctx context.Context, members []*member, t time.Time, timeout time.Duration, since func(*member) (time.Time, bool)) (time.Duration, error) {
	var last time.Time
	err := poll(ctx, timeout, 5*time.Millisecond, func() error {
		last = time.Time{}
		for _, m := range members {
			at, ok := since(m)
			if !ok {
				return fmt.Errorf("not consuming again: %s", m.state())
			}
			if at.After(last) {
				last = at
			}
		}
		return nil
	})
	return last.Sub(t), err
}

// rejoinedSince reports whether the member lost its partitions at or after t.
func (m *member) rejoinedSince(t time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.stopped.Before(t)
}
