// Package metrics exports a load test's live view as Prometheus metrics, with
// the loadgen_* names the metric catalogue (telemetry/catalog, docs/METRICS.md)
// promises to dashboards.
package metrics

import (
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/raftline/raftline/loadgen"
)

var (
	_ loadgen.Observer    = (*Metrics)(nil)
	_ loadgen.LagObserver = (*Metrics)(nil)
)

// Buckets span 50µs to 10s, the range docs/METRICS.md sets for the broker's
// latency histograms, so that the two views of one load test line up.
var Buckets = prometheus.ExponentialBucketsRange(50e-6, 10, 20)

// Metrics is a loadgen.Observer that counts into Prometheus collectors.
type Metrics struct {
	topic    string
	sent     prometheus.Counter
	acked    prometheus.Counter
	failed   *prometheus.CounterVec
	consumed prometheus.Counter
	publish  prometheus.Observer
	e2e      prometheus.Observer
	// The lag gauges' series are created on the first Set, so that a lag
	// that is never known is not exported as 0.
	group   string
	lag     *prometheus.GaugeVec
	commLag *prometheus.GaugeVec
}

// New registers the loadgen metrics for topic with reg. group is the
// consumer group, or "" for consumers without one; the committed-lag gauge
// carries it and is exported only once a group's lag is known.
func New(reg prometheus.Registerer, topic, group string) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"topic"})
		reg.MustRegister(c)
		return c.WithLabelValues(topic)
	}
	histogram := func(name, help string) prometheus.Observer {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: Buckets}, []string{"topic"})
		reg.MustRegister(h)
		return h.WithLabelValues(topic)
	}
	failed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loadgen_records_failed_total",
		Help: "Records that failed, by error kind.",
	}, []string{"topic", "kind"})
	reg.MustRegister(failed)
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "loadgen_consumer_lag_records",
		Help: "Records acknowledged to this run that its consumers have not read yet (e2e).",
	}, []string{"topic"})
	commLag := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "loadgen_consumer_group_committed_lag_records",
		Help: "The consumer group's lag by its committed offsets, as the broker reports it.",
	}, []string{"topic", "group"})
	reg.MustRegister(lag, commLag)
	return &Metrics{
		topic:    topic,
		sent:     counter("loadgen_records_sent_total", "Records handed to the client."),
		acked:    counter("loadgen_records_acked_total", "Records acknowledged by the broker."),
		failed:   failed,
		consumed: counter("loadgen_records_consumed_total", "Records consumed."),
		publish: histogram("loadgen_publish_latency_seconds",
			"Send (intended send time in fixed-rate mode) to acknowledgement."),
		e2e:     histogram("loadgen_e2e_latency_seconds", "Produce timestamp to consume."),
		group:   group,
		lag:     lag,
		commLag: commLag,
	}
}

// Lag sets the records acknowledged to the run and not yet consumed.
func (m *Metrics) Lag(records int64) { m.lag.WithLabelValues(m.topic).Set(float64(records)) }

// CommittedLag sets the group's lag by its committed offsets.
func (m *Metrics) CommittedLag(records int64) {
	m.commLag.WithLabelValues(m.topic, m.group).Set(float64(records))
}

// Sent counts a record handed to the client.
func (m *Metrics) Sent() { m.sent.Inc() }

// Acked counts an acknowledged record and observes its publish latency.
func (m *Metrics) Acked(publish time.Duration) {
	m.acked.Inc()
	m.publish.Observe(publish.Seconds())
}

// Failed counts a record that failed with an error of the given kind.
func (m *Metrics) Failed(kind string) { m.failed.WithLabelValues(m.topic, kind).Inc() }

// Consumed counts a consumed record.
func (m *Metrics) Consumed() { m.consumed.Inc() }

// EndToEnd observes a record's produce-to-consume latency.
func (m *Metrics) EndToEnd(d time.Duration) { m.e2e.Observe(d.Seconds()) }

// Serve registers the loadgen metrics for topic and group, with the Go runtime and
// process collectors, and serves them at /metrics on addr until the returned
// server is closed. Listening happens before Serve returns, so a busy port is
// reported at once, and the server's Addr is the address listened on.
func Serve(addr, topic, group string) (*Metrics, *http.Server, error) {
	reg := NewRegistry()
	m := New(reg, topic, group)
	srv, err := ServeRegistry(addr, reg)
	if err != nil {
		return nil, nil, err
	}
	return m, srv, nil
}

// NewRegistry returns a registry holding the Go runtime and process
// collectors, for a load generator mode's own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// ServeRegistry serves reg at /metrics on addr until the returned server is
// closed. It listens before returning, so a busy port is reported at once.
func ServeRegistry(addr string, reg *prometheus.Registry) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Addr is not used to listen here; it records the address listened on,
	// which differs from addr when that had port 0.
	srv := &http.Server{Addr: ln.Addr().String(), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Serve returns only once the server is closed.
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}
