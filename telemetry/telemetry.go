// Package telemetry sets up one raftline node's OpenTelemetry: a
// MeterProvider read by the Prometheus exporter on the node's own registry
// (served at /metrics, with the Go runtime and process collectors), and,
// when an OTLP endpoint is configured, a TracerProvider exporting through a
// bounded queue that never slows a write. Configure attaches it all to a
// server.Config: the Raft side subscribes to the node's event stream
// (Raft.Observer), the Kafka side through its observer and tracer
// (Kafka.Observer, Kafka.Tracer); the
// subpackages hold the metrics and spans themselves.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"

	"github.com/raftline/raftline/telemetry/brokermetrics"
	"github.com/raftline/raftline/telemetry/groupmetrics"
	"github.com/raftline/raftline/telemetry/raftmetrics"
	"github.com/raftline/raftline/telemetry/spanqueue"
	"github.com/raftline/raftline/telemetry/storagemetrics"
	"github.com/raftline/raftline/telemetry/tracing"
)

// ScopeName is the instrumentation scope of raftline's metrics.
const ScopeName = "github.com/raftline/raftline/telemetry"

// Config configures one node's telemetry.
type Config struct {
	NodeID      int32
	Version     string
	ServiceName string // service.name; DefaultServiceName when empty
	Tracing     TracingConfig
	// SpanProcessors receive every span besides the OTLP export (tests
	// record spans in memory with them). Tracing is on when
	// Tracing.Endpoint is set or a processor is given.
	SpanProcessors []sdktrace.SpanProcessor
	// ConsumerLagMaxSeries caps the consumer group partitions whose lag
	// and committed offset are exported (raftline serve
	// --consumer-lag-max-series); 0 is groupmetrics.DefaultMaxSeries.
	ConsumerLagMaxSeries int
}

// Telemetry is one node's telemetry.
type Telemetry struct {
	cfg      Config
	reg      *prometheus.Registry
	mp       *sdkmetric.MeterProvider
	tp       *sdktrace.TracerProvider // nil when tracing is off
	queue    *spanqueue.Processor     // nil without OTLP export
	raft     *raftmetrics.Metrics
	broker   *brokermetrics.Metrics
	storage  *storagemetrics.Metrics
	groups   *groupmetrics.Metrics
	tracer   *tracing.Tracer // nil when tracing is off
	handler  http.Handler
	shutdown bool
}

// New sets up a node's telemetry. Nothing is exported until the node runs.
func New(cfg Config) (*Telemetry, error) {
	if cfg.ServiceName == "" {
		cfg.ServiceName = DefaultServiceName
	}
	nodeID := strconv.Itoa(int(cfg.NodeID))
	res, err := resource.New(context.Background(), resource.WithFromEnv(), resource.WithTelemetrySDK(),
		resource.WithAttributes(
			semconv.ServiceName(cfg.ServiceName),
			semconv.ServiceVersion(cfg.Version),
			semconv.ServiceInstanceID(nodeID),
		))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	t := &Telemetry{cfg: cfg, reg: prometheus.NewRegistry()}

	// Every series this registry serves carries node_id, raftline's and
	// the Go runtime's alike. It is a constant label of the registry, not a
	// resource attribute: the exporter would put those in target_info.
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"node_id": nodeID}, t.reg)
	exp, err := otelprom.New(
		otelprom.WithRegisterer(reg),
		// Instruments are named exactly as Prometheus must see them.
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithoutSuffixes),
		otelprom.WithoutScopeInfo(),
		otelprom.WithoutTargetInfo(),
	)
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	if err := errors.Join(
		reg.Register(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(runtimeLatencyMetrics...))),
		reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})),
		reg.Register(newMemoryLimitCollector()),
		reg.Register(newClockCollector()),
	); err != nil {
		return nil, err
	}
	// Every label is bounded by the cluster's own configuration; the SDK's
	// default cap of 2000 series per instrument would fold the partitions
	// of a large cluster into one overflow series.
	t.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res), sdkmetric.WithCardinalityLimit(0))
	meter := t.mp.Meter(ScopeName)
	if t.raft, err = raftmetrics.New(meter); err != nil {
		return nil, err
	}
	if t.broker, err = brokermetrics.New(meter, cfg.Version); err != nil {
		return nil, err
	}
	if t.storage, err = storagemetrics.New(meter); err != nil {
		return nil, err
	}
	if t.groups, err = groupmetrics.New(meter, groupmetrics.Options{MaxSeries: cfg.ConsumerLagMaxSeries}); err != nil {
		return nil, err
	}
	// OpenMetrics, when the scraper asks for it, carries the exemplars: the
	// latency histograms are recorded with the request's (or the Raft
	// entry's) trace context, and the SDK's default trace_based exemplar
	// filter keeps those of sampled spans, one per bucket.
	t.handler = promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, EnableOpenMetrics: true})

	if err := t.setUpTracing(res); err != nil {
		t.mp.Shutdown(context.Background())
		return nil, err
	}
	if err := t.queueMetrics(meter); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) setUpTracing(res *resource.Resource) error {
	tc := t.cfg.Tracing
	if tc.Endpoint == "" && len(t.cfg.SpanProcessors) == 0 {
		return nil
	}
	sampler, err := Sampler(tc.Sampler, tc.SamplerArg)
	if err != nil {
		return err
	}
	sampler = OperationSampler(sampler, tc.Ratios)
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	if tc.Endpoint != "" {
		exp, err := newExporter(tc)
		if err != nil {
			return err
		}
		t.queue = spanqueue.New(exp, tc.Queue)
		opts = append(opts, sdktrace.WithSpanProcessor(t.queue))
	}
	for _, p := range t.cfg.SpanProcessors {
		opts = append(opts, sdktrace.WithSpanProcessor(p))
	}
	t.tp = sdktrace.NewTracerProvider(opts...)
	t.tracer = tracing.New(t.tp)
	return nil
}

// queueMetrics exports what happened to finished spans: exported, or
// dropped because the queue was full or their export failed. They read 0
// when nothing is exported.
func (t *Telemetry) queueMetrics(meter metric.Meter) error {
	exported, err := meter.Int64ObservableCounter("raftline_trace_spans_exported_total",
		metric.WithDescription("Finished spans the OTLP receiver accepted."))
	if err != nil {
		return err
	}
	dropped, err := meter.Int64ObservableCounter("raftline_trace_spans_dropped_total",
		metric.WithDescription("Finished spans dropped instead of exported, by reason: queue_full (the receiver is down or slower than spans are made) or export_failed."))
	if err != nil {
		return err
	}
	queued, err := meter.Int64ObservableGauge("raftline_trace_queue_spans",
		metric.WithDescription("Finished spans waiting in the export queue."))
	if err != nil {
		return err
	}
	full := metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "queue_full")))
	failed := metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", "export_failed")))
	_, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		var s spanqueue.Stats
		if t.queue != nil {
			s = t.queue.Stats()
		}
		o.ObserveInt64(exported, s.Exported)
		o.ObserveInt64(dropped, s.DroppedFull, full)
		o.ObserveInt64(dropped, s.ExportFailed, failed)
		o.ObserveInt64(queued, int64(s.Queued))
		return nil
	}, exported, dropped, queued)
	return err
}

// Handler serves the node's metrics in the Prometheus text format.
func (t *Telemetry) Handler() http.Handler { return t.handler }

// Registry is the node's Prometheus registry.
func (t *Telemetry) Registry() *prometheus.Registry { return t.reg }

// Tracing reports whether spans are recorded.
func (t *Telemetry) Tracing() bool { return t.tracer != nil }

// QueueStats reports the OTLP export queue's counts (zero without export).
func (t *Telemetry) QueueStats() spanqueue.Stats {
	if t.queue == nil {
		return spanqueue.Stats{}
	}
	return t.queue.Stats()
}

// ForceFlush exports every finished span now.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	if t.tp == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown stops the telemetry after the node stopped: it exports the spans
// still queued, giving up when ctx ends, and stops the metrics.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	if t.shutdown {
		return nil
	}
	t.shutdown = true
	t.raft.Close()
	t.broker.Attach(nil)
	t.groups.Attach(nil)
	t.storage.Detach()
	var errs []error
	if t.tp != nil {
		errs = append(errs, t.tp.Shutdown(ctx))
	}
	errs = append(errs, t.mp.Shutdown(ctx))
	return errors.Join(errs...)
}

// runtimeLatencyMetrics are the Go runtime's histograms of what delays a
// request inside the process without showing in any stage's own timing:
// how long runnable goroutines waited for a CPU (go_sched_latencies_seconds)
// and the stop-the-world pauses of the garbage collector
// (go_sched_pauses_total_gc_seconds). A produce's tail that no stage
// explains is looked for here first.
var runtimeLatencyMetrics = []collectors.GoRuntimeMetricsRule{
	{Matcher: regexp.MustCompile(`^/sched/latencies:seconds$`)},
	{Matcher: regexp.MustCompile(`^/sched/pauses/total/gc:seconds$`)},
}
