//go:build linux

package harness

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/loadgen/ledger"
)

// Book is a scenario's verify ledger plus the record ids it hands out: the
// producer and the probes draw ids from one sequence so every acknowledged
// record, whoever wrote it, is checked.
type Book struct {
	*ledger.Ledger
	next  atomic.Uint64
	group *ledger.Ledger // NewGroupBook: hears every acknowledgement too
}

// NewBook returns an empty Book.
func NewBook() *Book { return &Book{Ledger: ledger.New()} }

// NextID returns a fresh record id.
func (b *Book) NextID() uint64 { return b.next.Add(1) }

// valueMagic starts every record value the suite writes.
var valueMagic = [8]byte{'R', 'L', 'C', 'H', 'A', 'O', 'S', '1'}

// ValueSize is the size of a record value.
const ValueSize = 100

// Value encodes a record id into a record value.
func Value(id uint64) []byte {
	v := make([]byte, ValueSize)
	copy(v, valueMagic[:])
	binary.BigEndian.PutUint64(v[8:], id)
	for i := 16; i < len(v); i++ {
		v[i] = byte('a' + (id+uint64(i))%26)
	}
	return v
}

// ParseValue returns the id in a value written by Value.
func ParseValue(v []byte) (uint64, bool) {
	if len(v) != ValueSize || [8]byte(v[:8]) != valueMagic {
		return 0, false
	}
	return binary.BigEndian.Uint64(v[8:]), true
}

// Partitions is how many partitions a scenario's topic has.
const Partitions = 3

// CreateTopic creates topic with Partitions partitions and waits until
// every node knows it.
func (c *Cluster) CreateTopic(topic string) {
	c.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.KafkaAddrs(c.Running()...)...), kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }))
	if err != nil {
		c.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, Partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		c.t.Fatalf("create topic %s: %v", topic, err)
	}
	WaitFor(c.t, 30*time.Second, "every node to know topic "+topic, func() error {
		for _, n := range c.Running() {
			v, err := n.Digests()
			if err != nil {
				return err
			}
			count := 0
			for _, p := range v.Partitions {
				if p.Topic == topic {
					count++
				}
			}
			if count != Partitions {
				return fmt.Errorf("%v has %d partitions of %s", n, count, topic)
			}
		}
		return nil
	})
}

// Ack is one acknowledged record: when the client heard it and when the
// record had been handed to the client.
type Ack struct {
	At, Produced time.Time
}

// Producer writes unique records continuously at a fixed rate with acks=all
// and franz-go's default idempotent producer, recording every
// acknowledgement in the Book.
type Producer struct {
	book  *Book
	cl    *kgo.Client
	rate  int
	start time.Time

	mu      sync.Mutex
	acks    []Ack
	errs    map[string]int
	stopped time.Time

	produced atomic.Int64
	failed   atomic.Int64
	cancel   context.CancelFunc
	done     chan struct{}
}

// ProducerOptions are the franz-go settings the chaos producers use. The
// client refreshes metadata at most every 100ms and backs off 50ms between
// retries, instead of its 5s and growing defaults, so a measured produce gap
// is the cluster's and not the client's back-off; a produce request waits at
// most 3s at the broker and 5s in all, so a frozen or unreachable node costs
// seconds, not the default tens of seconds.
func ProducerOptions(brokers []string, topic string) []kgo.Opt {
	opts := clientLog()
	return append(opts,
		kgo.SeedBrokers(brokers...),
		kgo.ClientID("raftline-chaos"),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(50000),
		kgo.MetadataMinAge(100*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 50 * time.Millisecond }),
		kgo.ProduceRequestTimeout(3*time.Second),
		kgo.RequestTimeoutOverhead(2*time.Second),
		kgo.DialTimeout(2*time.Second),
	)
}

// clientLog, when RAFTLINE_CHAOS_CLIENT_LOG names a file, appends the
// producers' own log (debug level: every request, retry and metadata update) to it,
// to tell the client's waiting from the cluster's.
func clientLog() []kgo.Opt {
	path := os.Getenv("RAFTLINE_CHAOS_CLIENT_LOG")
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil
	}
	return []kgo.Opt{kgo.WithLogger(kgo.BasicLogger(f, kgo.LogLevelDebug, func() string {
		return time.Now().Format("15:04:05.000 ")
	}))}
}

// StartProducer starts producing rate records per second to topic and
// returns once the first record is acknowledged.
func (c *Cluster) StartProducer(book *Book, topic string, rate int) *Producer {
	c.t.Helper()
	cl, err := kgo.NewClient(ProducerOptions(c.KafkaAddrs(), topic)...)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Producer{book: book, cl: cl, rate: rate, errs: map[string]int{}, cancel: cancel, done: make(chan struct{}), start: time.Now()}
	go p.loop(ctx)
	c.t.Cleanup(func() { p.cancel(); <-p.done; p.cl.Close() })
	p.WaitAcks(c.t, 1, 30*time.Second)
	return p
}

func (p *Producer) loop(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Open loop: what the rate asks for by now, never more than a
		// second's worth behind, so a long outage does not end in a burst.
		due := int(time.Since(p.start).Seconds() * float64(p.rate))
		if due-sent > p.rate {
			sent = due - p.rate
		}
		for ; sent < due; sent++ {
			id := p.book.NextID()
			produced := time.Now()
			p.produced.Add(1)
			// Not ctx: stopping the loop must not cancel records already
			// handed over; Stop waits for their outcome instead.
			p.cl.Produce(context.Background(), &kgo.Record{Value: Value(id)}, func(r *kgo.Record, err error) {
				now := time.Now()
				if err != nil {
					p.failed.Add(1)
					p.mu.Lock()
					p.errs[errKind(err)]++
					p.mu.Unlock()
					return
				}
				p.book.Acked(r.Partition, r.Offset, id)
				p.mu.Lock()
				p.acks = append(p.acks, Ack{At: now, Produced: produced})
				p.mu.Unlock()
			})
			if ctx.Err() != nil {
				return
			}
		}
	}
}

func errKind(err error) string {
	var ke *kerr.Error
	switch {
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, kgo.ErrRecordTimeout):
		return "record_timeout"
	}
	return err.Error()
}

// Acks returns how many records have been acknowledged.
func (p *Producer) Acks() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.acks)
}

// WaitAcks waits until at least n records in all have been acknowledged.
func (p *Producer) WaitAcks(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	WaitFor(t, timeout, fmt.Sprintf("%d acknowledged records", n), func() error {
		if got := p.Acks(); got < n {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	})
}

// WaitMoreAcks waits for n acknowledgements more than there are now.
func (p *Producer) WaitMoreAcks(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	p.WaitAcks(t, p.Acks()+n, timeout)
}

// AcksBetween counts acknowledgements heard in [from, to).
func (p *Producer) AcksBetween(from, to time.Time) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, a := range p.acks {
		if !a.At.Before(from) && a.At.Before(to) {
			n++
		}
	}
	return n
}

// FirstAckAfter returns the first acknowledgement, heard after t, of a record
// handed to the client after t: the first write that succeeded once a fault
// hit at t, which no answer already on its way at t can fake.
func (p *Producer) FirstAckAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, a := range p.acks {
		if a.Produced.After(t) && (first.IsZero() || a.At.Before(first)) {
			first = a.At
		}
	}
	return first, !first.IsZero()
}

// FirstAckHeardAfter returns the first acknowledgement heard after t, of any
// record: after a quorum loss, when nothing could have been on its way.
func (p *Producer) FirstAckHeardAfter(t time.Time) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, a := range p.acks {
		if a.At.After(t) && (first.IsZero() || a.At.Before(first)) {
			first = a.At
		}
	}
	return first, !first.IsZero()
}

// LongestGap is the longest time without an acknowledgement between from
// and to (zero times: the first acknowledgement, and the stop or now).
func (p *Producer) LongestGap(from, to time.Time) time.Duration {
	p.mu.Lock()
	times := make([]time.Time, 0, len(p.acks))
	for _, a := range p.acks {
		times = append(times, a.At)
	}
	stopped := p.stopped
	p.mu.Unlock()
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	if len(times) == 0 {
		return 0
	}
	if from.IsZero() {
		from = times[0]
	}
	if to.IsZero() {
		to = stopped
		if to.IsZero() {
			to = time.Now()
		}
	}
	prev, longest := from, time.Duration(0)
	for _, at := range times {
		if at.Before(from) {
			continue
		}
		if at.After(to) {
			break
		}
		longest = max(longest, at.Sub(prev))
		prev = at
	}
	return max(longest, to.Sub(prev))
}

// Latencies returns the acknowledgement latencies of records handed to the
// client in [from, to), sorted.
func (p *Producer) Latencies(from, to time.Time) []time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []time.Duration
	for _, a := range p.acks {
		if !a.Produced.Before(from) && a.Produced.Before(to) {
			out = append(out, a.At.Sub(a.Produced))
		}
	}
	slices.Sort(out)
	return out
}

// ProducerStats sums up a producer's run.
type ProducerStats struct {
	Produced, Acked, Failed int64
	// Unresolved records were neither acknowledged nor failed when the
	// producer stopped: their fate is unknown, like any unanswered write.
	Unresolved int64
	Errors     map[string]int
}

// Stop stops producing and waits up to timeout for every record in flight to
// be acknowledged or to fail.
func (p *Producer) Stop(timeout time.Duration) ProducerStats {
	p.cancel()
	<-p.done
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	p.cl.Flush(ctx)
	p.mu.Lock()
	if p.stopped.IsZero() {
		p.stopped = time.Now()
	}
	errs := make(map[string]int, len(p.errs))
	for k, v := range p.errs {
		errs[k] = v
	}
	acked := int64(len(p.acks))
	p.mu.Unlock()
	st := ProducerStats{Produced: p.produced.Load(), Acked: acked, Failed: p.failed.Load(), Errors: errs}
	st.Unresolved = st.Produced - st.Acked - st.Failed
	return st
}

// Verify reads every partition of topic from the leader, from the log start
// to the high watermark, tells the book what it read and returns the book's
// report. The caller has stopped all writers.
func (c *Cluster) Verify(book *Book, topic string, timeout time.Duration) (ledger.Report, error) {
	leader, err := c.Leader(nil)
	if err != nil {
		return ledger.Report{}, err
	}
	v, err := leader.Digests()
	if err != nil {
		return ledger.Report{}, err
	}
	parts := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	for _, d := range v.Partitions {
		if d.Topic != topic {
			continue
		}
		if d.LogStart != 0 {
			return ledger.Report{}, fmt.Errorf("%s/%d starts at %d: records were trimmed and cannot be checked", topic, d.Partition, d.LogStart)
		}
		parts[d.Partition] = kgo.NewOffset().At(0)
		end[d.Partition] = d.HighWatermark
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(c.KafkaAddrs(c.Running()...)...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	if err != nil {
		return ledger.Report{}, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	next := map[int32]int64{}
	done := func() bool {
		for p, e := range end {
			if next[p] < e {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return ledger.Report{}, fmt.Errorf("reading %s back: read up to %v of %v: %w", topic, next, end, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if id, ok := ParseValue(r.Value); ok {
				book.Consumed(r.Partition, r.Offset, id)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	return book.Report(), nil
}
