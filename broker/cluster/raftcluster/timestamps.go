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
