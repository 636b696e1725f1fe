// Package brokermetrics exports the Kafka side of a node as the raftline_*
// metrics of docs/METRICS.md: requests, errors and latency per API, records
// and bytes per topic, partition offsets (log start and high watermark),
// open connections and an info metric.
package brokermetrics

import (
	"context"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/raftline/raftline/broker/cluster/raftcluster"
	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/telemetry/internal/instr"
	"github.com/raftline/raftline/telemetry/internal/kcode"
)

// Source is what the gauges read: the replicated state as one node holds
// it. *raftcluster.Cluster is one.
type Source interface {
	// Role is the node's Raft role: leader, follower, candidate or
	// shutdown (reported as follower).
	Role() string
	// PartitionsWithin lists the partitions, or reports false when the
	// replicated state stayed locked for the wait given.
	PartitionsWithin(wait time.Duration) ([]raftcluster.PartitionState, bool)
}

var _ Source = (*raftcluster.Cluster)(nil)

var _ kafka.Observer = (*Metrics)(nil)

// Metrics holds one node's broker instruments. It implements kafka.Observer.
type Metrics struct {
	version string

	requests    metric.Int64Counter
	errors      metric.Int64Counter
	duration    metric.Float64Histogram
	prodRecords metric.Int64Counter
	prodBytes   metric.Int64Counter
	fetRecords  metric.Int64Counter
	fetBytes    metric.Int64Counter
	conns       metric.Int64UpDownCounter
	rejected    metric.Int64Counter
	waits       metric.Int64Counter
	inflight    metric.Int64UpDownCounter

	// The produce SLIs (slo.go).
	prodPartitions metric.Int64Counter
	prodDuration   metric.Float64Histogram
	outcomes       *instr.OptCache[int16]

	apis   *instr.OptCache[string]
	errs   *instr.OptCache[apiCode]
	topics *instr.OptCache[string]
	parts  *instr.OptCache[topicPartition]
	roles  *instr.OptCache[string]
	// reasons and scopes are fixed sets, built once: Rejected and
	// BudgetWaited look them up without allocating.
	reasons map[string]instr.Opt
	scopes  map[string]instr.Opt

	mu  sync.Mutex
	src Source
}

type apiCode struct {
	api  string
	code int16
}

type topicPartition struct {
	topic     string
	partition int
}

// New creates the instruments on meter. version is reported by
// raftline_build_info.
func New(meter metric.Meter, version string) (*Metrics, error) {
	m := &Metrics{
		version: version,
		apis:    instr.NewOptCache(func(api string) instr.Opt { return instr.NewOpt(attribute.String("api", api)) }),
		errs: instr.NewOptCache(func(k apiCode) instr.Opt {
			return instr.NewOpt(attribute.String("api", k.api), attribute.String("error_code", kcode.Name(k.code)))
		}),
		topics: instr.NewOptCache(func(t string) instr.Opt { return instr.NewOpt(attribute.String("topic", t)) }),
		parts: instr.NewOptCache(func(k topicPartition) instr.Opt {
			return instr.NewOpt(attribute.String("topic", k.topic), attribute.String("partition", strconv.Itoa(k.partition)))
		}),
		roles: instr.NewOptCache(func(role string) instr.Opt {
			return instr.NewOpt(attribute.String("version", version), attribute.String("role", role))
		}),
	}
	reg := &instr.Registrar{Meter: meter}
	counter := reg.Counter
	m.requests = counter("raftline_kafka_requests_total", "Kafka requests handled, by API name.")
	m.errors = counter("raftline_kafka_request_errors_total",
		"Error codes returned at partition or topic level (one per failed partition or topic), by API name and Kafka error code name.")
	m.prodRecords = counter("raftline_produced_records_total", "Records accepted by Produce on this node, by topic.")
	m.prodBytes = counter("raftline_produced_bytes_total", "Record batch bytes accepted by Produce on this node, by topic.")
	m.fetRecords = counter("raftline_fetched_records_total", "Records returned by Fetch on this node, by topic.")
	m.fetBytes = counter("raftline_fetched_bytes_total", "Record batch bytes returned by Fetch on this node, by topic.")
	m.duration = reg.Seconds("raftline_kafka_request_duration_seconds",
		"Kafka request latency from the request read to its response written, by API name.")
	m.rejected = counter("raftline_kafka_rejected_requests_total",
		"Kafka connections the broker closed, by reason: a request it refuses (unknown_api_key, unsupported_version, malformed, frame_too_large) or a limit the client went past (first_request_timeout, frame_timeout, idle_timeout, write_timeout, budget).")
	m.waits = counter("raftline_kafka_budget_waits_total",
		"Kafka requests that waited before being read because the request bytes in flight were at their limit, by scope: connection (its own earlier requests) or node.")
	m.newProduceSLI(reg)
	if reg.Err != nil {
		return nil, reg.Err
	}
	ctx := context.Background()
	m.reasons = map[string]instr.Opt{}
	for _, r := range kafka.Reasons() {
		m.reasons[r] = instr.NewOpt(attribute.String("reason", r))
		m.rejected.Add(ctx, 0, m.reasons[r].Add...)
	}
	m.scopes = map[string]instr.Opt{}
	for _, s := range kafka.BudgetScopes() {
		m.scopes[s] = instr.NewOpt(attribute.String("scope", s))
		m.waits.Add(ctx, 0, m.scopes[s].Add...)
	}
	var err error
	m.conns, err = meter.Int64UpDownCounter("raftline_connections", metric.WithDescription("Open Kafka client connections."))
	if err != nil {
		return nil, err
	}
	m.conns.Add(context.Background(), 0)
	m.inflight, err = meter.Int64UpDownCounter("raftline_kafka_inflight_request_bytes",
		metric.WithDescription("Kafka request bytes the broker holds: frames being read, counted as they arrive, and requests read and not yet handled."))
	if err != nil {
		return nil, err
	}
	m.inflight.Add(context.Background(), 0)
	hw, err := meter.Int64ObservableGauge("raftline_partition_high_watermark",
		metric.WithDescription("Next offset to be written in each partition, as this node's replica holds it."))
	if err != nil {
		return nil, err
	}
	logStart, err := meter.Int64ObservableGauge("raftline_partition_log_start_offset",
		metric.WithDescription("First offset each partition's replica on this node still holds: records below it were deleted by retention."))
	if err != nil {
		return nil, err
	}
	info, err := meter.Int64ObservableGauge("raftline_build_info",
		metric.WithDescription("Always 1; labels carry the version and the node's current raft role."))
	if err != nil {
		return nil, err
	}
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		src := m.src
		m.mu.Unlock()
		role := "follower"
		if src != nil {
			if r := src.Role(); r == "leader" || r == "candidate" {
				role = r
			}
			// Without waiting on an apply that holds the state (a write
			// to a hung disk): see instr.ScrapeWait.
			ps, _ := src.PartitionsWithin(instr.ScrapeWait)
			for _, p := range ps {
				opt := m.parts.Get(topicPartition{p.Topic, int(p.Partition)})
				o.ObserveInt64(hw, p.Next, opt.Obs...)
				o.ObserveInt64(logStart, p.Start, opt.Obs...)
			}
		}
		o.ObserveInt64(info, 1, m.roles.Get(role).Obs...)
		return nil
	}, hw, logStart, info)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Attach points the gauges at a running node's state (again after a
// restart); nil lets go of it.
func (m *Metrics) Attach(src Source) {
	m.mu.Lock()
	m.src = src
	m.mu.Unlock()
}

// ConnOpened implements kafka.Observer.
func (m *Metrics) ConnOpened() { m.conns.Add(context.Background(), 1) }

// ConnClosed implements kafka.Observer.
func (m *Metrics) ConnClosed() { m.conns.Add(context.Background(), -1) }

// RequestDone implements kafka.Observer. The latency is recorded with the
// request's context: when its span is sampled, the bucket's exemplar
// carries its trace id.
func (m *Metrics) RequestDone(reqCtx context.Context, api string, d time.Duration, errorCodes []int16) {
	ctx := context.Background()
	o := m.apis.Get(api)
	m.requests.Add(ctx, 1, o.Add...)
	m.duration.Record(reqCtx, d.Seconds(), o.Record...)
	for _, c := range errorCodes {
		m.errors.Add(ctx, 1, m.errs.Get(apiCode{api, c}).Add...)
	}
}

// Produced implements kafka.Observer.
func (m *Metrics) Produced(topic string, records, bytes int64) {
	ctx := context.Background()
	o := m.topics.Get(topic)
	m.prodRecords.Add(ctx, records, o.Add...)
	m.prodBytes.Add(ctx, bytes, o.Add...)
}

// Fetched implements kafka.Observer.
func (m *Metrics) Fetched(topic string, records, bytes int64) {
	ctx := context.Background()
	o := m.topics.Get(topic)
	m.fetRecords.Add(ctx, records, o.Add...)
	m.fetBytes.Add(ctx, bytes, o.Add...)
}

// Rejected implements kafka.Observer.
func (m *Metrics) Rejected(reason string) {
	if o, ok := m.reasons[reason]; ok {
		m.rejected.Add(context.Background(), 1, o.Add...)
	}
}

// BudgetWaited implements kafka.Observer.
func (m *Metrics) BudgetWaited(scope string) {
	if o, ok := m.scopes[scope]; ok {
		m.waits.Add(context.Background(), 1, o.Add...)
	}
}

// InflightBytes implements kafka.Observer.
func (m *Metrics) InflightBytes(delta int64) { m.inflight.Add(context.Background(), delta) }
