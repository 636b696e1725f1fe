// Package tracing traces a write through a raftline node with OpenTelemetry,
// following the messaging semantic conventions: a Produce opens a
// `send {topic}` span per partition batch, linked to the producers' trace
// contexts found in the records' traceparent headers, and the write's path
// through Raft shows as its descendants — propose on the leader, replicate
// to each follower, commit when a quorum holds the entry, and apply on every
// node. The trace context travels inside the Raft entry (raft.Log.Extensions)
// so followers' apply spans join the trace. Fetch opens a `receive {topic}`
// span.
package tracing

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/broker/raftnode"
	"github.com/raftline/raftline/telemetry/internal/kcode"
)

// ScopeName is the instrumentation scope of raftline's spans.
const ScopeName = "github.com/raftline/raftline/telemetry/tracing"

// MaxLinks bounds the producer contexts linked from one send span.
const MaxLinks = 128

// Span attribute keys raftline adds beside the semantic conventions.
const (
	AttrLogIndex   = attribute.Key("raft.log.index")
	AttrLogTerm    = attribute.Key("raft.log.term")
	AttrFollowerID = attribute.Key("raft.follower.id")
	// AttrLogEntries is the number of entries one log store write held.
	AttrLogEntries = attribute.Key("raft.log.entries")
	// AttrAcks is a Produce request's acks (-1, 0 or 1).
	AttrAcks = attribute.Key("messaging.kafka.acks")
)

var (
	_ kafka.Tracer      = (*Tracer)(nil)
	_ raftnode.Observer = (*Tracer)(nil)
)

// Tracer traces one node. It implements kafka.Tracer for the Kafka side and
// raftnode.Observer for the Raft side (replicate, commit and apply spans).
type Tracer struct {
	raftnode.NopObserver
	tracer trace.Tracer
	// pending holds this leader's writes between propose and the end of
	// their send span, by propose span id.
	pending sync.Map // trace.SpanID -> *write
}

type write struct {
	start   time.Time
	propose trace.Span
	ended   atomic.Bool
}

func (w *write) endPropose(err error) {
	if !w.ended.CompareAndSwap(false, true) {
		return
	}
	if err != nil {
		w.propose.SetStatus(codes.Error, err.Error())
	}
	w.propose.End()
}

// New returns a Tracer creating spans with tp.
func New(tp trace.TracerProvider) *Tracer {
	return &Tracer{tracer: tp.Tracer(ScopeName)}
}

// StartServer implements kafka.Tracer: the SERVER span of one Produce or
// Fetch request, parent of its per-partition send (or per-topic receive)
// spans. When a Produce request's records carry exactly one producer trace
// context (W3C traceparent headers), that context is the span's parent, so
// the producer's trace id leads into the broker; with several, the send
// spans link to them all. Reading them costs a scan of the records (and
// decompressing compressed batches) on the connection's reading goroutine,
// only while tracing is on.
func (t *Tracer) StartServer(ctx context.Context, r kafka.ServerRequest) (context.Context, func([]int16)) {
	attrs := []attribute.KeyValue{semconv.MessagingSystemKafka, semconv.MessagingClientID(r.ClientID)}
	if host, port, err := net.SplitHostPort(r.Peer); err == nil {
		p, _ := strconv.Atoi(port)
		attrs = append(attrs, semconv.NetworkPeerAddress(host), semconv.NetworkPeerPort(p))
	} else if r.Peer != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(r.Peer))
	}
	if r.API == "Produce" {
		attrs = append(attrs, AttrAcks.Int(int(r.Acks)))
		switch scs := ProducerContexts(r.Batches, 2); len(scs) {
		case 0:
			// Nothing for the send spans to link to: they need not
			// scan the batches again.
			ctx = context.WithValue(ctx, noProducerContexts{}, true)
		case 1:
			ctx = trace.ContextWithRemoteSpanContext(ctx, scs[0])
		}
	}
	ctx, span := t.tracer.Start(ctx, r.API, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	if !span.IsRecording() {
		span.End()
		return ctx, nil
	}
	return ctx, func(errCodes []int16) {
		for _, c := range errCodes {
			if c != 0 {
				name := kcode.Name(c)
				span.SetAttributes(semconv.ErrorTypeKey.String(name))
				span.SetStatus(codes.Error, name)
				break
			}
		}
		span.End()
	}
}

// noProducerContexts marks a Produce request's context when StartServer
// found no producer context in any of its records.
type noProducerContexts struct{}

// StartProduce implements kafka.Tracer.
func (t *Tracer) StartProduce(ctx context.Context, topic string, partition int32, records int, batches [][]byte) ([]byte, func(error)) {
	ctx, send := t.tracer.Start(ctx, "send "+topic,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationName("send"),
			semconv.MessagingOperationTypeSend,
			semconv.MessagingDestinationName(topic),
			semconv.MessagingDestinationPartitionID(strconv.Itoa(int(partition))),
			semconv.MessagingBatchMessageCount(records),
		))
	if !send.IsRecording() || !send.SpanContext().IsSampled() {
		send.End()
		return nil, nil
	}
	w := &write{start: time.Now()}
	_, w.propose = t.tracer.Start(ctx, "propose", trace.WithTimestamp(w.start))
	id := w.propose.SpanContext().SpanID()
	t.pending.Store(id, w)
	// The producers' contexts are read off the connection's reading
	// goroutine, which proposes the connection's writes in order: reading
	// them means decompressing the batches. The send span ends when both
	// the write and the reading are done, at the write's end time.
	sl := &sendLinks{span: send}
	if len(batches) > 0 && ctx.Value(noProducerContexts{}) == nil {
		sl.left.Store(2)
		go func() {
			for _, sc := range ProducerContexts(batches, MaxLinks) {
				send.AddLink(trace.Link{SpanContext: sc})
			}
			sl.done()
		}()
	} else {
		sl.left.Store(1)
	}
	return EncodeContext(w.propose.SpanContext()), func(err error) {
		t.pending.Delete(id)
		w.endPropose(err)
		if err != nil {
			send.SetAttributes(semconv.ErrorTypeKey.String(kcode.OfError(err)))
			send.SetStatus(codes.Error, err.Error())
		}
		sl.end = time.Now()
		sl.done()
	}
}

// sendLinks ends a send span once its write ended and its links are added.
type sendLinks struct {
	span trace.Span
	left atomic.Int32
	end  time.Time // set before the write's done; read after the last
}

func (s *sendLinks) done() {
	if s.left.Add(-1) == 0 {
		s.span.End(trace.WithTimestamp(s.end))
	}
}

// StartFetch implements kafka.Tracer.
func (t *Tracer) StartFetch(ctx context.Context, topic string) func(int64, error) {
	_, span := t.tracer.Start(ctx, "receive "+topic,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationName("receive"),
			semconv.MessagingOperationTypeReceive,
			semconv.MessagingDestinationName(topic),
		))
	if !span.IsRecording() {
		return func(int64, error) {}
	}
	return func(records int64, err error) {
		span.SetAttributes(semconv.MessagingBatchMessageCount(int(records)))
		if err != nil {
			span.SetAttributes(semconv.ErrorTypeKey.String(kcode.OfError(err)))
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// StartRequest implements kafka.Tracer: a server span named after the
// request, with the attributes given as key and value pairs.
func (t *Tracer) StartRequest(ctx context.Context, name string, attrs ...string) func(error) {
	kv := []attribute.KeyValue{semconv.MessagingSystemKafka}
	for i := 0; i+1 < len(attrs); i += 2 {
		kv = append(kv, attribute.String(attrs[i], attrs[i+1]))
	}
	_, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(kv...))
	if !span.IsRecording() {
		return func(error) {}
	}
	return func(err error) {
		if err != nil {
			span.SetAttributes(semconv.ErrorTypeKey.String(kcode.OfError(err)))
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// RPCSent implements raftnode.Observer: each traced entry an
// AppendEntries carries to a follower gets a replicate span, ended by the
// response.
func (t *Tracer) RPCSent(e raftnode.RPCSent) func(raftnode.RPCDone) {
	req, ok := e.Request.(*raft.AppendEntriesRequest)
	if !ok {
		return nil
	}
	var spans []trace.Span
	for _, l := range req.Entries {
		sc, ok := DecodeContext(l.Extensions)
		if !ok {
			continue
		}
		_, span := t.tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), sc), "replicate",
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(AttrFollowerID.String(string(e.Target)), AttrLogIndex.Int64(int64(l.Index))))
		spans = append(spans, span)
	}
	if spans == nil {
		return nil
	}
	return func(d raftnode.RPCDone) {
		r, _ := d.Response.(*raft.AppendEntriesResponse)
		for _, s := range spans {
			switch {
			case d.Err != nil:
				s.SetStatus(codes.Error, d.Err.Error())
			case r == nil || !r.Success:
				s.SetStatus(codes.Error, "follower rejected the entries")
			}
			s.End()
		}
	}
}

// LogsStored implements raftnode.Observer: each traced entry of a log store
// write gets a store span, the write and its fsync, on every node; on the
// leader, whose proposal it is, a queue span before it, from the proposal
// to the leader taking it off Raft's queue and appending it
// (raft.Log.AppendedAt).
func (t *Tracer) LogsStored(e raftnode.LogsStored) {
	end := time.Now()
	start := end.Add(-e.Duration)
	for _, l := range e.Logs {
		sc, ok := DecodeContext(l.Extensions)
		if !ok {
			continue
		}
		ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
		if v, ok := t.pending.Load(sc.SpanID()); ok && !l.AppendedAt.IsZero() {
			_, q := t.tracer.Start(ctx, "queue", trace.WithTimestamp(v.(*write).start),
				trace.WithAttributes(AttrLogIndex.Int64(int64(l.Index))))
			q.End(trace.WithTimestamp(l.AppendedAt))
		}
		_, span := t.tracer.Start(ctx, "store", trace.WithTimestamp(start),
			trace.WithAttributes(AttrLogIndex.Int64(int64(l.Index)), AttrLogEntries.Int(len(e.Logs))))
		if e.Err != nil {
			span.SetStatus(codes.Error, e.Err.Error())
		}
		span.End(trace.WithTimestamp(end))
	}
}

// EntryCommitted implements raftnode.Observer: the commit span of a traced
// entry, from its proposal to the quorum.
func (t *Tracer) EntryCommitted(c raftnode.EntryCommitted) {
	sc, ok := DecodeContext(c.Extensions)
	if !ok {
		return
	}
	start := c.AppendedAt
	if v, ok := t.pending.Load(sc.SpanID()); ok {
		w := v.(*write)
		start = w.start
		w.propose.SetAttributes(AttrLogIndex.Int64(int64(c.Index)), AttrLogTerm.Int64(int64(c.Term)))
	}
	_, span := t.tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), sc), "commit",
		trace.WithTimestamp(start),
		trace.WithAttributes(AttrLogIndex.Int64(int64(c.Index)), AttrLogTerm.Int64(int64(c.Term))))
	span.End(trace.WithTimestamp(c.At))
}

// EntryApplied implements raftnode.Observer: the apply span of a traced
// entry, on every node. On the leader the entry's propose span ends with it:
// Raft answers the proposal as soon as the FSM returns.
func (t *Tracer) EntryApplied(e raftnode.EntryApplied) {
	sc, ok := DecodeContext(e.Extensions)
	if !ok {
		return
	}
	_, span := t.tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), sc), "apply",
		trace.WithTimestamp(e.Start),
		trace.WithAttributes(AttrLogIndex.Int64(int64(e.Index)), AttrLogTerm.Int64(int64(e.Term))))
	if e.Err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(kcode.OfError(e.Err)))
		span.SetStatus(codes.Error, e.Err.Error())
	}
	span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
	if v, ok := t.pending.Load(sc.SpanID()); ok {
		v.(*write).endPropose(nil)
	}
}
