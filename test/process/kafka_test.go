//go:build unix

package process

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/test/internal/systest"
)

// newClient is a kgo client at its default settings (idempotent, acks=all,
// unbounded record retries) plus opts, closed when the test ends.
func newClient(t testing.TB, seeds []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic replicated to every voter, retrying while the
// cluster settles (NOT_CONTROLLER, timeouts).
func createTopic(t testing.TB, cl *kgo.Client, name string, partitions int32) {
	t.Helper()
	waitFor(t, 30*time.Second, "topic "+name+" to be created", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		err := systest.CreateTopic(ctx, cl, name, partitions)
		if errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		return err
	})
}

// waitTopic waits until every given node has applied the topic's creation,
// so a client asking any of them for metadata finds it.
func (c *cluster) waitTopic(name string, partitions int, nodes ...*node) {
	c.t.Helper()
	waitFor(c.t, 30*time.Second, "topic "+name+" on every node", func() error {
		for _, nd := range nodes {
			ds, err := partitionsOf(nd.http)
			if err != nil {
				return err
			}
			n := 0
			for _, d := range ds {
				if d.Topic == name {
					n++
				}
			}
			if n != partitions {
				return fmt.Errorf("node %d has %d of %d partitions", nd.id, n, partitions)
			}
		}
		return nil
	})
}

// ack is one acknowledged record: what the client was told.
type ack struct {
	seq       int
	partition int32
	offset    int64
	key       string
	value     string
}

func recordFor(topic string, seq int) *kgo.Record {
	return &kgo.Record{
		Topic: topic,
		Key:   []byte(strconv.Itoa(seq)),
		// Unique per record, and long enough that batches carry real data.
		Value: []byte(fmt.Sprintf("%s seq=%08d %s", topic, seq, strings.Repeat("v", 48))),
	}
}

// maxStreamRecords bounds a stream, so a stuck cluster cannot make the
// producing loop run for ever.
const maxStreamRecords = 200_000

// stream produces uniquely numbered records asynchronously, keeping a bounded
// number in flight, and records each acknowledgement in the order the client
// reports it (kgo calls a partition's promises in offset order).
type stream struct {
	t        testing.TB
	cl       *kgo.Client
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	mu       sync.Mutex
	acks     []ack
	errs     []error
	produced int
}

func startStream(t testing.TB, cl *kgo.Client, topic string) *stream {
	s := &stream{t: t, cl: cl, stop: make(chan struct{}), done: make(chan struct{})}
	// Registered after the client's Cleanup, so it runs first: a test that
	// fails mid-stream stops producing before the client closes.
	t.Cleanup(func() { s.halt(); <-s.done })
	window := make(chan struct{}, 64)
	go func() {
		defer close(s.done)
		for seq := range maxStreamRecords {
			select {
			case <-s.stop:
				return
			case window <- struct{}{}:
			}
			select {
			case <-s.stop:
				return
			default:
			}
			s.mu.Lock()
			s.produced++
			s.mu.Unlock()
			cl.Produce(context.Background(), recordFor(topic, seq), func(r *kgo.Record, err error) {
				s.mu.Lock()
				if err != nil {
					s.errs = append(s.errs, fmt.Errorf("seq %s: %w", r.Key, err))
				} else {
					s.acks = append(s.acks, ack{seq: seq, partition: r.Partition, offset: r.Offset, key: string(r.Key), value: string(r.Value)})
				}
				s.mu.Unlock()
				<-window
			})
		}
	}()
	return s
}

func (s *stream) halt() { s.stopOnce.Do(func() { close(s.stop) }) }

func (s *stream) acked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks)
}

// waitAcked waits until n records in all have been acknowledged. With
// unbounded retries a default kgo producer fails a record only on an error
// it cannot retry, so any failure fails the test.
func (s *stream) waitAcked(n int, timeout time.Duration) {
	s.t.Helper()
	waitFor(s.t, timeout, fmt.Sprintf("%d acknowledged records", n), func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.errs) > 0 {
			s.t.Fatalf("produce failed (%d records): first: %v", len(s.errs), s.errs[0])
		}
		if len(s.acks) < n {
			return fmt.Errorf("%d of %d produced records acknowledged", len(s.acks), s.produced)
		}
		return nil
	})
}

// finish stops producing, waits for every record in flight and returns the
// acknowledgements. Every record produced must have been acknowledged.
func (s *stream) finish() []ack {
	s.t.Helper()
	s.halt()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.cl.Flush(ctx); err != nil {
		s.t.Fatalf("flushing the producer: %v (%d of %d acknowledged)", err, s.acked(), s.produced)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.errs) > 0 {
		s.t.Fatalf("produce failed (%d records): first: %v", len(s.errs), s.errs[0])
	}
	if len(s.acks) != s.produced {
		s.t.Fatalf("%d records produced, %d acknowledged", s.produced, len(s.acks))
	}
	return append([]ack(nil), s.acks...)
}

// produceSync produces records in one call and returns their
// acknowledgements in record order.
func produceSync(t testing.TB, cl *kgo.Client, firstSeq int, recs ...*kgo.Record) []ack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []ack
	for i, res := range cl.ProduceSync(ctx, recs...) {
		if res.Err != nil {
			t.Fatalf("produce seq %d: %v", firstSeq+i, res.Err)
		}
		r := res.Record
		out = append(out, ack{seq: firstSeq + i, partition: r.Partition, offset: r.Offset, key: string(r.Key), value: string(r.Value)})
	}
	return out
}

// listEnds asks the cluster for each partition's high watermark (ListOffsets
// with timestamp -1, routed by the client to the partition leader).
func listEnds(t testing.TB, cl *kgo.Client, topic string, partitions int32) map[int32]int64 {
	t.Helper()
	ends := map[int32]int64{}
	waitFor(t, 30*time.Second, "high watermarks of "+topic, func() error {
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for p := range partitions {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = p, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		got := map[int32]int64{}
		for _, rt := range resp.Topics {
			for _, p := range rt.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("partition %d: %w", p.Partition, err)
				}
				got[p.Partition] = p.Offset
			}
		}
		if len(got) != int(partitions) {
			return fmt.Errorf("offsets for %d of %d partitions", len(got), partitions)
		}
		ends = got
		return nil
	})
	return ends
}

// consumeAll reads every partition of topic from the start up to the high
// watermark with a default kgo consumer, and returns the records per
// partition along with the high watermarks it read up to.
func consumeAll(t testing.TB, seeds []string, topic string, partitions int32) (map[int32][]*kgo.Record, map[int32]int64) {
	t.Helper()
	ends := listEnds(t, newClient(t, seeds), topic, partitions)
	offsets := map[int32]kgo.Offset{}
	for p := range partitions {
		offsets[p] = kgo.NewOffset().AtStart()
	}
	cl := newClient(t, seeds, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
	got := map[int32][]*kgo.Record{}
	var lastErr error
	waitFor(t, 60*time.Second, "every record of "+topic+" to be consumed", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) {
				lastErr = fmt.Errorf("partition %d: %w", e.Partition, e.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = append(got[r.Partition], r) })
		for p := range partitions {
			next := int64(0)
			if rs := got[p]; len(rs) > 0 {
				next = rs[len(rs)-1].Offset + 1
			}
			if next < ends[p] {
				return fmt.Errorf("partition %d read up to %d of %d (last fetch error: %v)", p, next, ends[p], lastErr)
			}
		}
		return nil
	})
	return got, ends
}

// checkAcked asserts that every acknowledged record is in the partition it was
// acknowledged in, at exactly its acknowledged offset; that a partition's
// acknowledgements came in offset order; and that the partitions hold nothing
// else, so no record was lost, duplicated or invented. It relies on every
// produced record having been acknowledged (stream.finish checks that).
func checkAcked(t testing.TB, acks []ack, got map[int32][]*kgo.Record, ends map[int32]int64) {
	t.Helper()
	byPart := map[int32][]ack{}
	for _, a := range acks {
		byPart[a.partition] = append(byPart[a.partition], a)
	}
	for p, as := range byPart {
		for i := 1; i < len(as); i++ {
			if as[i].offset <= as[i-1].offset || as[i].seq <= as[i-1].seq {
				t.Fatalf("partition %d: acknowledgement %d (seq %d, offset %d) came after seq %d at offset %d",
					p, i, as[i].seq, as[i].offset, as[i-1].seq, as[i-1].offset)
			}
		}
	}
	for p, end := range ends {
		rs := got[p]
		if int64(len(rs)) != end {
			t.Errorf("partition %d: consumed %d records, high watermark %d", p, len(rs), end)
		}
		for i, r := range rs {
			if r.Offset != int64(i) {
				t.Fatalf("partition %d: record %d has offset %d; offsets must run from 0 without gaps", p, i, r.Offset)
			}
		}
		if int64(len(byPart[p])) != end {
			t.Errorf("partition %d holds %d records, %d were acknowledged", p, end, len(byPart[p]))
		}
	}
	lost := 0
	for _, a := range acks {
		rs := got[a.partition]
		if a.offset < 0 || a.offset >= int64(len(rs)) {
			lost++
			if lost <= 10 {
				t.Errorf("acknowledged seq %d (partition %d, offset %d) is missing: the partition has %d records", a.seq, a.partition, a.offset, len(rs))
			}
			continue
		}
		if r := rs[a.offset]; string(r.Value) != a.value || string(r.Key) != a.key {
			lost++
			if lost <= 10 {
				t.Errorf("partition %d offset %d holds %q, but seq %d (%q) was acknowledged there", a.partition, a.offset, r.Value, a.seq, a.value)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records are not where they were acknowledged", lost, len(acks))
	}
}

// checkFetchMatchesDigests reads each partition's raw record batches from the
// leader with Fetch and asserts their SHA-256 is the digest every node
// reports: the replicas hold exactly the bytes a consumer reads. A fetch that
// fails (say, leadership moved) is retried against the new leader.
func (c *cluster) checkFetchMatchesDigests(digests []partitionDigest) {
	c.t.Helper()
	waitFor(c.t, 60*time.Second, "raw fetches of every partition from the leader", func() error {
		live := c.live()
		i, err := agreedLeader(httpAddrs(live))
		if err != nil {
			return err
		}
		cl, err := kgo.NewClient(kgo.SeedBrokers(live[i].kafka))
		if err != nil {
			return err
		}
		defer cl.Close()
		for _, d := range digests {
			sum, n, err := fetchDigest(cl.SeedBrokers()[0], d)
			if err != nil {
				return fmt.Errorf("%s/%d from node %d: %w", d.Topic, d.Partition, live[i].id, err)
			}
			if sum != d.SHA256 || n != d.Bytes {
				c.t.Fatalf("%s/%d: Fetch returned %d bytes with SHA-256 %s; the nodes report %d bytes, %s",
					d.Topic, d.Partition, n, sum, d.Bytes, d.SHA256)
			}
		}
		return nil
	})
}

// fetchDigest fetches a partition's batches from d.LogStart to
// d.HighWatermark and returns their SHA-256 and total size.
func fetchDigest(b *kgo.Broker, d partitionDigest) (string, int64, error) {
	h := sha256.New()
	var n int64
	off := d.LogStart
	for tries := 0; off < d.HighWatermark; tries++ {
		if tries > 100000 {
			return "", 0, fmt.Errorf("no progress fetching at offset %d", off)
		}
		batches, err := fetchRaw(b, d.Topic, d.Partition, off)
		if err != nil {
			return "", 0, fmt.Errorf("fetch at %d: %w", off, err)
		}
		progressed := false
		for len(batches) >= 12 {
			size := 12 + int(int32(binary.BigEndian.Uint32(batches[8:12])))
			if size < 12 || len(batches) < size {
				break // a partial trailing batch; fetched again whole
			}
			var rb kmsg.RecordBatch
			if err := rb.ReadFrom(batches[:size]); err != nil {
				return "", 0, fmt.Errorf("bad batch at %d: %w", off, err)
			}
			if rb.FirstOffset != off {
				return "", 0, fmt.Errorf("fetched batch starts at %d, want %d", rb.FirstOffset, off)
			}
			h.Write(batches[:size])
			n += int64(size)
			off = rb.FirstOffset + int64(rb.LastOffsetDelta) + 1
			batches = batches[size:]
			progressed = true
		}
		if !progressed {
			return "", 0, fmt.Errorf("no whole batch at offset %d", off)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

func fetchRaw(b *kgo.Broker, topic string, partition int32, offset int64) ([]byte, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = 8 << 20
	req.SessionEpoch = -1 // a full fetch, no session
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, 1<<20
	rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kresp, err := b.Request(ctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, err
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		return nil, fmt.Errorf("unexpected response shape: %d topics", len(resp.Topics))
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		return nil, err
	}
	return p.RecordBatches, nil
}

func httpAddrs(nodes []*node) []string {
	var out []string
	for _, nd := range nodes {
		out = append(out, nd.http)
	}
	return out
}
