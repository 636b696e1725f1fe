//go:build linux

package harness

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/loadgen/ledger"
)

// NewGroupBook returns an empty Book whose acknowledgements also go to a
// second ledger, the group's (GroupLedger): the records a consumer group
// reads are checked against it, apart from the read-back, which checks the
// log itself.
func NewGroupBook() *Book { return &Book{Ledger: ledger.New(), group: ledger.New()} }

// Acked records an acknowledgement in the book's ledger and, in a group
// book, in the group's.
func (b *Book) Acked(partition int32, offset int64, id uint64) {
	b.Ledger.Acked(partition, offset, id)
	if b.group != nil {
		b.group.Acked(partition, offset, id)
	}
}

// GroupLedger is the ledger of what the consumer group read, or nil in a
// book made by NewBook.
func (b *Book) GroupLedger() *ledger.Ledger { return b.group }

// GroupOptions are the franz-go settings of a chaos group member: the
// producers' quick metadata refresh and retries, a 500 ms heartbeat so that a
// member hears of a rebalance within half a second, 10 s session and
// rebalance timeouts (franz-go's defaults are 45 s and 60 s: a member lost
// in a fault would hold a rebalance up for a minute), offsets committed every
// 500 ms and before partitions move, and rebalances only between polls, so
// that a healthy group redelivers nothing. The balancer is the eager range
// balancer, not franz-go's default cooperative-sticky: every rebalance then
// revokes and assigns every member's partitions, so each member sees it,
// and "every member consuming again" measures the whole of it.
func GroupOptions(brokers []string, topic, group string) []kgo.Opt {
	opts := clientLog()
	return append(opts,
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("raftline-chaos-group"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.BlockRebalanceOnPoll(),
		kgo.Balancers(kgo.RangeBalancer()),
		kgo.AutoCommitInterval(500*time.Millisecond),
		kgo.HeartbeatInterval(500*time.Millisecond),
		kgo.SessionTimeout(10*time.Second),
		kgo.RebalanceTimeout(10*time.Second),
		kgo.FetchMaxWait(200*time.Millisecond),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.RequestTimeoutOverhead(2*time.Second),
		kgo.DialTimeout(2*time.Second),
	)
}

// Group is a consumer group reading a scenario's topic while the faults
// hit, each member its own franz-go client. Every record a member reads goes
// into the group's ledger, which also heard every acknowledgement, so at the
// end it tells whether every acknowledged record was consumed at least once
// by the group (redeliveries, which at-least-once allows, are counted).
type Group struct {
	Name    string
	c       *Cluster
	topic   string
	ledger  *ledger.Ledger
	mu      sync.Mutex
	members []*Member
	seq     int

	readMu sync.Mutex
	read   map[int32]map[int64]bool // offsets read, per partition
	again  map[int32][]int64        // offsets read more than once
	// backwards lists records read again below an offset the coordinator
	// had acknowledged committing before the reader got the partition.
	backwards []string
	// resets are franz-go's data-loss reports: a fetch answered
	// OFFSET_OUT_OF_RANGE at an offset a member had read up to, after
	// which it starts again per its reset offset (the start).
	resets []string
	// acked is, per partition, the offset commits the coordinator
	// acknowledged, in the order heard.
	acked map[int32][]ackedCommit
}

type ackedCommit struct {
	at     time.Time
	offset int64
}

// Member is one consumer of a Group.
type Member struct {
	Name   string
	group  *Group
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	read       atomic.Int64
	partitions atomic.Int64 // partitions assigned now
	mu         sync.Mutex
	assigned   []time.Time // when each assignment arrived
	// readAfter is when the first record was read after the last
	// assignment (zero until then).
	readAfter time.Time
	// stopped is when partitions were last revoked or lost; reads are
	// when each poll that returned records did.
	stopped time.Time
	reads   []time.Time
	errs    map[string]int
	// commits counts commit outcomes by kind ("ok" or the error), per
	// partition, auto-commits and those before partitions move alike.
	commits map[string]int
}

// StartGroup starts a consumer group of members members on topic, reading
// from the start of the topic into book's group ledger. Start it before the
// producer, so that its ledger hears every acknowledgement.
func (c *Cluster) StartGroup(book *Book, topic, name string, members int) *Group {
	c.t.Helper()
	if book.group == nil {
		c.t.Fatal("StartGroup needs a book made by NewGroupBook")
	}
	g := &Group{Name: name, c: c, topic: topic, ledger: book.group, read: map[int32]map[int64]bool{}, again: map[int32][]int64{}, acked: map[int32][]ackedCommit{}}
	for range members {
		g.Join()
	}
	c.t.Cleanup(g.Stop)
	return g
}

// Join adds a member, which joins the group at once.
func (g *Group) Join() *Member {
	g.c.t.Helper()
	g.mu.Lock()
	g.seq++
	m := &Member{Name: fmt.Sprintf("m%d", g.seq), group: g, done: make(chan struct{}), errs: map[string]int{}, commits: map[string]int{}}
	g.mu.Unlock()
	opts := append(GroupOptions(g.c.KafkaAddrs(), g.topic, g.Name),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) { m.assign(len(a[g.topic])) }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			m.stop(len(r[g.topic]))
			// A failed commit shows as redelivered records.
			cl.CommitOffsetsSync(ctx, cl.UncommittedOffsets(), m.commitDone)
		}),
		kgo.AutoCommitCallback(m.commitDone),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, l map[string][]int32) { m.stop(len(l[g.topic])) }),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		g.c.t.Fatal(err)
	}
	m.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.loop(ctx)
	g.mu.Lock()
	g.members = append(g.members, m)
	g.mu.Unlock()
	return m
}

func (m *Member) commitDone(_ *kgo.Client, req *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.commits[errKind(err)]++
		return
	}
	asked := map[int32]int64{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			asked[p.Partition] = p.Offset
		}
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				m.commits[errKind(err)]++
				continue
			}
			m.commits["ok"]++
			if off, ok := asked[p.Partition]; ok && t.Topic == m.group.topic {
				m.group.readMu.Lock()
				m.group.acked[p.Partition] = append(m.group.acked[p.Partition], ackedCommit{now, off})
				m.group.readMu.Unlock()
			}
		}
	}
}

// Commits returns the member's commit outcomes per partition, by kind.
func (m *Member) Commits() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.commits))
	for k, v := range m.commits {
		out[k] = v
	}
	return out
}

func (m *Member) stop(n int) {
	m.partitions.Add(-int64(n))
	m.mu.Lock()
	m.stopped = time.Now()
	m.mu.Unlock()
}

func (m *Member) assign(n int) {
	m.partitions.Add(int64(n))
	m.mu.Lock()
	m.assigned = append(m.assigned, time.Now())
	m.readAfter = time.Time{}
	m.mu.Unlock()
}

func (m *Member) loop(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		// The records of the last poll are in the ledger: a rebalance may
		// go ahead, and commits them before partitions move.
		m.cl.AllowRebalance()
		fs := m.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		now := time.Now()
		fs.EachError(func(_ string, _ int32, err error) {
			var loss *kgo.ErrDataLoss
			if errors.As(err, &loss) {
				m.group.readMu.Lock()
				m.group.resets = append(m.group.resets, fmt.Sprintf("%s partition %d: read to %d, reset to %d",
					m.Name, loss.Partition, loss.ConsumedTo, loss.ResetTo))
				m.group.readMu.Unlock()
			}
			m.mu.Lock()
			m.errs[errKind(err)]++
			m.mu.Unlock()
		})
		n := 0
		m.mu.Lock()
		var assignedAt time.Time
		if len(m.assigned) > 0 {
			assignedAt = m.assigned[len(m.assigned)-1]
		}
		m.mu.Unlock()
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if id, ok := ParseValue(r.Value); ok {
				m.group.ledger.Consumed(r.Partition, r.Offset, id)
			}
			m.group.sawOffset(r.Partition, r.Offset, assignedAt)
		})
		if n > 0 {
			m.read.Add(int64(n))
			m.mu.Lock()
			if m.readAfter.IsZero() {
				m.readAfter = now
			}
			m.reads = append(m.reads, now)
			m.mu.Unlock()
		}
	}
}

// sawOffset records a read of offset off of partition p by a member whose
// assignment arrived at assignedAt.
func (g *Group) sawOffset(p int32, off int64, assignedAt time.Time) {
	g.readMu.Lock()
	defer g.readMu.Unlock()
	if g.read[p] == nil {
		g.read[p] = map[int64]bool{}
	}
	if g.read[p][off] {
		g.again[p] = append(g.again[p], off)
		// The member fetched the partition's committed offset after its
		// assignment arrived: any commit acknowledged before then is at
		// or below it, so it cannot read again below such a commit.
		for _, c := range g.acked[p] {
			if c.at.Before(assignedAt) && off < c.offset {
				g.backwards = append(g.backwards, fmt.Sprintf("partition %d offset %d, read again by a member assigned at %s, after a commit of offset %d was acknowledged at %s",
					p, off, assignedAt.Format("15:04:05.000"), c.offset, c.at.Format("15:04:05.000")))
				break
			}
		}
	}
	g.read[p][off] = true
}

// Resets lists the members' offset resets after OFFSET_OUT_OF_RANGE.
func (g *Group) Resets() []string {
	g.readMu.Lock()
	defer g.readMu.Unlock()
	return slices.Clone(g.resets)
}

// WentBack lists the records the group read again below an offset the
// coordinator had acknowledged committing before the reading member got
// the partition: a committed offset lost or gone back.
func (g *Group) WentBack() []string {
	g.readMu.Lock()
	defer g.readMu.Unlock()
	return slices.Clone(g.backwards)
}

// ReadAgain sums up, per partition, the offsets the group read more than
// once: how many and their range.
func (g *Group) ReadAgain() string {
	g.readMu.Lock()
	defer g.readMu.Unlock()
	var parts []string
	for p := range int32(Partitions) {
		offs := g.again[p]
		if len(offs) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("partition %d: %d reads again of offsets %d-%d", p, len(offs), slices.Min(offs), slices.Max(offs)))
	}
	return strings.Join(parts, "; ")
}

// Leave stops the member, which commits what it read and leaves the group.
func (m *Member) Leave() {
	m.cancel()
	<-m.done
	m.cl.CloseAllowingRebalance()
	m.group.mu.Lock()
	defer m.group.mu.Unlock()
	m.group.members = slices.DeleteFunc(m.group.members, func(o *Member) bool { return o == m })
}

// Members returns the members in the group now.
func (g *Group) Members() []*Member {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.members)
}

// Read is how many records the member has read.
func (m *Member) Read() int64 { return m.read.Load() }

// Errors returns the errors the member's polls returned, by kind.
func (m *Member) Errors() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.errs))
	for k, v := range m.errs {
		out[k] = v
	}
	return out
}

// ConsumingSince reports when the member first read a record under an
// assignment it received at or after t, and whether it has.
func (m *Member) ConsumingSince(t time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.assigned) == 0 || m.assigned[len(m.assigned)-1].Before(t) || m.readAfter.IsZero() {
		return time.Time{}, false
	}
	return m.readAfter, true
}

// ConsumingAgain reports when the member consumed again after an event at
// t that may or may not rebalance the group: if it lost or gave up its
// partitions at or after t, its first read under the assignment that
// followed; otherwise (it kept its partitions) its first read at or after
// resumed, a time after t when reads can only be fresh ones, such as when
// a new leader was agreed after the old one was killed.
func (m *Member) ConsumingAgain(t, resumed time.Time) (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	from := resumed
	if !m.stopped.Before(t) {
		if len(m.assigned) == 0 || !m.assigned[len(m.assigned)-1].After(m.stopped) {
			return time.Time{}, false
		}
		from = m.assigned[len(m.assigned)-1]
	}
	i, _ := slices.BinarySearchFunc(m.reads, from, func(a, b time.Time) int { return a.Compare(b) })
	if i == len(m.reads) {
		return time.Time{}, false
	}
	return m.reads[i], true
}

// Reassigned reports whether the member lost or gave up its partitions at
// or after t.
func (m *Member) Reassigned(t time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.stopped.Before(t)
}

// Assignments is how many assignments the member has received.
func (m *Member) Assignments() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.assigned)
}

// WaitConsuming waits until every member has partitions and has read
// records from them.
func (g *Group) WaitConsuming(t testing.TB, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, "every member of group "+g.Name+" to consume", func() error {
		for _, m := range g.Members() {
			if m.partitions.Load() <= 0 || m.Read() == 0 {
				return fmt.Errorf("%s: %d partitions, %d records read, errors %v", m.Name, m.partitions.Load(), m.Read(), m.Errors())
			}
		}
		return nil
	})
}

// RebalancedAfter waits until every member has received an assignment at
// or after t and read a record under it, and returns when the last of them
// read its first: the time the group took, from t, to consume again.
func (g *Group) RebalancedAfter(t time.Time, timeout time.Duration) (time.Time, error) {
	var last time.Time
	err := Poll(timeout, func() error {
		last = time.Time{}
		for _, m := range g.Members() {
			at, ok := m.ConsumingSince(t)
			if !ok {
				return fmt.Errorf("%s: no assignment since %s followed by a read (%d assignments, %d partitions, errors %v)",
					m.Name, t.Format("15:04:05.000"), m.Assignments(), m.partitions.Load(), m.Errors())
			}
			if at.After(last) {
				last = at
			}
		}
		return nil
	})
	return last, err
}

// ConsumingAgainAfter waits until every member consumes again after an
// event at t (Member.ConsumingAgain) and returns when the last of them did.
func (g *Group) ConsumingAgainAfter(t, resumed time.Time, timeout time.Duration) (time.Time, error) {
	var last time.Time
	err := Poll(timeout, func() error {
		last = time.Time{}
		for _, m := range g.Members() {
			at, ok := m.ConsumingAgain(t, resumed)
			if !ok {
				return fmt.Errorf("%s: not consuming again since %s (%d assignments, %d partitions, errors %v)",
					m.Name, t.Format("15:04:05.000"), m.Assignments(), m.partitions.Load(), m.Errors())
			}
			if at.After(last) {
				last = at
			}
		}
		return nil
	})
	return last, err
}

// Drain waits until every acknowledged record has been read by the group,
// and returns the group ledger's report.
func (g *Group) Drain(timeout time.Duration) (ledger.Report, error) {
	err := Poll(timeout, func() error {
		if n := g.ledger.Outstanding(); n > 0 {
			var errs []string
			for _, m := range g.Members() {
				errs = append(errs, fmt.Sprintf("%s read %d, errors %v", m.Name, m.Read(), m.Errors()))
			}
			return fmt.Errorf("%d acknowledged records not read by the group (%v)", n, errs)
		}
		return nil
	})
	return g.ledger.Report(), err
}

// WaitCommitted waits until the group has committed an offset past 0 for
// every partition of the topic, and returns the offsets.
func (g *Group) WaitCommitted(t testing.TB, timeout time.Duration) map[int32]int64 {
	t.Helper()
	var committed map[int32]int64
	WaitFor(t, timeout, "group "+g.Name+" to commit every partition", func() error {
		var err error
		if committed, err = g.Committed(5 * time.Second); err != nil {
			return err
		}
		for p := range int32(Partitions) {
			if committed[p] <= 0 {
				return fmt.Errorf("committed %v", committed)
			}
		}
		return nil
	})
	return committed
}

// Committed returns the group's committed offsets of the topic, asking
// through the given nodes (all when none are given).
func (g *Group) Committed(timeout time.Duration, nodes ...*Node) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(g.c.KafkaAddrs(nodes...)...), kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, g.Name)
	if err != nil {
		return nil, err
	}
	if err := resp.Error(); err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, o := range resp[g.topic] {
		out[p] = o.At
	}
	return out, nil
}

// Stop stops every member; each commits what it read and leaves.
func (g *Group) Stop() {
	for _, m := range g.Members() {
		m.Leave()
	}
}
