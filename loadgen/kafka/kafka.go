// Package kafka implements loadgen's Sink, Source and Clients with franz-go,
// for any Kafka-compatible broker.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/loadgen"
)

var (
	_ loadgen.Clients     = (*Clients)(nil)
	_ loadgen.GroupLagger = (*Clients)(nil)
)

// Clients creates franz-go producers and consumers for one Config and
// answers questions about its topic with a shared admin client.
type Clients struct {
	cfg   loadgen.Config
	admin *kgo.Client
}

// New returns Clients for cfg. It does not connect until first used.
func New(cfg loadgen.Config) (*Clients, error) {
	admin, err := kgo.NewClient(common(cfg)...)
	if err != nil {
		return nil, err
	}
	return &Clients{cfg: cfg, admin: admin}, nil
}

// Close closes the admin client. Producers and consumers are closed by the
// run that uses them.
func (c *Clients) Close() { c.admin.Close() }

func common(cfg loadgen.Config) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID("raftline-loadgen"),
	}
}

// Sink returns a new producer client.
func (c *Clients) Sink(int) (loadgen.Sink, error) {
	opts := append(common(c.cfg),
		kgo.DefaultProduceTopic(c.cfg.Topic),
		kgo.ProducerLinger(c.cfg.Linger),
		kgo.ProducerBatchMaxBytes(c.cfg.BatchMaxBytes),
		kgo.RecordDeliveryTimeout(c.cfg.DeliveryTimeout),
		kgo.MaxBufferedRecords(c.cfg.MaxBuffered),
		kgo.ProducerBatchCompression(codec(c.cfg.Compression)),
	)
	switch c.cfg.Acks {
	case "0":
		opts = append(opts, kgo.RequiredAcks(kgo.NoAck()))
	case "1":
		opts = append(opts, kgo.RequiredAcks(kgo.LeaderAck()))
	default:
		opts = append(opts, kgo.RequiredAcks(kgo.AllISRAcks()))
	}
	if !c.cfg.Idempotent {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return sink{cl}, nil
}

func codec(name string) kgo.CompressionCodec {
	switch name {
	case "gzip":
		return kgo.GzipCompression()
	case "snappy":
		return kgo.SnappyCompression()
	case "lz4":
		return kgo.Lz4Compression()
	case "zstd":
		return kgo.ZstdCompression()
	}
	return kgo.NoCompression()
}

// Source returns a new consumer client: a group member when offsets is nil
// and a group is configured, otherwise a reader of exactly those partitions.
func (c *Clients) Source(_ int, offsets map[int32]int64) (loadgen.Source, error) {
	opts := common(c.cfg)
	group := offsets == nil && c.cfg.Group != ""
	switch {
	case group:
		reset := kgo.NewOffset().AtStart()
		if c.cfg.FromEnd {
			reset = kgo.NewOffset().AtEnd()
		}
		opts = append(opts, kgo.ConsumerGroup(c.cfg.Group), kgo.ConsumeTopics(c.cfg.Topic), kgo.ConsumeResetOffset(reset),
			// A rebalance may only happen between polls, when the records
			// of the last poll have been counted, and commits them before
			// partitions move. Otherwise the new owner reads the last
			// poll again, which --verify would rightly report.
			kgo.BlockRebalanceOnPoll(),
			kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, _ map[string][]int32) {
				_ = cl.CommitUncommittedOffsets(ctx) // a failure shows as redelivered records
			}))
	case offsets == nil:
		return nil, errors.New("a consumer needs either a group or partition offsets")
	default:
		parts := make(map[int32]kgo.Offset, len(offsets))
		for p, off := range offsets {
			parts[p] = kgo.NewOffset().At(off)
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.cfg.Topic: parts}))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	return source{cl, group}, nil
}

type sink struct{ cl *kgo.Client }

func (s sink) Produce(ctx context.Context, r loadgen.Record, done func(loadgen.Ack)) {
	s.cl.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, func(rec *kgo.Record, err error) {
		if err != nil {
			done(loadgen.Ack{Err: Wrap(err)})
			return
		}
		done(loadgen.Ack{Partition: rec.Partition, Offset: rec.Offset})
	})
}

func (s sink) Flush(ctx context.Context) error { return Wrap(s.cl.Flush(ctx)) }

func (s sink) Close() { s.cl.Close() }

type source struct {
	cl    *kgo.Client
	group bool
}

// Poll returns the next records. The caller has finished with the previous
// ones, so a blocked rebalance may go ahead first.
func (s source) Poll(ctx context.Context) ([]loadgen.Message, []error) {
	if s.group {
		s.cl.AllowRebalance()
	}
	fs := s.cl.PollFetches(ctx)
	var errs []error
	fs.EachError(func(_ string, _ int32, err error) {
		err = Wrap(err)
		if s.group && groupRefused(err) {
			err = &loadgen.FatalError{Err: fmt.Errorf("cannot join the consumer group: %w", err)}
		}
		errs = append(errs, err)
	})
	msgs := make([]loadgen.Message, 0, fs.NumRecords())
	fs.EachRecord(func(r *kgo.Record) {
		msgs = append(msgs, loadgen.Message{Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value})
	})
	return msgs, errs
}

// groupRefused reports whether err is the group management loop's error
// for an answer that no retry changes: the broker refusing the group itself
// (raftline before it had a coordinator answered FindCoordinator with
// INVALID_REQUEST), or refusing this client. franz-go retries such errors
// for ever, handing each to a poll; the run would count them until its drain
// timeout and report every record lost. Errors of a group's ordinary life
// (rebalances, a moving coordinator, an expired member) are not among them.
func groupRefused(err error) bool {
	var sess *kgo.ErrGroupSession
	if !errors.As(err, &sess) {
		return false
	}
	for _, refusal := range []error{
		kerr.InvalidRequest, kerr.UnsupportedVersion, kerr.GroupAuthorizationFailed,
		kerr.InvalidGroupID, kerr.InconsistentGroupProtocol, kerr.GroupMaxSizeReached,
	} {
		if errors.Is(sess.Err, refusal) {
			return true
		}
	}
	return false
}

// CommittedLag is the group's lag by its committed offsets, summed over the
// partitions of the topic, as kadm computes it from DescribeGroups,
// OffsetFetch and ListOffsets: for each partition the end offset minus the
// committed offset, or the whole partition where nothing is committed. A
// group the broker does not know yet, or that has neither offsets nor
// members assigned for the topic, has no lag to report.
func (c *Clients) CommittedLag(ctx context.Context) (int64, error) {
	lags, err := kadm.NewClient(c.admin).Lag(ctx, c.cfg.Group)
	if err != nil {
		return 0, err
	}
	l, ok := lags[c.cfg.Group]
	switch {
	case !ok:
		return 0, fmt.Errorf("group %q: no answer", c.cfg.Group)
	case l.Error() != nil:
		return 0, l.Error()
	case l.State == "Dead":
		return 0, fmt.Errorf("group %q: %w", c.cfg.Group, kerr.GroupIDNotFound)
	}
	parts, ok := l.Lag[c.cfg.Topic]
	if !ok {
		// Nothing committed and no member assigned yet: kadm would sum
		// nothing and say 0, which is not what the group lags by.
		return 0, fmt.Errorf("group %q has no offsets or assignments for topic %q yet", c.cfg.Group, c.cfg.Topic)
	}
	var n int64
	for _, pl := range parts {
		if pl.Err != nil {
			return 0, fmt.Errorf("group %q partition %d: %w", c.cfg.Group, pl.Partition, pl.Err)
		}
		n += max(pl.Lag, 0)
	}
	return n, nil
}

// Close leaves the group, if any, committing what was consumed.
func (s source) Close() { s.cl.CloseAllowingRebalance() }

// Wrap labels err with the kind it is counted under: the Kafka error code
// name for broker errors, otherwise a short name for the client's failure.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	return &loadgen.KindError{Kind: kind(err), Err: err}
}

func kind(err error) string {
	var (
		ke   *kerr.Error
		loss *kgo.ErrDataLoss
		sess *kgo.ErrGroupSession
		ne   net.Error
	)
	switch {
	case errors.As(err, &ke):
		return ke.Message
	case errors.Is(err, kgo.ErrRecordTimeout):
		return "record_timeout"
	case errors.Is(err, kgo.ErrRecordRetries):
		return "record_retries"
	case errors.Is(err, kgo.ErrMaxBuffered):
		return "max_buffered"
	case errors.Is(err, kgo.ErrAborting):
		return "aborting"
	case errors.Is(err, kgo.ErrClientClosed):
		return "client_closed"
	case errors.As(err, &loss):
		return "data_loss"
	case errors.As(err, &sess):
		return "group_session"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "network"
	}
	return "other"
}

// EnsureTopic creates the topic if it does not exist and waits until every
// partition has a leader. It returns the topic's partition count, which
// differs from the configured one when the topic already existed.
func (c *Clients) EnsureTopic(ctx context.Context) (int, error) {
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30_000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = c.cfg.Topic
	t.NumPartitions = c.cfg.Partitions
	t.ReplicationFactor = c.cfg.Replication
	req.Topics = append(req.Topics, t)
	err := retry(ctx, func() error {
		resp, err := req.RequestWith(ctx, c.admin)
		if err != nil {
			return err
		}
		for _, rt := range resp.Topics {
			if err := kerr.ErrorForCode(rt.ErrorCode); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return fmt.Errorf("%w%s", err, detail(rt.ErrorMessage))
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("creating topic %q: %w", c.cfg.Topic, err)
	}
	var n int
	err = retry(ctx, func() error {
		parts, err := c.partitions(ctx)
		n = len(parts)
		return err
	})
	return n, err
}

func detail(msg *string) string {
	if msg == nil || *msg == "" {
		return ""
	}
	return " (" + *msg + ")"
}

// partitions returns the topic's partitions, failing while any of them has
// no leader.
func (c *Clients) partitions(ctx context.Context) ([]int32, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(c.cfg.Topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return nil, err
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != c.cfg.Topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return nil, err
		}
		var parts []int32
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("partition %d: %w", p.Partition, err)
			}
			if p.Leader < 0 {
				return nil, fmt.Errorf("partition %d: %w", p.Partition, kerr.LeaderNotAvailable)
			}
			parts = append(parts, p.Partition)
		}
		if len(parts) > 0 {
			return parts, nil
		}
	}
	return nil, fmt.Errorf("topic %q: %w", c.cfg.Topic, kerr.UnknownTopicOrPartition)
}

// Offsets returns every partition's first offset, or its next offset with
// end set (the high watermark).
func (c *Clients) Offsets(ctx context.Context, end bool) (map[int32]int64, error) {
	var out map[int32]int64
	err := retry(ctx, func() error {
		parts, err := c.partitions(ctx)
		if err != nil {
			return err
		}
		out, err = c.listOffsets(ctx, parts, end)
		return err
	})
	return out, err
}

func (c *Clients) listOffsets(ctx context.Context, parts []int32, end bool) (map[int32]int64, error) {
	ts := int64(-2) // earliest
	if end {
		ts = -1 // latest
	}
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = c.cfg.Topic
	for _, p := range parts {
		rp := kmsg.NewListOffsetsRequestTopicPartition()
		rp.Partition = p
		rp.Timestamp = ts
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	// The client splits the request by partition leader and merges the
	// answers.
	resp, err := req.RequestWith(ctx, c.admin)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(parts))
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("partition %d: %w", p.Partition, err)
			}
			out[p.Partition] = p.Offset
		}
	}
	if len(out) != len(parts) {
		return nil, fmt.Errorf("offsets for %d of %d partitions", len(out), len(parts))
	}
	return out, nil
}

// retry calls fn until it succeeds, fails with an error that is not
// retriable, or ctx ends. Brokers that are still starting refuse
// connections, and leadership moves (during a start or an election) make the
// first answers transiently wrong.
func retry(ctx context.Context, fn func() error) error {
	var err error
	for {
		var op *net.OpError
		if err = fn(); err == nil || !(kerr.IsRetriable(err) || errors.As(err, &op)) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
