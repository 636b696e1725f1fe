package tracing

import (
	"go.opentelemetry.io/otel/trace"
)

// A traced Raft entry carries its trace context in raft.Log.Extensions:
//
//	byte 0      format, extTraceContext (1)
//	bytes 1-16  trace id
//	bytes 17-24 span id of the propose span, the parent of the entry's
//	            replicate, commit and apply spans
//	byte 25     trace flags
//
// Formats are only ever added; a reader ignores a format it does not know,
// so an entry written by a newer version applies untraced, never fails.
const (
	extTraceContext = 1
	extLen          = 1 + 16 + 8 + 1
)

// EncodeContext returns the Extensions bytes carrying sc.
func EncodeContext(sc trace.SpanContext) []byte {
	b := make([]byte, extLen)
	b[0] = extTraceContext
	tid, sid := sc.TraceID(), sc.SpanID()
	copy(b[1:17], tid[:])
	copy(b[17:25], sid[:])
	b[25] = byte(sc.TraceFlags())
	return b
}

// DecodeContext reads the trace context of an entry's Extensions; ok is
// false when they carry none (empty, another format, or malformed).
func DecodeContext(b []byte) (sc trace.SpanContext, ok bool) {
	if len(b) < extLen || b[0] != extTraceContext {
		return sc, false
	}
	var tid trace.TraceID
	var sid trace.SpanID
	copy(tid[:], b[1:17])
	copy(sid[:], b[17:25])
	sc = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: tid, SpanID: sid, TraceFlags: trace.TraceFlags(b[25]), Remote: true,
	})
	return sc, sc.IsValid()
}
