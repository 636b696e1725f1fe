package raftcluster

import (
	"bytes"
	"hash/crc32"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/fsm"
)

// stampedBatch builds a batch whose records are stamped firstTs plus each
// delta, compressed with codec as a producer would (nil: none); records, when
// set, replace the encoded records (a producer's bytes that do not parse).
func stampedBatch(t *testing.T, codec *kgo.CompressionCodec, firstTs int64, records []byte, deltas ...int64) []byte {
	t.Helper()
	var raw []byte
	maxTs := firstTs
	for i, d := range deltas {
		r := kmsg.Record{TimestampDelta64: d, OffsetDelta: int32(i), Value: bytes.Repeat([]byte("v"), 100)}
		r.Length = int32(len(r.AppendTo(nil)) - 1)
		raw = r.AppendTo(raw)
		maxTs = max(maxTs, firstTs+d)
	}
	var attrs int16
	if codec != nil {
		c, err := kgo.DefaultCompressor(*codec)
		if err != nil {
			t.Fatal(err)
		}
		out, used := c.Compress(new(bytes.Buffer), raw)
		raw, attrs = bytes.Clone(out), int16(used)
	}
	if records != nil {
		raw = records
	}
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, Attributes: attrs, LastOffsetDelta: int32(len(deltas) - 1),
		FirstTimestamp: firstTs, MaxTimestamp: maxTs, ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(len(deltas)), Records: raw}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	rb.CRC = int32(crc32.Checksum(rb.AppendTo(nil)[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

// ListOffsets by timestamp answers a record, as Kafka does: the first at or
// after the log start offset whose timestamp reaches the target, with its
// own timestamp, inside compressed batches too. After DeleteRecords moved
// the start inside a batch, the records below it are passed over, into the
// next batch when none of the rest qualifies. A batch whose records do not
// parse is answered from its header.
func TestPartition_OffsetForTimestamp_RecordPrecise(t *testing.T) {
	zstd, gzip := kgo.ZstdCompression(), kgo.GzipCompression()
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			b3 := stampedBatch(t, nil, 4000, bytes.Repeat([]byte{0xff}, 20), 0) // records that do not parse
			s := st.open(t)
			p := partitionWithState(t, s,
				stampedBatch(t, &zstd, 1000, nil, 0, 10, 5), // offsets 0-2 at 1000, 1010, 1005
				stampedBatch(t, &gzip, 2000, nil, 0, 50),    // 3-4 at 2000, 2050
				stampedBatch(t, nil, 3000, nil, 0),          // 5 at 3000
				b3,                                          // 6, max timestamp 4000
			)
			check := func(what string, cases map[int64][2]int64) {
				t.Helper()
				for ts, want := range cases {
					off, stamp, ok, err := p.OffsetForTimestamp(ts)
					if err != nil {
						t.Fatalf("%s: OffsetForTimestamp(%d): %v", what, ts, err)
					}
					if off != want[0] || stamp != want[1] || ok != (want[0] >= 0) {
						t.Errorf("%s: OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", what, ts, off, stamp, ok, want[0], want[1])
					}
				}
			}
			check("whole log", map[int64][2]int64{
				0: {0, 1000}, 1000: {0, 1000}, 1001: {1, 1010}, 1006: {1, 1010}, 1010: {1, 1010},
				1011: {3, 2000}, 2001: {4, 2050}, 2051: {5, 3000}, 3001: {6, 4000}, 4000: {6, 4000}, 4001: {-1, -1},
			})
			res := s.ApplyCommand(99, fsm.Command{Op: fsm.OpDeleteRecords, TimeMs: 1, Records: &fsm.DeleteRecords{Partitions: []fsm.DeleteRecordsPartition{{Topic: "t", Offset: 2}}}})
			if err := res.Partitions[0].Err; err != nil {
				t.Fatal(err)
			}
			check("from offset 2", map[int64][2]int64{
				0: {2, 1005}, 1005: {2, 1005},
				1006: {3, 2000}, // 1010 is at offset 1, deleted: the next batch answers
				2001: {4, 2050},
			})
		})
	}
}

// partitionWithState is partitionWith on a state the caller keeps.
func partitionWithState(t *testing.T, s *fsm.State, batches ...[]byte) partition {
	t.Helper()
	p := partitionWith(t, func(*testing.T) *fsm.State { return s }, batches...)
	return p.(partition)
}

// MAX_TIMESTAMP is the first record with the largest timestamp at or after
// the log start offset, also when DeleteRecords moved the start past it
// inside its batch (and segment).
func TestPartition_MaxTimestamp(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			s := st.open(t)
			if res := s.ApplyCommand(1, fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: "t", Partitions: 1}}); res.Err != nil {
				t.Fatal(res.Err)
			}
			p, err := NewView(s).Partition("t", 0)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what string, wantOff, wantTs int64) {
				t.Helper()
				off, ts, ok, err := p.MaxTimestamp()
				if err != nil || off != wantOff || ts != wantTs || ok != (wantOff >= 0) {
					t.Errorf("%s: %d at %d (%v, %v); want %d at %d", what, off, ts, ok, err, wantOff, wantTs)
				}
			}
			check("empty", -1, -1)
			index := uint64(1)
			for _, b := range [][]byte{stampedBatch(t, nil, 100, nil, 0, 400, 100, 400), stampedBatch(t, nil, 300, nil, 0, 100)} { // offsets 0-3, 4-5
				index++
				if res := s.ApplyCommand(index, fsm.Command{Op: fsm.OpProduce, TimeMs: 1, Produce: []fsm.ProducePartition{{Topic: "t", Batches: [][]byte{b}}}}); res.Partitions[0].Err != nil {
					t.Fatal(res.Partitions[0].Err)
				}
			}
			check("two batches", 1, 500)
			del := func(offset int64) {
				index++
				if res := s.ApplyCommand(index, fsm.Command{Op: fsm.OpDeleteRecords, TimeMs: 1, Records: &fsm.DeleteRecords{Partitions: []fsm.DeleteRecordsPartition{{Topic: "t", Offset: offset}}}}); res.Partitions[0].Err != nil {
					t.Fatal(res.Partitions[0].Err)
				}
			}
			del(2)
			check("start past the first 500", 3, 500)
			del(4)
			check("start past both 500s, in their batch", 5, 400)
		})
	}
}
