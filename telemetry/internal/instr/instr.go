// Package instr holds what raftline's metric packages share: the histogram
// buckets and cached attribute options, so a hot path records a measurement
// without building an attribute set each time.
package instr

import (
	"sync"

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
