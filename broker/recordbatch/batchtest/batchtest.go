// Package batchtest builds Kafka record batches for tests, as a producer
// sends them, so packages that store or serve batches test with real ones.
package batchtest

import (
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Build returns a magic-2 record batch with kmsg: one record per value, base
// offset 0, timestamps firstTs, firstTs+1, ..., and the length and CRC-32C a
// producer fills in. producerID -1 makes a plain (non-idempotent) batch.
func Build(producerID int64, epoch int16, baseSeq int32, firstTs int64, values ...string) []byte {
	var records []byte
	for i, v := range values {
		r := kmsg.Record{TimestampDelta64: int64(i), OffsetDelta: int32(i), Value: []byte(v)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // body after its one-byte varint 0
		records = r.AppendTo(records)
	}
	n := int32(len(values))
	rb := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      n - 1,
		FirstTimestamp:       firstTs,
		MaxTimestamp:         firstTs + int64(max(n-1, 0)),
		ProducerID:           producerID,
		ProducerEpoch:        epoch,
		FirstSequence:        baseSeq,
		NumRecords:           n,
		Records:              records,
	}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	rb.CRC = int32(crc32.Checksum(rb.AppendTo(nil)[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

// Plain is a non-idempotent batch whose first record is stamped firstTs.
func Plain(firstTs int64, values ...string) []byte { return Build(-1, -1, -1, firstTs, values...) }
