package raftcluster

import (
	"encoding/binary"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/recordbatch"
	"github.com/raftline/raftline/broker/recordbatch/recordscan"
)

// timestampReadBytes is how much of the log one read brings in while the
// first record at or after a timestamp is looked for past the batch the
// store found.
const timestampReadBytes = 1 << 20

// offsetForTimestamp is Kafka's answer to ListOffsets for a timestamp
// (UnifiedLog.fetchOffsetByTimestamp): the first record at or after the log
// start offset whose timestamp is at least ts, its offset and its timestamp.
//
// The store finds the first batch whose max timestamp reaches ts (from its
// time index on disk); no earlier record can. That batch's records are read
// (recordscan, decompressing it if need be) for the first that qualifies.
// None may, when DeleteRecords moved the start past its late records or its
// header's max timestamp is not one of its records': then the batches after
// it are read in turn. A batch whose records cannot be read (damaged, or
// past recordscan's bounds) is answered from its header, at batch
// precision: its first offset at or after the start, and its max
// timestamp. A read that fails is the store's error.
func offsetForTimestamp(log fsm.PartitionLog, ts int64) (offset, timestamp int64, ok bool, err error) {
	from, _, found, err := log.OffsetForTimestamp(ts)
	if err != nil || !found {
		return -1, -1, false, err
	}
	start, _ := log.Offsets()
	var buf []byte
	for {
		buf, err = log.AppendBatches(buf[:0], from, timestampReadBytes)
		if err != nil || len(buf) == 0 {
			return -1, -1, false, err
		}
		for data := buf; len(data) > 0; {
			h, err := recordbatch.ParseHeader(data)
			if err != nil {
				// The store checks every batch it serves.
				return -1, -1, false, err
			}
			b := data[:h.Length]
			base := int64(binary.BigEndian.Uint64(b))
			off, recTs, found, err := recordscan.FirstAtOrAfter(b, ts, start)
			switch {
			case found:
				return off, recTs, true, nil
			case err != nil && h.MaxTimestamp >= ts:
				return max(base, start), h.MaxTimestamp, true, nil
			}
			from = base + int64(h.LastOffsetDelta) + 1
			data = data[h.Length:]
		}
	}
}

// maxTimestamp is Kafka's answer to ListOffsets for MAX_TIMESTAMP: the
// first record at or after the log start offset with the largest
// timestamp. The store knows the largest batch max timestamp (per segment
// on disk), and offsetForTimestamp finds its first record. When that record
// is below the log start offset (DeleteRecords moved the start into its
// batch), the largest is among the rest, which are read from the start:
// the batch holding the start record by record, the others by their
// headers, reading a batch's records only when its header beats the best so
// far. That is a scan of the partition, for a case only DeleteRecords makes.
func maxTimestamp(log fsm.PartitionLog) (offset, timestamp int64, ok bool, err error) {
	ts, found, err := log.MaxTimestamp()
	if err != nil || !found {
		return -1, -1, false, err
	}
	if offset, timestamp, ok, err = offsetForTimestamp(log, ts); err != nil || ok {
		return offset, timestamp, ok, err
	}
	start, _ := log.Offsets()
	offset, timestamp = -1, -1
	var buf []byte
	for from := start; ; {
		buf, err = log.AppendBatches(buf[:0], from, timestampReadBytes)
		if err != nil || len(buf) == 0 {
			return offset, timestamp, ok, err
		}
		for data := buf; len(data) > 0; {
			h, err := recordbatch.ParseHeader(data)
			if err != nil {
				return -1, -1, false, err
			}
			b := data[:h.Length]
			base := int64(binary.BigEndian.Uint64(b))
			if ok && h.MaxTimestamp <= timestamp {
				// This batch cannot beat the best: skip its records.
			} else if off, recTs, found, serr := recordscan.MaxAtOrAfter(b, start); found && (!ok || recTs > timestamp) {
				offset, timestamp, ok = off, recTs, true
			} else if serr != nil && h.MaxTimestamp >= 0 && (!ok || h.MaxTimestamp > timestamp) {
				// Records that cannot be read: the header's answer.
				offset, timestamp, ok = max(base, start), h.MaxTimestamp, true
			}
			from = base + int64(h.LastOffsetDelta) + 1
			data = data[h.Length:]
		}
	}
}
