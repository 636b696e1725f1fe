package recordscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// codecs are the compressions a producer may use, by their attribute bits;
// xerial is snappy as Java's producer frames it.
var codecs = []struct {
	name  string
	codec int16
}{
	{"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}, {"xerial", -2},
}

// rec is one record to build: its timestamp delta and value.
type rec struct {
	tsDelta int64
	value   string
}

// build returns a magic-2 batch as served at base offset base: records with
// the given timestamp deltas from firstTs and consecutive offset deltas,
// compressed with codec (-2: snappy in xerial framing), with attrs or'ed
// into its attributes.
func build(t testing.TB, codec int16, base, firstTs int64, attrs int16, recs ...rec) []byte {
	t.Helper()
	var raw []byte
	maxTs := firstTs
	for i, r := range recs {
		kr := kmsg.Record{TimestampDelta64: r.tsDelta, OffsetDelta: int32(i), Value: []byte(r.value)}
		kr.Length = int32(len(kr.AppendTo(nil)) - 1)
		raw = kr.AppendTo(raw)
		maxTs = max(maxTs, firstTs+r.tsDelta)
	}
	records := compress(t, codec, raw)
	if codec == -2 {
		codec = 2
	}
	rb := kmsg.RecordBatch{
		FirstOffset: base, PartitionLeaderEpoch: -1, Magic: 2, Attributes: codec | attrs,
		LastOffsetDelta: int32(len(recs) - 1), FirstTimestamp: firstTs, MaxTimestamp: maxTs,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(len(recs)), Records: records,
	}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	rb.CRC = int32(crc32.Checksum(rb.AppendTo(nil)[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

func compress(t testing.TB, codec int16, raw []byte) []byte {
	t.Helper()
	switch codec {
	case 0:
		return raw
	case -2: // snappy-java's framing: a header, then length-prefixed blocks of 32 KiB at most
		out := append([]byte(nil), xerialMagic...)
		out = binary.BigEndian.AppendUint32(out, 1)
		out = binary.BigEndian.AppendUint32(out, 1)
		for len(raw) > 0 {
			n := min(len(raw), 32<<10)
			block := s2.EncodeSnappy(nil, raw[:n])
			out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
			out = append(out, block...)
			raw = raw[n:]
		}
		return out
	}
	c, err := kgo.DefaultCompressor(kgo.CompressionCodec{}.WithLevel(0))
	switch codec {
	case 1:
		c, err = kgo.DefaultCompressor(kgo.GzipCompression())
	case 2:
		c, err = kgo.DefaultCompressor(kgo.SnappyCompression())
	case 3:
		c, err = kgo.DefaultCompressor(kgo.Lz4Compression())
	case 4:
		c, err = kgo.DefaultCompressor(kgo.ZstdCompression())
	}
	if err != nil {
		t.Fatal(err)
	}
	out, used := c.Compress(new(bytes.Buffer), raw)
	if int16(used) != codec {
		t.Fatalf("compressed with codec %d, want %d", used, codec)
	}
	return bytes.Clone(out)
}

// Five records at offsets 100-104 whose timestamps go back and forth, with a
// value large enough that compression spans more than one xerial block.
func fiveRecords(t testing.TB, codec int16, attrs int16) []byte {
	big := strings.Repeat("0123456789", 5000)
	return build(t, codec, 100, 1000, attrs, rec{0, "a"}, rec{5, big}, rec{3, "c"}, rec{10, big}, rec{20, "e"})
}

// The first record at or after a timestamp and at or after an offset, with
// its own timestamp, whatever the codec: Kafka's answer to ListOffsets.
func TestFirstAtOrAfter_EveryCodec_FirstRecordAtOrAfterBoth(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			b := fiveRecords(t, c.codec, 0)
			for _, tc := range []struct {
				ts, minOffset int64
				offset, stamp int64 // -1: none
			}{
				{0, 0, 100, 1000},
				{1000, 100, 100, 1000},
				{1001, 0, 101, 1005},
				{1004, 0, 101, 1005},
				{1004, 102, 103, 1010}, // 102 is at 1003: too early
				{1003, 102, 102, 1003},
				{1011, 0, 104, 1020},
				{1020, 0, 104, 1020},
				{1021, 0, -1, -1}, // after every record
				{0, 105, -1, -1},  // past the batch
				{0, 50, 100, 1000},
			} {
				off, ts, ok, err := FirstAtOrAfter(b, tc.ts, tc.minOffset)
				if err != nil || ok != (tc.offset >= 0) || (ok && (off != tc.offset || ts != tc.stamp)) {
					t.Errorf("FirstAtOrAfter(ts %d, offset %d) = %d, %d, %v, %v; want %d, %d", tc.ts, tc.minOffset, off, ts, ok, err, tc.offset, tc.stamp)
				}
			}
		})
	}
}

// In a LogAppendTime batch every record carries the batch's max timestamp.
// The first record with the largest timestamp at or after an offset:
// ListOffsets' MAX_TIMESTAMP within a batch the log start cuts into.
func TestMaxAtOrAfter_EveryCodec(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			b := build(t, c.codec, 100, 1000, 0, rec{0, "a"}, rec{20, "b"}, rec{3, "c"}, rec{20, "d"}, rec{5, "e"})
			for _, tc := range []struct {
				minOffset     int64
				offset, stamp int64 // -1: none
			}{{0, 101, 1020}, {102, 103, 1020}, {104, 104, 1005}, {105, -1, -1}} {
				off, ts, ok, err := MaxAtOrAfter(b, tc.minOffset)
				if err != nil || ok != (tc.offset >= 0) || (ok && (off != tc.offset || ts != tc.stamp)) {
					t.Errorf("MaxAtOrAfter(%d) = %d, %d, %v, %v; want %d, %d", tc.minOffset, off, ts, ok, err, tc.offset, tc.stamp)
				}
			}
		})
	}
}

func TestFirstAtOrAfter_LogAppendTime_EveryRecordAtTheMaxTimestamp(t *testing.T) {
	b := fiveRecords(t, 0, attrLogAppendTime)
	if off, ts, ok, err := FirstAtOrAfter(b, 1004, 0); err != nil || !ok || off != 100 || ts != 1020 {
		t.Fatalf("= %d, %d, %v, %v; want 100 at 1020", off, ts, ok, err)
	}
	if off, ts, ok, err := FirstAtOrAfter(b, 0, 103); err != nil || !ok || off != 103 || ts != 1020 {
		t.Fatalf("from offset 103: %d, %d, %v, %v; want 103 at 1020", off, ts, ok, err)
	}
}

// Bytes that do not parse are an error, never a panic or a wrong record.
func TestFirstAtOrAfter_BadRecords_Errors(t *testing.T) {
	good := fiveRecords(t, 0, 0)
	withRecords := func(b []byte, records []byte, edit func(rb *kmsg.RecordBatch)) []byte {
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b); err != nil {
			t.Fatal(err)
		}
		if records != nil {
			rb.Records = records
		}
		if edit != nil {
			edit(&rb)
		}
		rb.Length = int32(len(rb.AppendTo(nil)) - 12)
		return rb.AppendTo(nil)
	}
	varint := func(v int64) []byte { return binary.AppendVarint(nil, v) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name  string
		batch []byte
		want  error
	}{
		{"records cut short", withRecords(good, []byte{0x10, 0}, nil), ErrCorrupt},
		{"a length shorter than the fixed fields", withRecords(good, cat(varint(1), []byte{0}, varint(7), varint(0)), nil), ErrCorrupt},
		{"a negative length", withRecords(good, cat(varint(-5), []byte{0}, varint(0), varint(0)), nil), ErrCorrupt},
		{"an offset delta past the batch", withRecords(good, cat(varint(3), []byte{0}, varint(0), varint(9)), nil), ErrCorrupt},
		{"a negative offset delta", withRecords(good, cat(varint(3), []byte{0}, varint(0), varint(-1)), nil), ErrCorrupt},
		{"a varint too long", withRecords(good, bytes.Repeat([]byte{0xff}, 12), nil), ErrCorrupt},
		{"a huge length", withRecords(good, cat(varint(1<<40), []byte{0}, varint(0), varint(0)), nil), ErrCorrupt},
		{"fewer records than counted", withRecords(good, cat(varint(3), []byte{0}, varint(0), varint(0)), nil), nil},
		{"codec 5", withRecords(good, nil, func(rb *kmsg.RecordBatch) { rb.Attributes |= 5 }), ErrCorrupt},
		{"gzip that is not", withRecords(good, nil, func(rb *kmsg.RecordBatch) { rb.Attributes |= 1 }), ErrCorrupt},
		{"snappy that is not", withRecords(good, []byte{0x05, 0xff, 0xff}, func(rb *kmsg.RecordBatch) { rb.Attributes |= 2 }), ErrCorrupt},
		{"lz4 that is not", withRecords(good, nil, func(rb *kmsg.RecordBatch) { rb.Attributes |= 3 }), ErrCorrupt},
		{"zstd that is not", withRecords(good, nil, func(rb *kmsg.RecordBatch) { rb.Attributes |= 4 }), ErrCorrupt},
		{"a header cut short", good[:40], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The last record's timestamp, so the scan reads on.
			off, _, ok, err := FirstAtOrAfter(tc.batch, 1020, 0)
			if tc.want == nil {
				if ok {
					t.Fatalf("found offset %d in a bad batch", off)
				}
				if tc.name == "a header cut short" && err == nil {
					t.Fatal("no error for a header cut short")
				}
				return
			}
			if !errors.Is(err, tc.want) || ok {
				t.Fatalf("= %d, %v, %v; want %v", off, ok, err, tc.want)
			}
		})
	}
}

// A small batch that decompresses to more than the scan reads through is
// ErrTooLarge, after reading at most that bound.
func TestFirstAtOrAfter_DecompressesPastTheBound_ErrTooLarge(t *testing.T) {
	// One record whose value is 300 MiB of one byte, streamed into zstd,
	// which stores it in a few KiB; a second record is never reached.
	size := int64(maxRecordBytes + 44<<20)
	head := binary.AppendVarint(nil, 1+1+1+1+int64(len(binary.AppendVarint(nil, size)))+size+1) // length
	head = append(head, 0)                                                                      // attributes
	head = binary.AppendVarint(head, 0)                                                         // timestamp delta
	head = binary.AppendVarint(head, 0)                                                         // offset delta
	head = binary.AppendVarint(head, -1)                                                        // no key
	head = binary.AppendVarint(head, size)                                                      // value length
	var small bytes.Buffer
	zw, err := zstd.NewWriter(&small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(zw, io.MultiReader(bytes.NewReader(head), io.LimitReader(repeated('z'), size), bytes.NewReader([]byte{0}))); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	rb := kmsg.RecordBatch{Magic: 2, Attributes: 4, LastOffsetDelta: 1, FirstTimestamp: 1000, MaxTimestamp: 2000,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 2, Records: small.Bytes()}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	b := rb.AppendTo(nil)
	if len(b) > 1<<20 {
		t.Fatalf("setup: the batch is %d bytes", len(b))
	}
	if _, _, ok, err := FirstAtOrAfter(b, 2000, 0); !errors.Is(err, ErrTooLarge) || ok {
		t.Fatalf("= %v, %v; want ErrTooLarge", ok, err)
	}
}

// repeated is an endless reader of one byte.
type repeated byte

func (r repeated) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

// A batch of 1000 records of 1 KiB (about 1 MiB), scanned to its last
// record: the cost of a timestamp lookup that reads a whole batch.
func BenchmarkFirstAtOrAfter_LastRecordOf1MiB(b *testing.B) {
	recs := make([]rec, 1000)
	for i := range recs {
		recs[i] = rec{int64(i), strings.Repeat(string(rune('a'+i%26)), 1024)}
	}
	for _, c := range codecs {
		batch := build(b, c.codec, 0, 1000, 0, recs...)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(1000 * 1024)
			b.ReportAllocs()
			for b.Loop() {
				if off, _, ok, err := FirstAtOrAfter(batch, 1999, 0); err != nil || !ok || off != 999 {
					b.Fatalf("= %d, %v, %v", off, ok, err)
				}
			}
		})
	}
}
