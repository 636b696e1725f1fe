package observability

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/telemetry/jaegertest"
)

// TestExemplars_LiveTracedProduce_PrometheusStoresTraceIDFoundInJaeger
// runs three `raftline serve` processes exporting spans over OTLP to a real
// Jaeger, scraped by a real Prometheus with exemplar storage on (as the
// compose stack runs it). A produce whose producer context is sampled
// leaves an exemplar with that trace id on the Produce latency buckets in
// Prometheus (/api/v1/query_exemplars), and Jaeger holds the trace, with
// the broker's Produce span in it.
func TestExemplars_LiveTracedProduce_PrometheusStoresTraceIDFoundInJaeger(t *testing.T) {
	j := jaegertest.Start(t)
	dir := t.TempDir()
	ps := newProcs(t)
	ports := clustertest.FreePorts(t, 10)
	b := make([]byte, 4)
	rand.Read(b)
	service := "raftline-live-" + hex.EncodeToString(b)
	c := startClusterEnv(t, ps, dir, ports[:9], []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + j.OTLPHTTP, "OTEL_SERVICE_NAME=" + service,
	})
	prom := c.startPrometheus(t, ps, dir, hostPort(ports[9]))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaAddrs()...), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("traced"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitFor(t, 30*time.Second, "topic traced to be created", func() error {
		resp, err := kadm.NewClient(cl).CreateTopic(ctx, 1, -1, nil, "traced")
		if err == nil {
			err = resp.Err
		}
		return err
	})
	tid := make([]byte, 16)
	rand.Read(tid)
	traceID := hex.EncodeToString(tid)
	rec := &kgo.Record{Value: []byte("traced"), Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + traceID + "-00f067aa0ba902b7-01")}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}

	waitFor(t, 60*time.Second, "Prometheus to store the produce's exemplar", func() error {
		var d []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		}
		end := time.Now()
		err := prom.get("/api/v1/query_exemplars", url.Values{
			"query": {`raftline_kafka_request_duration_seconds_bucket{job="raftline",api="Produce"}`},
			"start": {strconv.FormatInt(end.Add(-10*time.Minute).Unix(), 10)},
			"end":   {strconv.FormatInt(end.Unix()+1, 10)},
		}, &d)
		if err != nil {
			return err
		}
		var seen []string
		for _, s := range d {
			for _, e := range s.Exemplars {
				if e.Labels["trace_id"] == traceID {
					return nil
				}
				seen = append(seen, e.Labels["trace_id"])
			}
		}
		return fmt.Errorf("no exemplar with trace id %s; trace ids: %v", traceID, seen)
	})
	waitFor(t, 60*time.Second, "Jaeger to hold the exemplar's trace", func() error {
		tr, err := j.Trace(ctx, traceID)
		if err != nil {
			return err
		}
		if tr == nil {
			return fmt.Errorf("trace %s not found", traceID)
		}
		for _, s := range tr.Spans {
			if s.OperationName == "Produce" && tr.Processes[s.ProcessID].ServiceName == service {
				return nil
			}
		}
		return fmt.Errorf("trace %s has %d spans, no Produce span", traceID, len(tr.Spans))
	})
}
