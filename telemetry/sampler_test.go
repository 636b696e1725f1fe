package telemetry_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/raftline/raftline/telemetry"
)

// TestOperationSampler_RatioPerOperationForRootsOnly runs the sampler in
// the SDK: produce=0 drops the Produce requests raftline would start, and
// their children with them; Fetch (no ratio) follows the base sampler; a
// Produce whose producer sent a sampled context follows the producer.
func TestOperationSampler_RatioPerOperationForRootsOnly(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	base, err := telemetry.Sampler("parentbased_always_on", "")
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithSampler(telemetry.OperationSampler(base, map[string]float64{telemetry.OpProduce: 0, telemetry.OpGroup: 1})))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("test")
	server := trace.WithSpanKind(trace.SpanKindServer)

	ctx, produce := tr.Start(context.Background(), "Produce", server)
	_, send := tr.Start(ctx, "send orders")
	send.End()
	produce.End()
	if produce.SpanContext().IsSampled() || send.SpanContext().IsSampled() {
		t.Error("produce=0 sampled a Produce request or its child")
	}
	_, fetch := tr.Start(context.Background(), "Fetch", server)
	fetch.End()
	_, join := tr.Start(context.Background(), "JoinGroup", server)
	join.End()
	producer := spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", trace.FlagsSampled)
	_, traced := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), producer), "Produce", server)
	traced.End()
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	if len(names) != 3 || names[0] != "Fetch" || names[1] != "JoinGroup" || names[2] != "Produce" {
		t.Errorf("recorded %v, want Fetch, JoinGroup and the producer's Produce", names)
	}
	if sc := rec.Ended()[2].SpanContext(); sc.TraceID() != producer.TraceID() {
		t.Errorf("producer-parented Produce in trace %s", sc.TraceID())
	}
}

func TestParseSampleRatios(t *testing.T) {
	r, err := telemetry.ParseSampleRatios("produce=0.25,group=1")
	if err != nil || len(r) != 2 || r["produce"] != 0.25 || r["group"] != 1 {
		t.Fatalf("%v, %v", r, err)
	}
	if r, err := telemetry.ParseSampleRatios(""); err != nil || len(r) != 0 {
		t.Fatalf("empty: %v, %v", r, err)
	}
	for _, bad := range []string{"raft=1", "produce=-0.1", "produce=1.5", "fetch", "fetch=1,fetch=0"} {
		if _, err := telemetry.ParseSampleRatios(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
