package telemetry_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/telemetry"
)

// producerContext is a trace context as an instrumented producer would put
// in a record's traceparent header.
func producerContext(t *testing.T) (trace.SpanContext, string) {
	t.Helper()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return sc, "00-" + tid.String() + "-" + sid.String() + "-01"
}

type nodeSpan struct {
	node int32
	span sdktrace.ReadOnlySpan
}

func spansOfTrace(recs map[int32]*tracetest.SpanRecorder, tid trace.TraceID) []nodeSpan {
	var out []nodeSpan
	for id, r := range recs {
		for _, s := range r.Ended() {
			if s.SpanContext().TraceID() == tid {
				out = append(out, nodeSpan{id, s})
			}
		}
	}
	return out
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
	out := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes() {
		out[kv.Key] = kv.Value
	}
	return out
}

func TestCluster_ProduceAcksAll_OneTraceFromSendToEveryApply(t *testing.T) {
	recs := map[int32]*tracetest.SpanRecorder{}
	c, _ := startCluster(t, 3, func(id int32) telemetry.Config {
		r := tracetest.NewSpanRecorder()
		recs[id] = r
		return telemetry.Config{NodeID: id, Version: "test", SpanProcessors: []sdktrace.SpanProcessor{r}}
	})
	c.CreateTopic("traced", 1)
	producer, traceparent := producerContext(t)
	cl := c.Client(kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic("traced"))
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 20*time.Second)
	defer cancel()
	rec := &kgo.Record{Value: []byte("hello"), Headers: []kgo.RecordHeader{{Key: "traceparent", Value: []byte(traceparent)}}}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	leader := c.Leader()

	var send sdktrace.ReadOnlySpan
	clustertest.WaitFor(t, 10*time.Second, "the send span on the leader", func() bool {
		for _, s := range recs[leader.ID].Ended() {
			if s.Name() == "send traced" {
				send = s
			}
		}
		return send != nil
	})
	tid := send.SpanContext().TraceID()
	followers := map[string]bool{}
	for _, f := range c.Followers() {
		followers[strconv.Itoa(int(f.ID))] = true
	}

	// Followers apply once the leader's next AppendEntries tells them
	// the entry is committed.
	var spans []nodeSpan
	count := func(name string) (n int, nodes []int32) {
		for _, s := range spans {
			if s.span.Name() == name {
				n++
				nodes = append(nodes, s.node)
			}
		}
		slices.Sort(nodes)
		return n, nodes
	}
	clustertest.WaitFor(t, 10*time.Second, "propose, 2 replicate, commit and 3 apply spans in the trace", func() bool {
		spans = spansOfTrace(recs, tid)
		np, _ := count("propose")
		nr, _ := count("replicate")
		nc, _ := count("commit")
		_, applied := count("apply")
		return np == 1 && nr >= 2 && nc == 1 && slices.Equal(applied, []int32{1, 2, 3})
	})

	// Send: messaging conventions, linked to the producer's context.
	a := attrs(send)
	for k, want := range map[attribute.Key]string{
		"messaging.system":                   "kafka",
		"messaging.operation.name":           "send",
		"messaging.destination.name":         "traced",
		"messaging.destination.partition.id": "0",
	} {
		if got := a[k].AsString(); got != want {
			t.Errorf("send span %s = %q, want %q", k, got, want)
		}
	}
	if got := a["messaging.batch.message_count"].AsInt64(); got != 1 {
		t.Errorf("send span messaging.batch.message_count = %d, want 1", got)
	}
	if _, ok := a["error.type"]; ok {
		t.Errorf("successful send carries error.type %v", a["error.type"])
	}
	if send.SpanKind() != trace.SpanKindProducer {
		t.Errorf("send span kind %v, want producer", send.SpanKind())
	}
	if ls := send.Links(); len(ls) != 1 || ls[0].SpanContext.TraceID() != producer.TraceID() || ls[0].SpanContext.SpanID() != producer.SpanID() {
		t.Errorf("send span links %+v, want one link to the producer's span %s", ls, producer.SpanID())
	}

	// The write's path: every raft span is a child of propose, which is a
	// child of send, on the nodes where it happened.
	var propose, commit sdktrace.ReadOnlySpan
	applies := map[int32]sdktrace.ReadOnlySpan{}
	replicatedTo := map[string]bool{}
	for _, s := range spans {
		switch s.span.Name() {
		case "propose":
			propose = s.span
		case "commit":
			commit = s.span
			if s.node != leader.ID {
				t.Errorf("commit span recorded on node %d, not the leader %d", s.node, leader.ID)
			}
		case "apply":
			applies[s.node] = s.span
		case "replicate":
			if s.node != leader.ID {
				t.Errorf("replicate span recorded on node %d, not the leader %d", s.node, leader.ID)
			}
			replicatedTo[attrs(s.span)["raft.follower.id"].AsString()] = true
		}
	}
	if propose.Parent().SpanID() != send.SpanContext().SpanID() {
		t.Errorf("propose's parent is %s, want the send span %s", propose.Parent().SpanID(), send.SpanContext().SpanID())
	}
	for _, s := range spans {
		switch s.span.Name() {
		case "replicate", "commit", "apply":
			if s.span.Parent().SpanID() != propose.SpanContext().SpanID() {
				t.Errorf("%s span on node %d has parent %s, want propose %s", s.span.Name(), s.node, s.span.Parent().SpanID(), propose.SpanContext().SpanID())
			}
		}
	}
	for f := range followers {
		if !replicatedTo[f] {
			t.Errorf("no replicate span to follower %s (got %v)", f, replicatedTo)
		}
	}
	idx := attrs(commit)["raft.log.index"].AsInt64()
	for id, s := range applies {
		if got := attrs(s)["raft.log.index"].AsInt64(); got != idx {
			t.Errorf("node %d applied index %d, committed index %d", id, got, idx)
		}
	}
	// Commit (quorum) comes no later than the leader applies the entry,
	// and the proposal ends once the leader applied it.
	if la := applies[leader.ID]; commit.EndTime().After(la.StartTime()) {
		t.Errorf("commit ended at %v, after the leader started applying at %v", commit.EndTime(), la.StartTime())
	}
	if !commit.StartTime().Equal(propose.StartTime()) {
		t.Errorf("commit starts at %v, want the proposal's start %v", commit.StartTime(), propose.StartTime())
	}
	if propose.EndTime().Before(applies[leader.ID].EndTime()) || send.EndTime().Before(propose.EndTime()) {
		t.Errorf("span ends out of order: leader apply %v, propose %v, send %v", applies[leader.ID].EndTime(), propose.EndTime(), send.EndTime())
	}
	// Each node's spans carry its own service.instance.id.
	for _, s := range spans {
		inst := ""
		for _, kv := range s.span.Resource().Attributes() {
			if kv.Key == "service.instance.id" {
				inst = kv.Value.AsString()
			}
		}
		if inst != strconv.Itoa(int(s.node)) {
			t.Errorf("%s span of node %d has service.instance.id %q", s.span.Name(), s.node, inst)
		}
	}
}

// TestCluster_Fetch_ReceiveSpanCoversTheLongPoll: a fetch that waits for
// records shows as a receive span as long as the wait.
func TestCluster_Fetch_ReceiveSpanCoversTheLongPoll(t *testing.T) {
	recs := map[int32]*tracetest.SpanRecorder{}
	c, _ := startCluster(t, 3, func(id int32) telemetry.Config {
		r := tracetest.NewSpanRecorder()
		recs[id] = r
		return telemetry.Config{NodeID: id, Version: "test", SpanProcessors: []sdktrace.SpanProcessor{r}}
	})
	c.CreateTopic("polled", 1)
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 30*time.Second)
	defer cancel()
	producer := c.Client(kgo.DefaultProduceTopic("polled"))
	if err := producer.ProduceSync(ctx, &kgo.Record{Value: []byte("a")}, &kgo.Record{Value: []byte("b")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	const maxWait = 300 * time.Millisecond
	consumer := c.Client(kgo.ConsumeTopics("polled"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(maxWait))
	got := 0
	for got < 2 {
		got += consumer.PollFetches(ctx).NumRecords()
		if ctx.Err() != nil {
			t.Fatal("records not consumed")
		}
	}
	leader := c.Leader()
	var withRecords, idle sdktrace.ReadOnlySpan
	clustertest.WaitFor(t, 10*time.Second, "a receive span with the records and an idle long poll", func() bool {
		for _, s := range recs[leader.ID].Ended() {
			if s.Name() != "receive polled" {
				continue
			}
			a := attrs(s)
			switch n := a["messaging.batch.message_count"].AsInt64(); {
			case n >= 1:
				withRecords = s
			case n == 0 && s.EndTime().Sub(s.StartTime()) >= maxWait*2/3:
				idle = s
			}
		}
		return withRecords != nil && idle != nil
	})
	a := attrs(withRecords)
	if a["messaging.operation.name"].AsString() != "receive" || a["messaging.system"].AsString() != "kafka" || a["messaging.destination.name"].AsString() != "polled" {
		t.Errorf("receive span attributes %v", withRecords.Attributes())
	}
}
