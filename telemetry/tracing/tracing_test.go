package tracing

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/raftline/raftline/broker/cluster"
	"github.com/raftline/raftline/broker/kafka"
	"github.com/raftline/raftline/broker/raftnode"
)

func spanContext(t testing.TB, tid, sid string) trace.SpanContext {
	t.Helper()
	ti, err := trace.TraceIDFromHex(tid)
	if err != nil {
		t.Fatal(err)
	}
	si, err := trace.SpanIDFromHex(sid)
	if err != nil {
		t.Fatal(err)
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: ti, SpanID: si, TraceFlags: trace.FlagsSampled})
}

func TestExtension_RoundTrip(t *testing.T) {
	sc := spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	b := EncodeContext(sc)
	if len(b) != extLen || b[0] != extTraceContext {
		t.Fatalf("encoded %x", b)
	}
	got, ok := DecodeContext(b)
	if !ok || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() || !got.IsSampled() || !got.IsRemote() {
		t.Fatalf("decoded %v, %v; want %v", got, ok, sc)
	}
}

func TestDecodeContext_CarriesNothing(t *testing.T) {
	valid := EncodeContext(spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"))
	other := bytes.Clone(valid)
	other[0] = 2
	zero := make([]byte, extLen)
	zero[0] = extTraceContext
	for name, b := range map[string][]byte{"nil": nil, "short": valid[:extLen-1], "unknown format": other, "zero ids": zero} {
		if sc, ok := DecodeContext(b); ok {
			t.Errorf("%s: decoded %v", name, sc)
		}
	}
}

func FuzzDecodeContext(f *testing.F) {
	f.Add(EncodeContext(spanContext(f, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")))
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, ok := DecodeContext(b)
		if ok && !bytes.Equal(EncodeContext(sc), b[:extLen]) {
			t.Fatalf("decoded %v from %x does not encode back", sc, b)
		}
	})
}

// recordBatch builds a magic-2 batch of records, compressed with codec.
func recordBatch(t testing.TB, codec kgo.CompressionCodec, codecID int16, recs []kmsg.Record) []byte {
	t.Helper()
	var raw []byte
	for i := range recs {
		r := recs[i]
		r.OffsetDelta = int32(i)
		body := r.AppendTo(nil)[1:] // encoded with Length 0: one varint byte
		r.Length = int32(len(body))
		raw = r.AppendTo(raw)
	}
	if codecID != 0 {
		comp, err := kgo.DefaultCompressor(codec)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		out, typ := comp.Compress(&buf, raw)
		if int16(typ) != codecID {
			t.Fatalf("compressed with codec %d, want %d", typ, codecID)
		}
		raw = bytes.Clone(out)
	}
	b := kmsg.RecordBatch{
		Magic: 2, Attributes: codecID, LastOffsetDelta: int32(len(recs) - 1),
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: raw,
	}
	enc := b.AppendTo(nil)
	binary.BigEndian.PutUint32(enc[8:12], uint32(len(enc)-12))
	binary.BigEndian.PutUint32(enc[17:21], crc32.Checksum(enc[21:], crc32.MakeTable(crc32.Castagnoli)))
	return enc
}

func tp(sc trace.SpanContext) []byte {
	return []byte("00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01")
}

func TestProducerContexts_EveryCompressionCodec(t *testing.T) {
	a := spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	b := spanContext(t, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
	recs := []kmsg.Record{
		{Value: []byte("one"), Headers: []kmsg.Header{{Key: "other", Value: []byte("x")}, {Key: "traceparent", Value: tp(a)}, {Key: "tracestate", Value: []byte("vendor=1")}}},
		{Key: []byte("k"), Value: []byte("two")},
		{Value: []byte("three"), Headers: []kmsg.Header{{Key: "traceparent", Value: tp(a)}}},
		{Value: bytes.Repeat([]byte("four"), 100), Headers: []kmsg.Header{{Key: "traceparent", Value: tp(b)}}},
		{Value: []byte("bad"), Headers: []kmsg.Header{{Key: "traceparent", Value: []byte("not a traceparent")}}},
	}
	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
		id    int16
	}{
		{"none", kgo.NoCompression(), 0},
		{"gzip", kgo.GzipCompression(), 1},
		{"snappy", kgo.SnappyCompression(), 2},
		{"lz4", kgo.Lz4Compression(), 3},
		{"zstd", kgo.ZstdCompression(), 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			batch := recordBatch(t, c.codec, c.id, recs)
			got := ProducerContexts([][]byte{batch}, 10)
			if len(got) != 2 || got[0].SpanID() != a.SpanID() || got[1].SpanID() != b.SpanID() {
				t.Fatalf("contexts %v, want [%v %v]", got, a.SpanID(), b.SpanID())
			}
			if got[0].TraceState().Get("vendor") != "1" {
				t.Errorf("tracestate %q lost", got[0].TraceState())
			}
			if got := ProducerContexts([][]byte{batch, batch}, 1); len(got) != 1 {
				t.Errorf("max 1 gave %d contexts", len(got))
			}
		})
	}
}

func FuzzProducerContexts(f *testing.F) {
	sc := spanContext(f, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	recs := []kmsg.Record{{Value: []byte("v"), Headers: []kmsg.Header{{Key: "traceparent", Value: tp(sc)}}}}
	f.Add(recordBatch(f, kgo.NoCompression(), 0, recs))
	f.Add(recordBatch(f, kgo.SnappyCompression(), 2, recs))
	f.Add(make([]byte, 61))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, sc := range ProducerContexts([][]byte{b}, MaxLinks) {
			if !sc.IsValid() {
				t.Fatalf("invalid context %v", sc)
			}
		}
	})
}

func newTracer(t *testing.T, sampler sdktrace.Sampler) (*Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	prov := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { prov.Shutdown(context.Background()) })
	return New(prov), rec
}

func spanNamed(rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func attr(s sdktrace.ReadOnlySpan, k attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == k {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func TestStartProduce_FailedWrite_ErrorTypeIsTheClientsErrorCode(t *testing.T) {
	// The errors the Kafka produce path ends its spans with: the cluster
	// contract's (raftcluster translates raftnode's into them) and kerr's.
	for err, want := range map[error]string{
		kerr.RequestTimedOut:              "REQUEST_TIMED_OUT",
		cluster.ErrNotLeader:              "NOT_LEADER_OR_FOLLOWER",
		cluster.ErrShutdown:               "NOT_LEADER_OR_FOLLOWER",
		cluster.ErrIndeterminate:          "REQUEST_TIMED_OUT",
		kerr.InvalidProducerEpoch:         "INVALID_PRODUCER_EPOCH",
		context.Canceled:                  "UNKNOWN_SERVER_ERROR",
		kerr.UnknownTopicOrPartition:      "UNKNOWN_TOPIC_OR_PARTITION",
		kerr.OutOfOrderSequenceNumber:     "OUT_OF_ORDER_SEQUENCE_NUMBER",
		kerr.NotLeaderForPartition:        "NOT_LEADER_OR_FOLLOWER",
		kerr.CorruptMessage:               "CORRUPT_MESSAGE",
		kerr.MessageTooLarge:              "MESSAGE_TOO_LARGE",
		kerr.DuplicateSequenceNumber:      "DUPLICATE_SEQUENCE_NUMBER",
		kerr.TransactionCoordinatorFenced: "TRANSACTION_COORDINATOR_FENCED",
	} {
		tr, rec := newTracer(t, sdktrace.AlwaysSample())
		ext, end := tr.StartProduce(context.Background(), "orders", 3, 7, nil)
		if _, ok := DecodeContext(ext); !ok || end == nil {
			t.Fatalf("sampled produce gave extensions %x", ext)
		}
		end(err)
		send, propose := spanNamed(rec, "send orders"), spanNamed(rec, "propose")
		if send == nil || propose == nil {
			t.Fatalf("spans %v", rec.Ended())
		}
		if got := attr(send, "error.type").AsString(); got != want {
			t.Errorf("%v: error.type %q, want %q", err, got, want)
		}
		if send.Status().Code != codes.Error || propose.Status().Code != codes.Error {
			t.Errorf("%v: statuses send %v, propose %v", err, send.Status(), propose.Status())
		}
		if got := attr(send, "messaging.destination.partition.id").AsString(); got != "3" {
			t.Errorf("partition id %q", got)
		}
		if got := attr(send, "messaging.batch.message_count").AsInt64(); got != 7 {
			t.Errorf("message count %d", got)
		}
		if _, ok := tr.pending.Load(propose.SpanContext().SpanID()); ok {
			t.Errorf("write still pending after its send span ended")
		}
	}
}

func TestStartProduce_NotSampled_NoExtensionsNoSpans(t *testing.T) {
	tr, rec := newTracer(t, sdktrace.NeverSample())
	ext, end := tr.StartProduce(context.Background(), "orders", 0, 1, nil)
	if ext != nil || end != nil {
		t.Fatalf("unsampled produce gave extensions %x, end %v", ext, end != nil)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans recorded", n)
	}
}

func TestStartFetch_ReceiveSpan(t *testing.T) {
	tr, rec := newTracer(t, sdktrace.AlwaysSample())
	tr.StartFetch(context.Background(), "orders")(12, nil)
	s := spanNamed(rec, "receive orders")
	if s == nil {
		t.Fatal("no receive span")
	}
	if attr(s, "messaging.operation.name").AsString() != "receive" || attr(s, "messaging.batch.message_count").AsInt64() != 12 ||
		attr(s, "messaging.destination.name").AsString() != "orders" || attr(s, "messaging.system").AsString() != "kafka" {
		t.Errorf("attributes %v", s.Attributes())
	}
}

func TestStartRequest_GroupSpanWithItsOutcome(t *testing.T) {
	tr, rec := newTracer(t, sdktrace.AlwaysSample())
	tr.StartRequest(context.Background(), "JoinGroup", "messaging.consumer.group.name", "billing")(kerr.RebalanceInProgress)
	s := spanNamed(rec, "JoinGroup")
	if s == nil {
		t.Fatal("no JoinGroup span")
	}
	if attr(s, "messaging.consumer.group.name").AsString() != "billing" || attr(s, "messaging.system").AsString() != "kafka" ||
		attr(s, "error.type").AsString() != "REBALANCE_IN_PROGRESS" {
		t.Errorf("attributes %v", s.Attributes())
	}
}

// TestReplicateCommitApply_ChildrenOfPropose drives the Raft-side events as
// a leader and a follower would see one entry: queue (leader), store (log
// write and fsync, both), replicate, commit, apply.
func TestReplicateCommitApply_ChildrenOfPropose(t *testing.T) {
	tr, rec := newTracer(t, sdktrace.ParentBased(sdktrace.NeverSample()))
	leaderTr, leaderRec := newTracer(t, sdktrace.AlwaysSample())
	ext, end := leaderTr.StartProduce(context.Background(), "t", 0, 1, nil)
	appended := time.Now()
	entry := &raft.Log{Index: 7, Term: 2, Type: raft.LogCommand, Extensions: ext, AppendedAt: appended}
	stored := raftnode.LogsStored{Logs: []*raft.Log{{Index: 6, Term: 2}, entry}, Duration: time.Millisecond}
	leaderTr.LogsStored(stored)
	tr.LogsStored(stored)
	done := leaderTr.RPCSent(raftnode.RPCSent{Target: "2", Request: &raft.AppendEntriesRequest{Term: 2, Entries: []*raft.Log{{Index: 6, Term: 2}, entry}}})
	if done == nil {
		t.Fatal("no replicate span for a traced entry")
	}
	done(raftnode.RPCDone{Response: &raft.AppendEntriesResponse{Success: true}})
	if leaderTr.RPCSent(raftnode.RPCSent{Target: "2", Request: &raft.AppendEntriesRequest{Term: 2}}) != nil {
		t.Error("a heartbeat opened spans")
	}
	leaderTr.EntryCommitted(raftnode.EntryCommitted{Index: 7, Term: 2, Extensions: ext, At: time.Now()})
	applied := raftnode.EntryApplied{Index: entry.Index, Term: entry.Term, Extensions: entry.Extensions, Start: time.Now(), Duration: time.Millisecond}
	leaderTr.EntryApplied(applied)
	// A follower whose sampler would drop a new trace still follows the
	// sampled parent from the entry.
	tr.EntryApplied(applied)
	end(nil)

	propose := spanNamed(leaderRec, "propose")
	for _, s := range []sdktrace.ReadOnlySpan{spanNamed(leaderRec, "replicate"), spanNamed(leaderRec, "commit"), spanNamed(leaderRec, "apply"), spanNamed(rec, "apply"),
		spanNamed(leaderRec, "queue"), spanNamed(leaderRec, "store"), spanNamed(rec, "store")} {
		if s == nil {
			t.Fatalf("missing span: leader %v, follower %v", leaderRec.Ended(), rec.Ended())
		}
		if s.Parent().SpanID() != propose.SpanContext().SpanID() || s.SpanContext().TraceID() != propose.SpanContext().TraceID() {
			t.Errorf("%s: parent %v, want propose %v", s.Name(), s.Parent(), propose.SpanContext())
		}
		if got := attr(s, AttrLogIndex).AsInt64(); got != 7 {
			t.Errorf("%s: raft.log.index %d", s.Name(), got)
		}
	}
	if got := attr(spanNamed(leaderRec, "replicate"), AttrFollowerID).AsString(); got != "2" {
		t.Errorf("replicate raft.follower.id %q", got)
	}
	if got := attr(propose, AttrLogIndex).AsInt64(); got != 7 {
		t.Errorf("propose raft.log.index %d", got)
	}
	if propose.Status().Code == codes.Error {
		t.Errorf("propose failed: %v", propose.Status())
	}
	if c := spanNamed(leaderRec, "commit"); !c.StartTime().Equal(propose.StartTime()) {
		t.Errorf("commit starts %v, propose %v", c.StartTime(), propose.StartTime())
	}
	if q := spanNamed(leaderRec, "queue"); !q.StartTime().Equal(propose.StartTime()) || !q.EndTime().Equal(appended) {
		t.Errorf("queue span %v..%v, want from the proposal %v to the append %v", q.StartTime(), q.EndTime(), propose.StartTime(), appended)
	}
	if st := spanNamed(rec, "store"); st.EndTime().Sub(st.StartTime()) != time.Millisecond || attr(st, AttrLogEntries).AsInt64() != 2 {
		t.Errorf("store span %v long, raft.log.entries %v; want the write's 1ms, 2", st.EndTime().Sub(st.StartTime()), attr(st, AttrLogEntries))
	}
	if n := len(rec.Ended()); n != 2 {
		t.Errorf("follower recorded %d spans, want its store and apply only", n)
	}
}

// An entry that failed shows as a failed apply span, typed with the Kafka
// error code its proposer is answered with.
func TestEntryApplied_FailedEntry_ErrorTypeIsTheKafkaCode(t *testing.T) {
	tr, rec := newTracer(t, sdktrace.AlwaysSample())
	ext := EncodeContext(spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"))
	start := time.Now()
	tr.EntryApplied(raftnode.EntryApplied{Index: 3, Term: 1, Extensions: ext, Start: start, Duration: 2 * time.Millisecond, Err: kerr.TopicAlreadyExists})
	s := spanNamed(rec, "apply")
	if s == nil {
		t.Fatal("no apply span")
	}
	if s.Status().Code != codes.Error || attr(s, "error.type").AsString() != "TOPIC_ALREADY_EXISTS" {
		t.Errorf("apply span status %v, error.type %q", s.Status(), attr(s, "error.type").AsString())
	}
	if !s.StartTime().Equal(start) || s.EndTime().Sub(s.StartTime()) != 2*time.Millisecond {
		t.Errorf("apply span %v..%v, want the apply's own start and duration", s.StartTime(), s.EndTime())
	}
}

// TestStartServer_OneProducerContextIsTheParent: a Produce request whose
// records carry one producer context (however many records) is a child of
// it, its send spans children of the request; with two contexts it starts
// its own trace.
func TestStartServer_OneProducerContextIsTheParent(t *testing.T) {
	a := spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	b := spanContext(t, "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
	withA := []kmsg.Record{{Value: []byte("1"), Headers: []kmsg.Header{{Key: "traceparent", Value: tp(a)}}}, {Value: []byte("2"), Headers: []kmsg.Header{{Key: "traceparent", Value: tp(a)}}}}
	withB := []kmsg.Record{{Value: []byte("3"), Headers: []kmsg.Header{{Key: "traceparent", Value: tp(b)}}}}
	one := [][]byte{recordBatch(t, kgo.NoCompression(), 0, withA), recordBatch(t, kgo.ZstdCompression(), 4, withA)}
	two := [][]byte{recordBatch(t, kgo.NoCompression(), 0, withA), recordBatch(t, kgo.NoCompression(), 0, withB)}

	tr, rec := newTracer(t, sdktrace.ParentBased(sdktrace.AlwaysSample()))
	ctx, end := tr.StartServer(context.Background(), kafka.ServerRequest{API: "Produce", ClientID: "app", Peer: "10.0.0.7:51234", Acks: -1, Batches: one})
	_, endSend := tr.StartProduce(ctx, "orders", 0, 4, nil)
	endSend(nil)
	end(nil)
	s, send := spanNamed(rec, "Produce"), spanNamed(rec, "send orders")
	if s == nil || send == nil {
		t.Fatalf("spans %v", rec.Ended())
	}
	if s.Parent().SpanID() != a.SpanID() || s.Parent().TraceID() != a.TraceID() || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("Produce span parent %v kind %v, want the producer's %v, server", s.Parent(), s.SpanKind(), a)
	}
	if send.Parent().SpanID() != s.SpanContext().SpanID() {
		t.Errorf("send span's parent %v, want the Produce span", send.Parent())
	}
	if attr(s, "messaging.client.id").AsString() != "app" || attr(s, "messaging.kafka.acks").AsInt64() != -1 ||
		attr(s, "network.peer.address").AsString() != "10.0.0.7" || attr(s, "network.peer.port").AsInt64() != 51234 ||
		s.Status().Code != codes.Unset {
		t.Errorf("attributes %v status %v", s.Attributes(), s.Status())
	}

	tr, rec = newTracer(t, sdktrace.ParentBased(sdktrace.AlwaysSample()))
	_, end = tr.StartServer(context.Background(), kafka.ServerRequest{API: "Produce", Batches: two})
	end([]int16{0, kerr.NotLeaderForPartition.Code})
	s = spanNamed(rec, "Produce")
	if s.Parent().IsValid() {
		t.Errorf("two producer contexts, yet the Produce span's parent is %v", s.Parent())
	}
	if attr(s, "error.type").AsString() != "NOT_LEADER_OR_FOLLOWER" || s.Status().Code != codes.Error {
		t.Errorf("failed request: attributes %v status %v", s.Attributes(), s.Status())
	}
}

// TestStartServer_NotSampled_NoEnd: an unsampled producer context makes
// the request unsampled (parent-based), with no function to call.
func TestStartServer_NotSampled_NoEnd(t *testing.T) {
	a := spanContext(t, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	unsampled := []byte("00-" + a.TraceID().String() + "-" + a.SpanID().String() + "-00")
	batch := recordBatch(t, kgo.NoCompression(), 0, []kmsg.Record{{Value: []byte("1"), Headers: []kmsg.Header{{Key: "traceparent", Value: unsampled}}}})
	tr, rec := newTracer(t, sdktrace.ParentBased(sdktrace.AlwaysSample()))
	ctx, end := tr.StartServer(context.Background(), kafka.ServerRequest{API: "Produce", Batches: [][]byte{batch}})
	if end != nil || trace.SpanContextFromContext(ctx).IsSampled() || len(rec.Ended()) != 0 {
		t.Fatalf("unsampled request: end %v, context %v, %d spans", end != nil, trace.SpanContextFromContext(ctx), len(rec.Ended()))
	}
}

// TestStartServer_NoProducerContext_SendSpanEndsWithItsWrite: records
// without traceparent headers are scanned once, by StartServer; the send
// span does not scan them again and ends as its write ends.
func TestStartServer_NoProducerContext_SendSpanEndsWithItsWrite(t *testing.T) {
	batch := recordBatch(t, kgo.ZstdCompression(), 4, []kmsg.Record{{Value: []byte("1")}, {Value: []byte("2")}})
	tr, rec := newTracer(t, sdktrace.AlwaysSample())
	ctx, end := tr.StartServer(context.Background(), kafka.ServerRequest{API: "Produce", Batches: [][]byte{batch}})
	_, endSend := tr.StartProduce(ctx, "orders", 0, 2, [][]byte{batch})
	endSend(nil)
	send := spanNamed(rec, "send orders")
	if send == nil {
		t.Fatal("send span not ended with its write")
	}
	if len(send.Links()) != 0 {
		t.Errorf("links %v", send.Links())
	}
	end(nil)
	if p := spanNamed(rec, "Produce"); p == nil || p.Parent().IsValid() {
		t.Errorf("Produce span %v", p)
	}
}

// BenchmarkStartServerScan is the cost StartServer adds to a traced
// Produce: scanning a request of 100 records of 100 bytes for producer
// contexts, each record carrying the same traceparent, uncompressed and
// zstd-compressed.
func BenchmarkStartServerScan(b *testing.B) {
	sc := spanContext(b, "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7")
	recs := make([]kmsg.Record, 100)
	for i := range recs {
		recs[i] = kmsg.Record{Value: bytes.Repeat([]byte{byte(i)}, 100), Headers: []kmsg.Header{{Key: "traceparent", Value: tp(sc)}}}
	}
	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
		id    int16
	}{{"none", kgo.NoCompression(), 0}, {"zstd", kgo.ZstdCompression(), 4}} {
		batches := [][]byte{recordBatch(b, c.codec, c.id, recs)}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if len(ProducerContexts(batches, 2)) != 1 {
					b.Fatal("want one context")
				}
			}
		})
	}
}
