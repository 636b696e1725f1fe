package telemetry_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/telemetry"
	"github.com/raftline/raftline/telemetry/jaegertest"
	"github.com/raftline/raftline/telemetry/spanqueue"
)

// exemplar is one OpenMetrics exemplar of a histogram bucket.
type exemplar struct {
	series  string // the bucket's labels
	traceID string
	spanID  string
}

var exemplarLine = regexp.MustCompile(`^(\w+)_bucket\{([^}]*)\} \S+ # \{([^}]*)\} `)

// scrapeExemplars fetches a node's /metrics as OpenMetrics and returns the
// exemplars of each histogram's buckets, by metric name.
func scrapeExemplars(n *clustertest.Node) (map[string][]exemplar, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+n.Cfg.HTTPAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		return nil, fmt.Errorf("Content-Type %q for an OpenMetrics scrape", ct)
	}
	out := map[string][]exemplar{}
	for _, line := range strings.Split(string(body), "\n") {
		m := exemplarLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ex := exemplar{series: m[2]}
		for _, kv := range strings.Split(m[3], ",") {
			k, v, _ := strings.Cut(kv, "=")
			v, _ = strconv.Unquote(v)
			switch k {
			case "trace_id":
				ex.traceID = v
			case "span_id":
				ex.spanID = v
			}
		}
		out[m[1]] = append(out[m[1]], ex)
	}
	return out, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestExemplars_ProduceAndFetchLatency_LeadToTheirTracesInJaeger produces
// a record whose producer context is sampled and reads it back, against a
// 3-node cluster exporting to a real Jaeger. The leader's /metrics,
// negotiated as OpenMetrics, carries an exemplar with the producer's trace
// id on the Produce request latency and on the commit latency, and one on
// the Fetch latency; each exemplar's trace is found in Jaeger, with the
// request's server span (client id, acks, peer) parenting the per-partition
// span, and the Produce span a child of the producer's.
func TestExemplars_ProduceAndFetchLatency_LeadToTheirTracesInJaeger(t *testing.T) {
	j := jaegertest.Start(t)
	service := "raftline-exemplars-" + randomHex(4)
	c, _ := startCluster(t, 3, func(id int32) telemetry.Config {
		return telemetry.Config{NodeID: id, Version: "e2e", ServiceName: service, Tracing: telemetry.TracingConfig{
			Endpoint: j.OTLPHTTP + "/v1/traces", Protocol: telemetry.ProtocolHTTP,
			Queue: spanqueue.Options{Delay: 50 * time.Millisecond},
		}}
	})
	c.CreateTopic("ex", 1)
	traceID, producerSpan := randomHex(16), randomHex(8)
	traceparent := "00-" + traceID + "-" + producerSpan + "-01"
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("ex"), kgo.ClientID("exemplar-producer"),
		kgo.ConsumeTopics("ex"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 90*time.Second)
	defer cancel()
	rec := &kgo.Record{Value: []byte("exemplar"), Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(traceparent)}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if fs := cl.PollRecords(ctx, 1); fs.Err() != nil {
		t.Fatal(fs.Err())
	}
	leader := c.Leader()

	find := func(exs []exemplar, api string) (exemplar, bool) {
		for _, ex := range exs {
			if api == "" || strings.Contains(ex.series, `api="`+api+`"`) {
				return ex, true
			}
		}
		return exemplar{}, false
	}
	var produceEx, commitEx, fetchEx, queueEx exemplar
	var lastErr string
	clustertest.WaitFor(t, 30*time.Second, "exemplars on the leader's latency histograms", func() bool {
		exs, err := scrapeExemplars(leader)
		if err != nil {
			lastErr = err.Error()
			return false
		}
		var ok1, ok2, ok3, ok4 bool
		produceEx, ok1 = find(exs["raftline_kafka_request_duration_seconds"], "Produce")
		commitEx, ok2 = find(exs["raft_commit_duration_seconds"], "")
		fetchEx, ok3 = find(exs["raftline_kafka_request_duration_seconds"], "Fetch")
		queueEx, ok4 = find(exs["raft_proposal_queue_duration_seconds"], "")
		lastErr = fmt.Sprintf("produce %v, commit %v, fetch %v, queue %v; exemplars: %v", ok1, ok2, ok3, ok4, exs)
		return ok1 && ok2 && ok3 && ok4
	})
	t.Log(lastErr)
	if produceEx.traceID != traceID {
		t.Errorf("Produce latency exemplar %+v, want the producer's trace id %s", produceEx, traceID)
	}
	if commitEx.traceID != traceID {
		t.Errorf("commit latency exemplar %+v, want the producer's trace id %s", commitEx, traceID)
	}
	if queueEx.traceID != traceID {
		t.Errorf("proposal queue exemplar %+v, want the producer's trace id %s", queueEx, traceID)
	}

	// The Produce exemplar's span is the request's server span.
	var tr *jaegertest.Trace
	clustertest.WaitFor(t, 60*time.Second, "Jaeger to hold the Produce exemplar's trace", func() bool {
		var err error
		tr, err = j.Trace(ctx, produceEx.traceID)
		if err != nil || tr == nil {
			lastErr = fmt.Sprint(err)
			return false
		}
		lastErr = fmt.Sprint(len(tr.Spans), " spans")
		return spanNamed(tr, "Produce") != nil && spanNamed(tr, "send ex") != nil && spanNamed(tr, "commit") != nil
	})
	produce := spanNamed(tr, "Produce")
	if produce.SpanID != produceEx.spanID {
		t.Errorf("exemplar span %s, Produce span %s", produceEx.spanID, produce.SpanID)
	}
	for k, want := range map[string]string{
		"span.kind": "server", "messaging.system": "kafka", "messaging.client.id": "exemplar-producer",
		"messaging.kafka.acks": "-1", "network.peer.address": "127.0.0.1",
	} {
		if got := jaegertest.Tag(produce.Tags, k); got != want {
			t.Errorf("Produce span tag %s = %q, want %q", k, got, want)
		}
	}
	if jaegertest.Tag(produce.Tags, "network.peer.port") == "" {
		t.Errorf("Produce span has no network.peer.port: %+v", produce.Tags)
	}
	if p := parentOf(produce); p != producerSpan {
		t.Errorf("Produce span's parent %q, want the producer's span %s", p, producerSpan)
	}
	if p := parentOf(spanNamed(tr, "send ex")); p != produce.SpanID {
		t.Errorf("send span's parent %q, want the Produce span %s", p, produce.SpanID)
	}

	clustertest.WaitFor(t, 60*time.Second, "Jaeger to hold the Fetch exemplar's trace", func() bool {
		var err error
		tr, err = j.Trace(ctx, fetchEx.traceID)
		if err != nil || tr == nil {
			lastErr = fmt.Sprint(err)
			return false
		}
		return spanNamed(tr, "Fetch") != nil
	})
	fetch := spanNamed(tr, "Fetch")
	if fetch.SpanID != fetchEx.spanID || jaegertest.Tag(fetch.Tags, "span.kind") != "server" {
		t.Errorf("Fetch exemplar %+v, Fetch span %+v", fetchEx, fetch)
	}
	for _, s := range tr.Spans {
		if s.OperationName == "receive ex" && parentOf(&s) != fetch.SpanID {
			t.Errorf("receive span's parent %q, want the Fetch span %s", parentOf(&s), fetch.SpanID)
		}
	}
}

func spanNamed(tr *jaegertest.Trace, name string) *jaegertest.Span {
	for i := range tr.Spans {
		if tr.Spans[i].OperationName == name {
			return &tr.Spans[i]
		}
	}
	return nil
}

func parentOf(s *jaegertest.Span) string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}
