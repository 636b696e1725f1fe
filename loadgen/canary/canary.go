// Package canary is the load generator's canary mode: a low, steady rate of
// records produced to and consumed from a canary topic, forever, as a
// black-box measure of what a client of the cluster sees. Each probe is one
// record: produced with acks=all (success or failure, and the time to its
// acknowledgement), then read back by the canary's own consumer (the time
// from its send to its consumption, or a timeout). The results are exported
// on --metrics-addr as the loadgen_canary_* metrics of docs/METRICS.md,
// scraped under the Prometheus job "canary"; the raftline / Produce SLOs
// dashboard draws them beside the broker's own SLIs (alerts/slo.go).
package canary

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/loadgen/metrics"
)

// Config is the canary's configuration.
type Config struct {
	Brokers []string
	// Topic is the canary topic, created with one partition if missing.
	Topic string
	// Rate is probes (records) per second.
	Rate float64
	// Timeout bounds a probe: its produce's delivery, and the time from its
	// acknowledgement to its consumption.
	Timeout time.Duration
	// MetricsAddr is where /metrics is served ("" for nowhere).
	MetricsAddr string
}

// DefaultConfig is the canary as the compose stack runs it.
func DefaultConfig() Config {
	return Config{Topic: "raftline-canary", Rate: 2, Timeout: 10 * time.Second}
}

// Results of the canary's counters.
const (
	ResultSuccess = "success"
	ResultFailure = "failure" // produce: an error or no acknowledgement within Timeout
	ResultTimeout = "timeout" // consume: acknowledged and not read back within Timeout
)

// Buckets are the canary's latency buckets: the broker's, so the broker's
// and the canary's views of the produce latency objective's threshold
// (250 ms) line up.
var Buckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Metrics are the canary's collectors.
type Metrics struct {
	produced *prometheus.CounterVec
	consumed *prometheus.CounterVec
	publish  prometheus.Histogram
	e2e      prometheus.Histogram
}

// NewMetrics registers the canary's metrics with reg, every result at 0.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loadgen_canary_produced_total",
			Help: "Canary records produced with acks=all, by result: success (acknowledged) or failure (an error, or no acknowledgement within the probe timeout).",
		}, []string{"result"}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loadgen_canary_consumed_total",
			Help: "Acknowledged canary records, by result: success (read back by the canary's consumer) or timeout (not read back within the probe timeout).",
		}, []string{"result"}),
		publish: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loadgen_canary_publish_latency_seconds",
			Help:    "Canary records' time from send to acknowledgement (acks=all).",
			Buckets: Buckets,
		}),
		e2e: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loadgen_canary_e2e_latency_seconds",
			Help:    "Canary records' time from send to being read back by the canary's consumer.",
			Buckets: Buckets,
		}),
	}
	reg.MustRegister(m.produced, m.consumed, m.publish, m.e2e)
	for _, r := range []string{ResultSuccess, ResultFailure} {
		m.produced.WithLabelValues(r)
	}
	for _, r := range []string{ResultSuccess, ResultTimeout} {
		m.consumed.WithLabelValues(r)
	}
	return m
}

// Canary runs probes until its context ends.
type Canary struct {
	cfg Config
	m   *Metrics
	// id tells this process's records from another canary's on the same
	// topic (a restart, a second stack).
	id uint64

	mu sync.Mutex
	// probes are the records sent and not yet settled, by sequence:
	// settled is acknowledged and read back (a success), failed, or
	// acknowledged and not read back within Timeout.
	probes map[uint64]*probe
}

type probe struct {
	sent time.Time
	// failed: counted as a failure, with no acknowledgement within
	// Timeout; its late answer, if any, is ignored.
	acked, read, failed bool
}

// New returns a canary that records into m.
func New(cfg Config, m *Metrics) (*Canary, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" || cfg.Rate <= 0 || cfg.Timeout <= 0 {
		return nil, fmt.Errorf("canary: brokers, topic, a positive rate and timeout are required (got %+v)", cfg)
	}
	return &Canary{cfg: cfg, m: m, id: uint64(time.Now().UnixNano()), probes: map[uint64]*probe{}}, nil
}

// Serve registers the canary's metrics, with the Go runtime and process
// collectors, and serves them at /metrics on addr until the returned server
// is closed. It listens before returning, so a busy port is reported at once.
func Serve(addr string) (*Metrics, *http.Server, error) {
	reg := metrics.NewRegistry()
	m := NewMetrics(reg)
	srv, err := metrics.ServeRegistry(addr, reg)
	if err != nil {
		return nil, nil, err
	}
	return m, srv, nil
}

// Run produces and consumes until ctx ends, and returns nil then. It
// returns an error only if it cannot start (no client, no topic within
// Timeout after the brokers answer); once running, failures are what it
// measures, and it keeps going through them.
func (c *Canary) Run(ctx context.Context) error {
	prod, err := kgo.NewClient(
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.DefaultProduceTopic(c.cfg.Topic),
		// Every probe goes to partition 0, the one the consumer reads,
		// whatever the topic's partition count.
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(c.cfg.Timeout),
		kgo.ProducerLinger(0),
		kgo.AllowAutoTopicCreation(),
	)
	if err != nil {
		return err
	}
	defer prod.Close()
	if err := c.ensureTopic(ctx, prod); err != nil {
		return err
	}
	// The consumer starts at the partition's end as it is now, so every
	// probe sent from here on is read back.
	start, err := c.endOffset(ctx, prod)
	if err != nil {
		return err
	}
	cons, err := kgo.NewClient(
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.cfg.Topic: {0: kgo.NewOffset().At(start)}}),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cons.Close()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.consume(ctx, cons)
	}()

	tick := time.NewTicker(time.Duration(float64(time.Second) / c.cfg.Rate))
	defer tick.Stop()
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-tick.C:
		}
		seq++
		c.probe(ctx, prod, seq)
		c.expire(time.Now())
	}
}

// ensureTopic creates the canary topic with one partition if it does not
// exist, retrying until Timeout has passed with no answer.
func (c *Canary) ensureTopic(ctx context.Context, cl *kgo.Client) error {
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(3 * c.cfg.Timeout)
	for {
		tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		resp, err := adm.CreateTopic(tctx, 1, -1, nil, c.cfg.Topic)
		cancel()
		if err == nil {
			err = resp.Err
		}
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("canary topic %s: %w", c.cfg.Topic, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// endOffset returns the canary partition's end offset, retrying until a
// Timeout passes.
func (c *Canary) endOffset(ctx context.Context, cl *kgo.Client) (int64, error) {
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(c.cfg.Timeout)
	for {
		tctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		offs, err := adm.ListEndOffsets(tctx, c.cfg.Topic)
		cancel()
		if err == nil {
			if o, ok := offs.Lookup(c.cfg.Topic, 0); !ok {
				err = fmt.Errorf("no partition 0")
			} else if o.Err != nil {
				err = o.Err
			} else {
				return o.Offset, nil
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return 0, fmt.Errorf("canary topic %s: end offset: %w", c.cfg.Topic, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// probe produces one record carrying this canary's id, its sequence number
// and its send time, and records the outcome when the broker answers.
func (c *Canary) probe(ctx context.Context, prod *kgo.Client, seq uint64) {
	sent := time.Now()
	v := make([]byte, 24)
	binary.BigEndian.PutUint64(v[0:], c.id)
	binary.BigEndian.PutUint64(v[8:], seq)
	binary.BigEndian.PutUint64(v[16:], uint64(sent.UnixNano()))
	c.mu.Lock()
	c.probes[seq] = &probe{sent: sent}
	c.mu.Unlock()
	// TryProduce: with the cluster down for long, the client's buffer
	// fills and a probe fails at once instead of stalling the canary.
	prod.TryProduce(ctx, &kgo.Record{Value: v, Partition: 0}, func(_ *kgo.Record, err error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		p := c.probes[seq]
		if p == nil {
			return
		}
		if p.failed {
			delete(c.probes, seq)
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				c.m.produced.WithLabelValues(ResultFailure).Inc()
			}
			delete(c.probes, seq)
			return
		}
		c.m.produced.WithLabelValues(ResultSuccess).Inc()
		c.m.publish.Observe(time.Since(sent).Seconds())
		if p.acked = true; p.read {
			delete(c.probes, seq)
		}
	})
}

// consume reads the canary topic and matches this canary's records to their
// probes. A record can be read back before its acknowledgement arrives (it
// is readable once committed, when the leader also answers the producer).
func (c *Canary) consume(ctx context.Context, cons *kgo.Client) {
	for ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) {
			if len(r.Value) != 24 || binary.BigEndian.Uint64(r.Value[0:]) != c.id {
				return
			}
			seq := binary.BigEndian.Uint64(r.Value[8:])
			c.mu.Lock()
			defer c.mu.Unlock()
			p := c.probes[seq]
			if p == nil || p.read || p.failed {
				return // settled already: failed or timed out, or a duplicate
			}
			c.m.consumed.WithLabelValues(ResultSuccess).Inc()
			c.m.e2e.Observe(now.Sub(p.sent).Seconds())
			if p.read = true; p.acked {
				delete(c.probes, seq)
			}
		})
	}
}

// expire counts the probes not acknowledged within Timeout as failed
// produces (the client may keep retrying them: their answer no longer
// counts), and the acknowledged ones not read back within Timeout as
// consume timeouts.
func (c *Canary) expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for seq, p := range c.probes {
		if now.Sub(p.sent) <= c.cfg.Timeout {
			continue
		}
		if !p.acked && !p.failed {
			p.failed = true
			c.m.produced.WithLabelValues(ResultFailure).Inc()
		}
		if p.acked && !p.read {
			delete(c.probes, seq)
			c.m.consumed.WithLabelValues(ResultTimeout).Inc()
		}
	}
}
