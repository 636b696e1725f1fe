// Package instr holds what raftline's metric packages share: the histogram
// buckets and cached attribute options, so a hot path records a measurement
// without building an attribute set each time.
package instr

import (
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Buckets are the latency histogram boundaries in seconds: 50µs to 10s, so
// sub-millisecond work (an FSM apply, a fast fsync) resolves.
var Buckets = []float64{
	0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
}

// Opt is a prebuilt measurement option for one attribute set.
type Opt struct {
	Add    []metric.AddOption
	Record []metric.RecordOption
	Obs    []metric.ObserveOption
}

// NewOpt builds the options for one attribute set.
func NewOpt(kv ...attribute.KeyValue) Opt {
	o := metric.WithAttributeSet(attribute.NewSet(kv...))
	return Opt{Add: []metric.AddOption{o}, Record: []metric.RecordOption{o}, Obs: []metric.ObserveOption{o}}
}

// OptCache builds an Opt per key once and reuses it. Keys must come from a
// bounded set (topics, API names, error codes).
type OptCache[K comparable] struct {
	m     sync.Map // K -> Opt
	build func(K) Opt
}

// NewOptCache returns a cache that builds missing entries with build.
func NewOptCache[K comparable](build func(K) Opt) *OptCache[K] {
	return &OptCache[K]{build: build}
}

// Get returns the options for k.
func (c *OptCache[K]) Get(k K) Opt {
	if v, ok := c.m.Load(k); ok {
		return v.(Opt)
	}
	v, _ := c.m.LoadOrStore(k, c.build(k))
	return v.(Opt)
}

// Registrar creates instruments on one meter and keeps the first error, so a
// metrics package lists its instruments flat and checks Err once.
type Registrar struct {
	Meter metric.Meter
	Err   error
}

func (r *Registrar) keep(err error) {
	if r.Err == nil {
		r.Err = err
	}
}

// Counter is an Int64Counter.
func (r *Registrar) Counter(name, help string) metric.Int64Counter {
	c, err := r.Meter.Int64Counter(name, metric.WithDescription(help))
	r.keep(err)
	return c
}

// Seconds is a latency histogram in seconds with Buckets.
func (r *Registrar) Seconds(name, help string) metric.Float64Histogram {
	h, err := r.Meter.Float64Histogram(name, metric.WithDescription(help), metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(Buckets...))
	r.keep(err)
	return h
}

// Gauge is an Int64ObservableGauge, read by a registered callback.
func (r *Registrar) Gauge(name, help string) metric.Int64ObservableGauge {
	g, err := r.Meter.Int64ObservableGauge(name, metric.WithDescription(help))
	r.keep(err)
	return g
}

// SecondsGauge is a Float64ObservableGauge in seconds.
func (r *Registrar) SecondsGauge(name, help string) metric.Float64ObservableGauge {
	g, err := r.Meter.Float64ObservableGauge(name, metric.WithDescription(help), metric.WithUnit("s"))
	r.keep(err)
	return g
}

// ScrapeWait is the longest a scrape waits for the replicated state, which
// an apply holds while it writes to a partition's files: on a hung disk,
// forever. A scrape that waited longer would hang every gauge with it, the
// one showing the hung write included; it goes without the partitions'
// series instead.
const ScrapeWait = 200 * time.Millisecond
