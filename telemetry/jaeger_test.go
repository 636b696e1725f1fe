package telemetry_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
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

// TestJaeger_ProduceOverOTLP_WholeTraceFoundThroughQueryAPI exports over
// real OTLP (gRPC from node 1, HTTP/protobuf from the others) to a real
// Jaeger and finds the whole write, from every node, through its query API.
func TestJaeger_ProduceOverOTLP_WholeTraceFoundThroughQueryAPI(t *testing.T) {
	j := jaegertest.Start(t)
	suffix := make([]byte, 4)
	rand.Read(suffix)
	service := "raftline-e2e-" + hex.EncodeToString(suffix)
	c, tels := startCluster(t, 3, func(id int32) telemetry.Config {
		tc := telemetry.TracingConfig{
			Endpoint: j.OTLPHTTP + "/v1/traces", Protocol: telemetry.ProtocolHTTP,
			Queue: spanqueue.Options{Delay: 50 * time.Millisecond},
		}
		if id == 1 {
			tc.Endpoint, tc.Protocol = j.OTLPGRPC, telemetry.ProtocolGRPC
		}
		return telemetry.Config{NodeID: id, Version: "e2e", ServiceName: service, Tracing: tc}
	})
	c.CreateTopic("e2e", 1)
	_, traceparent := producerContext(t)
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("e2e"))
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 90*time.Second)
	defer cancel()
	rec := &kgo.Record{Value: []byte("to jaeger"), Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(traceparent)}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	leader := c.Leader()

	var tr *jaegertest.Trace
	var missing string
	clustertest.WaitFor(t, 60*time.Second, "Jaeger to hold the whole trace", func() bool {
		ts, err := j.Traces(ctx, service, "send e2e", 10)
		if err != nil || len(ts) == 0 {
			missing = "no send e2e trace yet"
			if err != nil {
				missing += ": " + err.Error()
			}
			return false
		}
		if len(ts) != 1 {
			t.Fatalf("%d traces for one produce", len(ts))
		}
		tr = &ts[0]
		missing = missingSpans(tr, leader.ID)
		return missing == ""
	})
	if missing != "" {
		t.Fatal(missing)
	}

	byID := map[string]jaegertest.Span{}
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	var send jaegertest.Span
	for _, s := range tr.Spans {
		if s.OperationName == "send e2e" {
			send = s
		}
	}
	for k, want := range map[string]string{
		"messaging.system": "kafka", "messaging.operation.name": "send", "messaging.destination.name": "e2e",
		"messaging.destination.partition.id": "0", "messaging.batch.message_count": "1", "span.kind": "producer",
	} {
		if got := jaegertest.Tag(send.Tags, k); got != want {
			t.Errorf("send span tag %s = %q, want %q", k, got, want)
		}
	}
	linked := false
	for _, r := range send.References {
		if r.RefType == "FOLLOWS_FROM" && r.TraceID == "4bf92f3577b34da6a3ce929d0e0e4736" && r.SpanID == "00f067aa0ba902b7" {
			linked = true
		}
	}
	if !linked {
		t.Errorf("send span references %+v lack a link to the producer's span", send.References)
	}
	for _, s := range tr.Spans {
		parent := ""
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent = byID[r.SpanID].OperationName
			}
		}
		// The Produce span's parent is the producer's span, which is not
		// in Jaeger.
		want := map[string]string{"Produce": "", "send e2e": "Produce", "propose": "send e2e", "replicate": "propose", "commit": "propose", "apply": "propose",
			"queue": "propose", "store": "propose"}[s.OperationName]
		if parent != want {
			t.Errorf("%s span's parent is %q, want %q", s.OperationName, parent, want)
		}
	}

	for id, tel := range tels {
		fams := scrape(t, c.Nodes[id-1])
		if v := value(fams, "raftline_trace_spans_exported_total", nil); v < 1 {
			t.Errorf("node %d: raftline_trace_spans_exported_total = %v", id, v)
		}
		if st := tel.QueueStats(); st.DroppedFull+st.ExportFailed != 0 {
			t.Errorf("node %d dropped spans: %+v", id, st)
		}
	}
}

// missingSpans says what the trace still lacks: Produce, send, propose,
// queue, commit, a replicate to each follower from the leader, and a store
// and an apply on every node.
func missingSpans(tr *jaegertest.Trace, leader int32) string {
	instance := func(s jaegertest.Span) string {
		return jaegertest.Tag(tr.Processes[s.ProcessID].Tags, "service.instance.id")
	}
	var applied, stored, replicatedTo []string
	count := map[string]int{}
	var bad []string
	for _, s := range tr.Spans {
		count[s.OperationName]++
		switch s.OperationName {
		case "apply":
			applied = append(applied, instance(s))
		case "store":
			stored = append(stored, instance(s))
		case "replicate":
			replicatedTo = append(replicatedTo, jaegertest.Tag(s.Tags, "raft.follower.id"))
			fallthrough
		case "Produce", "send e2e", "propose", "commit", "queue":
			if instance(s) != strconv.Itoa(int(leader)) {
				bad = append(bad, s.OperationName+" from node "+instance(s))
			}
		}
	}
	slices.Sort(applied)
	slices.Sort(stored)
	slices.Sort(replicatedTo)
	replicatedTo = slices.Compact(replicatedTo)
	var missing []string
	for _, op := range []string{"Produce", "send e2e", "propose", "commit", "queue"} {
		if count[op] != 1 {
			missing = append(missing, strconv.Itoa(count[op])+" "+op)
		}
	}
	if !slices.Equal(applied, []string{"1", "2", "3"}) {
		missing = append(missing, "apply spans from nodes "+strings.Join(applied, ","))
	}
	if !slices.Equal(stored, []string{"1", "2", "3"}) {
		missing = append(missing, "store spans from nodes "+strings.Join(stored, ","))
	}
	if len(replicatedTo) != 2 || slices.Contains(replicatedTo, strconv.Itoa(int(leader))) {
		missing = append(missing, "replicate spans to "+strings.Join(replicatedTo, ","))
	}
	if len(bad) > 0 {
		missing = append(missing, "leader spans elsewhere: "+strings.Join(bad, ","))
	}
	return strings.Join(missing, "; ")
}

// TestCluster_ReceiverStuck_ProducesUnaffectedAndDropsCounted points every
// node at a receiver that accepts connections and never answers: produces
// go on at full speed and the spans that do not fit are counted as dropped.
func TestCluster_ReceiverStuck_ProducesUnaffectedAndDropsCounted(t *testing.T) {
	stuck := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stuck:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	c, _ := startCluster(t, 3, func(id int32) telemetry.Config {
		return telemetry.Config{NodeID: id, Version: "test", Tracing: telemetry.TracingConfig{
			Endpoint: srv.URL + "/v1/traces", Protocol: telemetry.ProtocolHTTP,
			Queue: spanqueue.Options{QueueSize: 16, BatchSize: 8, Delay: 10 * time.Millisecond, ExportTimeout: time.Minute},
		}}
	})
	// Registered after the cluster's cleanups, so it runs before them and
	// the nodes' telemetry shuts down without waiting for the receiver.
	t.Cleanup(func() { close(stuck) })
	c.CreateTopic("stuck", 1)
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("stuck"))
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 60*time.Second)
	defer cancel()
	const produces = 200
	for i := range produces {
		start := time.Now()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("v" + strconv.Itoa(i))}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("produce %d took %v with the receiver stuck", i, d)
		}
	}
	leader := c.Leader()
	fams := scrape(t, leader)
	// Several spans per produce on the leader (Produce, send, propose,
	// queue, store, replicate, commit, apply), 16 fit in the queue, at most
	// one batch of 8 is held by the stuck export.
	if v := value(fams, "raftline_trace_spans_dropped_total", map[string]string{"reason": "queue_full"}); v < produces {
		t.Errorf("leader dropped %v spans for %d traced produces into a queue of 16", v, produces)
	}
	if v := value(fams, "raftline_trace_spans_exported_total", nil); v != 0 {
		t.Errorf("leader exported %v spans to a receiver that never answers", v)
	}
}
