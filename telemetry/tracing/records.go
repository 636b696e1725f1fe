package tracing

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

var (
	buffers      = &bufferPool{}
	decompressor = kgo.DefaultDecompressor(buffers)
	w3c          = propagation.TraceContext{}
	errShort     = errors.New("record batch truncated")
)

// bufferPool reuses decompression buffers: scanning a traced write's
// batches must not allocate (and clear) a batch-sized buffer each time.
type bufferPool struct{ p sync.Pool }

var _ kgo.PoolDecompressBytes = (*bufferPool)(nil)

func (b *bufferPool) GetDecompressBytes([]byte, kgo.CompressionCodecType) []byte {
	if p, ok := b.p.Get().(*[]byte); ok {
		return *p
	}
	return nil
}

func (b *bufferPool) PutDecompressBytes(buf []byte) {
	buf = buf[:0]
	b.p.Put(&buf)
}

// recordsOffset is where records start in a magic-2 record batch.
const recordsOffset = 61

// ProducerContexts returns the distinct trace contexts that records in
// batches carry in W3C traceparent (and tracestate) headers, at most max.
// Batches are the already validated batches of a Produce request;
// compressed ones are decompressed. A malformed batch ends the scan of that
// batch without an error: links are best effort, and the batch itself was
// checked before it was accepted.
func ProducerContexts(batches [][]byte, max int) []trace.SpanContext {
	var out []trace.SpanContext
	seen := map[trace.SpanID]bool{}
	// Records of one producer span repeat the same header: each distinct
	// value is parsed once (a map lookup by string(bytes) does not
	// allocate).
	parsed := map[string]bool{}
	for _, b := range batches {
		if len(out) >= max {
			break
		}
		scanBatch(b, func(traceparent, tracestate []byte) bool {
			if parsed[string(traceparent)] {
				return true
			}
			parsed[string(traceparent)] = true
			carrier := propagation.MapCarrier{"traceparent": string(traceparent)}
			if tracestate != nil {
				carrier["tracestate"] = string(tracestate)
			}
			sc := trace.SpanContextFromContext(w3c.Extract(context.Background(), carrier))
			if sc.IsValid() && !seen[sc.SpanID()] {
				seen[sc.SpanID()] = true
				out = append(out, sc)
			}
			return len(out) < max
		})
	}
	return out
}

// scanBatch calls found for each record of the batch that has a traceparent
// header, until it returns false.
func scanBatch(b []byte, found func(traceparent, tracestate []byte) bool) {
	if len(b) < recordsOffset {
		return
	}
	codec := b[22] & 0x07 // low byte of the attributes
	count := int32(binary.BigEndian.Uint32(b[57:61]))
	recs := b[recordsOffset:]
	if codec != 0 {
		var err error
		if recs, err = decompressor.Decompress(recs, kgo.CompressionCodecType(codec)); err != nil {
			return
		}
		defer buffers.PutDecompressBytes(recs)
	}
	for i := int32(0); i < count && len(recs) > 0; i++ {
		length, n := binary.Varint(recs)
		if n <= 0 || length < 0 || int64(len(recs)-n) < length {
			return
		}
		rec := recs[n : n+int(length)]
		recs = recs[n+int(length):]
		tp, ts, err := traceHeaders(rec)
		if err != nil {
			return
		}
		if tp != nil && !found(tp, ts) {
			return
		}
	}
}

// traceHeaders reads one record (after its length) and returns its
// traceparent and tracestate header values, nil when absent.
func traceHeaders(r []byte) (traceparent, tracestate []byte, err error) {
	d := decoder{b: r}
	d.skip(1)       // attributes
	d.varint()      // timestamp delta
	d.varint()      // offset delta
	d.bytes()       // key
	d.bytes()       // value
	n := d.varint() // header count
	for i := int64(0); i < n && d.err == nil; i++ {
		k := d.bytes()
		v := d.bytes()
		switch string(k) {
		case "traceparent":
			traceparent = v
		case "tracestate":
			tracestate = v
		}
	}
	return traceparent, tracestate, d.err
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) skip(n int) {
	if d.err != nil {
		return
	}
	if len(d.b) < n {
		d.err = errShort
		return
	}
	d.b = d.b[n:]
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a varint-length-prefixed field; a negative length is null.
func (d *decoder) bytes() []byte {
	l := d.varint()
	if d.err != nil || l < 0 {
		return nil
	}
	if int64(len(d.b)) < l {
		d.err = errShort
		return nil
	}
	v := d.b[:l:l]
	d.b = d.b[l:]
	return v
}
