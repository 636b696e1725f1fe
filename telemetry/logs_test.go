package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/server"
	"github.com/raftline/raftline/telemetry"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes the JSON log lines written so far.
func (s *syncBuffer) lines(t testing.TB) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogHandler_SampledSpanInContext_TraceAndSpanIDs(t *testing.T) {
	var buf syncBuffer
	log := slog.New(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))).With("node_id", 1).WithGroup("g")
	sampled := spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", trace.FlagsSampled)
	unsampled := spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 0)
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), sampled), "traced", "k", "v")
	log.InfoContext(trace.ContextWithSpanContext(context.Background(), unsampled), "unsampled")
	log.Info("no context")
	lines := buf.lines(t)
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	g, _ := lines[0]["g"].(map[string]any)
	if g["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || g["span_id"] != "00f067aa0ba902b7" || g["k"] != "v" || lines[0]["node_id"] != 1.0 {
		t.Errorf("traced line %v", lines[0])
	}
	for _, l := range lines[1:] {
		if strings.Contains(mustJSON(t, l), "trace_id") {
			t.Errorf("line without a sampled span has a trace id: %v", l)
		}
	}
	if h := telemetry.LogHandler(telemetry.LogHandler(slog.NewJSONHandler(&buf, nil))); h == nil {
		t.Fatal("nil handler")
	}
}

func spanContext(t testing.TB, tid, sid string, flags trace.TraceFlags) trace.SpanContext {
	t.Helper()
	ti, err := trace.TraceIDFromHex(tid)
	if err != nil {
		t.Fatal(err)
	}
	si, err := trace.SpanIDFromHex(sid)
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: ti, SpanID: si, TraceFlags: flags})
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCluster_TracedProduceFails_LogLineCarriesItsTraceAndSpan: with
// tracing on, a node's logger names the span of the request it serves. A
// produce refused as too large, whose record carries the producer's
// context, is logged (at debug) with the producer's trace id and the
// broker's Produce span id.
func TestCluster_TracedProduceFails_LogLineCarriesItsTraceAndSpan(t *testing.T) {
	var logs syncBuffer
	rec := map[int32]*tracetest.SpanRecorder{}
	c, _ := startClusterWith(t, 3, func(id int32) telemetry.Config {
		rec[id] = tracetest.NewSpanRecorder()
		return telemetry.Config{NodeID: id, Version: "test", SpanProcessors: []sdktrace.SpanProcessor{rec[id]}}
	}, func(cfg *server.Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node_id", cfg.NodeID)
	})
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 60*time.Second)
	defer cancel()
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("small"), kgo.ClientID("logs-test"))
	limit := "200"
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, map[string]*string{"max.message.bytes": &limit}, "small")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	_, traceparent := producerContext(t)
	value := make([]byte, 1000)
	rand.Read(value) // incompressible
	big := &kgo.Record{Value: value, Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(traceparent)}}}
	if err := cl.ProduceSync(ctx, big).FirstErr(); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce of 1000 bytes into max.message.bytes 200: %v", err)
	}
	var line map[string]any
	clustertest.WaitFor(t, 10*time.Second, "the refused produce's log line", func() bool {
		for _, l := range logs.lines(t) {
			if l["msg"] == "Kafka request answered with errors" && l["api"] == "Produce" {
				line = l
				return true
			}
		}
		return false
	})
	if line["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" || line["client_id"] != "logs-test" {
		t.Fatalf("log line %v: want the producer's trace id", line)
	}
	var produceSpan string
	for _, r := range rec {
		for _, s := range r.Ended() {
			if s.Name() == "Produce" {
				produceSpan = s.SpanContext().SpanID().String()
			}
		}
	}
	if line["span_id"] != produceSpan {
		t.Errorf("log line span_id %v, Produce span %s", line["span_id"], produceSpan)
	}
}
