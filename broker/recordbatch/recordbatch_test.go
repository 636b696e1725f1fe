package recordbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// testBatch describes a record batch to build with kmsg, the way a producer
// would send it.
type testBatch struct {
	attrs      int16
	producerID int64
	epoch      int16
	baseSeq    int32
	firstTs    int64
	values     []string
	// lastOffsetDelta overrides the delta kmsg would carry when set.
	lastOffsetDelta *int32
}

// encode builds the batch: one record per value, timestamps one millisecond
// apart, CRC-32C over the bytes from attributes onward.
func (tb testBatch) encode() []byte {
	var records []byte
	for i, v := range tb.values {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // the body after a one-byte varint 0
		records = r.AppendTo(records)
	}
	n := int32(len(tb.values))
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		Attributes:           tb.attrs,
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       tb.firstTs,
		MaxTimestamp:         tb.firstTs + int64(max(n-1, 0)),
		ProducerID:           tb.producerID,
		ProducerEpoch:        tb.epoch,
		FirstSequence:        tb.baseSeq,
		NumRecords:           n,
		Records:              records,
	}
	if tb.lastOffsetDelta != nil {
		rb.LastOffsetDelta = *tb.lastOffsetDelta
	}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	rb.CRC = int32(crc32.Checksum(rb.AppendTo(nil)[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

func plainBatch(values ...string) []byte {
	return testBatch{producerID: -1, epoch: -1, baseSeq: -1, firstTs: 1_700_000_000_000, values: values}.encode()
}

func TestParse_ValidBatch_ReportsHeaderFields(t *testing.T) {
	b := testBatch{
		attrs:      0x20 | 3, // control batch, lz4
		producerID: 42,
		epoch:      3,
		baseSeq:    17,
		firstTs:    1_700_000_000_000,
		values:     []string{"a", "bb", "ccc"},
	}.encode()
	h, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	want := Header{
		Length:          len(b),
		LastOffsetDelta: 2,
		Attributes:      0x23,
		FirstTimestamp:  1_700_000_000_000,
		MaxTimestamp:    1_700_000_000_002,
		ProducerID:      42,
		ProducerEpoch:   3,
		BaseSequence:    17,
		RecordCount:     3,
	}
	if h != want {
		t.Fatalf("header:\n got %+v\nwant %+v", h, want)
	}
	if h.Compression() != 3 || !h.IsControl() {
		t.Fatalf("Compression()=%d IsControl()=%v, want 3 true", h.Compression(), h.IsControl())
	}
}

func TestParse_BatchFollowedByMoreBytes_LengthIsTheFirstBatchOnly(t *testing.T) {
	first := plainBatch("x")
	in := append(append([]byte(nil), first...), plainBatch("y", "z")...)
	h, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if h.Length != len(first) || h.RecordCount != 1 {
		t.Fatalf("Length %d RecordCount %d, want %d 1", h.Length, h.RecordCount, len(first))
	}
}

func TestParse_RejectsDamagedBatches(t *testing.T) {
	delta := func(d int32) *int32 { return &d }
	mutate := func(f func(b []byte) []byte) []byte { return f(plainBatch("one", "two")) }
	putLength := func(b []byte, n int32) []byte {
		binary.BigEndian.PutUint32(b[8:12], uint32(n))
		return b
	}
	tests := []struct {
		name   string
		in     []byte
		want   error
		reason string // what the message must name, so the right check fired
	}{
		{"empty input", nil, ErrCorrupt, "shorter than a batch header"},
		{"shorter than a header", plainBatch("v")[:HeaderSize-1], ErrCorrupt, "shorter than a batch header"},
		{"truncated record bytes", mutate(func(b []byte) []byte { return b[:len(b)-1] }), ErrCorrupt, "batch length"},
		{"flipped bit in a record value", mutate(func(b []byte) []byte { b[len(b)-2] ^= 0x01; return b }), ErrCorrupt, "CRC"},
		{"flipped bit in the producer id", mutate(func(b []byte) []byte { b[45] ^= 0x80; return b }), ErrCorrupt, "CRC"},
		{"wrong CRC field", mutate(func(b []byte) []byte { b[17]++; return b }), ErrCorrupt, "CRC"},
		{"magic 1", mutate(func(b []byte) []byte { b[16] = 1; return b }), ErrUnsupportedMagic, "magic"},
		{"magic 3", mutate(func(b []byte) []byte { b[16] = 3; return b }), ErrUnsupportedMagic, "magic"},
		{"length claims more than the input", mutate(func(b []byte) []byte { return putLength(b, int32(len(b))) }), ErrCorrupt, "batch length"},
		{"length claims less than a header", mutate(func(b []byte) []byte { return putLength(b, HeaderSize-13) }), ErrCorrupt, "batch length"},
		{"length shorter than the records", mutate(func(b []byte) []byte { return putLength(b, int32(len(b)-12-1)) }), ErrCorrupt, "CRC"},
		{"length longer, covering trailing bytes", mutate(func(b []byte) []byte {
			b = append(b, 0, 0, 0, 0)
			return putLength(b, int32(len(b)-12))
		}), ErrCorrupt, "CRC"},
		{"negative length", mutate(func(b []byte) []byte { return putLength(b, -1) }), ErrCorrupt, "batch length"},
		{"minimum int32 length", mutate(func(b []byte) []byte { return putLength(b, -1<<31) }), ErrCorrupt, "batch length"},
		{"zero records", testBatch{producerID: -1, values: nil}.encode(), ErrCorrupt, "records"},
		{"last offset delta below the record count", testBatch{producerID: -1, values: []string{"a", "b", "c"}, lastOffsetDelta: delta(1)}.encode(), ErrCorrupt, "records"},
		{"last offset delta above the record count", testBatch{producerID: -1, values: []string{"a"}, lastOffsetDelta: delta(5)}.encode(), ErrCorrupt, "records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse: got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("Parse: %q does not mention %q", err, tt.reason)
			}
		})
	}
}

func TestParse_CRCCoversAttributesNotLeaderEpochOrOffset(t *testing.T) {
	b := plainBatch("v")
	b[21] ^= 0x01 // attributes: inside the CRC
	if _, err := Parse(b); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("changed attributes: got %v, want ErrCorrupt", err)
	}
	b = plainBatch("v")
	SetBaseOffset(b, 1234)
	SetPartitionLeaderEpoch(b, 9)
	if _, err := Parse(b); err != nil {
		t.Fatalf("changed base offset and leader epoch: %v", err)
	}
}

func TestSetBaseOffset_KeepsBatchValidAndWritesOffset(t *testing.T) {
	b := plainBatch("a", "b")
	before, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1, 1 << 40, 1<<63 - 1} {
		SetBaseOffset(b, off)
		after, err := Parse(b)
		if err != nil {
			t.Fatalf("offset %d: Parse after SetBaseOffset: %v", off, err)
		}
		if after != before {
			t.Fatalf("offset %d: header changed: %+v -> %+v", off, before, after)
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatalf("kmsg cannot read the batch: %v", err)
		}
		if rb.FirstOffset != off {
			t.Fatalf("FirstOffset %d, want %d", rb.FirstOffset, off)
		}
	}
	SetPartitionLeaderEpoch(b, 7)
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil || rb.PartitionLeaderEpoch != 7 {
		t.Fatalf("PartitionLeaderEpoch %d (err %v), want 7", rb.PartitionLeaderEpoch, err)
	}
}

func TestSplit_ConcatenatedBatches_ReturnsEachInOrder(t *testing.T) {
	parts := [][]byte{plainBatch("a"), plainBatch("b", "c"), plainBatch("d", "e", "f")}
	var in []byte
	for _, p := range parts {
		in = append(in, p...)
	}
	batches, headers, err := Split(in)
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	if len(batches) != len(parts) || len(headers) != len(parts) {
		t.Fatalf("got %d batches, %d headers; want %d", len(batches), len(headers), len(parts))
	}
	for i := range parts {
		if !bytes.Equal(batches[i], parts[i]) {
			t.Errorf("batch %d differs from the one sent", i)
		}
		if headers[i].Length != len(parts[i]) || headers[i].RecordCount != int32(i+1) {
			t.Errorf("header %d: Length %d RecordCount %d", i, headers[i].Length, headers[i].RecordCount)
		}
	}
}

func TestSplit_RejectsEmptyInputAndAnyBadBatch(t *testing.T) {
	good := plainBatch("a")
	bad := plainBatch("b")
	bad[len(bad)-1] ^= 0xff
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"no bytes", nil, ErrCorrupt},
		{"bad second batch", append(append([]byte(nil), good...), bad...), ErrCorrupt},
		{"trailing partial batch", append(append([]byte(nil), good...), good[:30]...), ErrCorrupt},
		{"old magic second batch", append(append([]byte(nil), good...), func() []byte { b := plainBatch("c"); b[16] = 1; return b }()...), ErrUnsupportedMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batches, headers, err := Split(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Split: got %v, want %v", err, tt.want)
			}
			if batches != nil || headers != nil {
				t.Fatalf("Split returned %d batches with an error", len(batches))
			}
		})
	}
}
