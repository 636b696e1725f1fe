package seglog

import (
	"encoding/binary"
	"io"
)

// Index files keep Kafka's entry layouts, big-endian, relative to the
// segment's base offset:
//
//	.index       u32 relative offset, u32 file position        (8 bytes)
//	.timeindex   i64 max timestamp so far, u32 relative offset (12 bytes)
//	.appendtime  i64 max append time so far, u32 relative offset (12 bytes)
//
// The offset index is sparse: one entry for the batch that starts after more
// than IndexIntervalBytes since the previous entry (the first batch needs none:
// it is at position 0). Its offset is the batch's base offset, so a lookup
// lands on the batch itself. The time index gets an entry at the same points
// when the largest timestamp grew, naming the batch that holds it, and a final
// one when the segment is rolled or synced. The append-time index gets an
// entry for every batch whose append time is later than every earlier one in
// the segment, so it holds the segment's first and largest append time and
// the largest of any prefix exactly: retention, segment.ms and truncation
// read it, and it cannot be rebuilt from the log.
const (
	indexEntrySize = 8
	timeEntrySize  = 12
)

func putIndexEntry(b []byte, rel uint32, pos uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, rel)
	return binary.BigEndian.AppendUint32(b, pos)
}

func putTimeEntry(b []byte, ts int64, rel uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	return binary.BigEndian.AppendUint32(b, rel)
}

func indexEntry(b []byte) (rel uint32, pos uint32) {
	return binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8])
}

func timeEntry(b []byte) (ts int64, rel uint32) {
	return int64(binary.BigEndian.Uint64(b[0:8])), binary.BigEndian.Uint32(b[8:12])
}

// searchIndex returns the slot of the last entry among the first n entries of
// size entrySize in r whose key is at most target, with the entry's bytes, or
// slot -1 when the first entry's key is already above target. It binary
// searches with positioned reads, one entry per probe, so only the entries it
// touches are read (from the page cache). Keys are in increasing order in a
// sound index; in a damaged one the slot returned still has a key at most
// target (every slot the search moves past was read and compared), so a
// caller that checks the batch at the entry's position is never misled.
func searchIndex(r io.ReaderAt, n int64, entrySize int, key func([]byte) int64, target int64) (int64, []byte, error) {
	buf := make([]byte, entrySize)
	read := func(i int64) error {
		_, err := r.ReadAt(buf, i*int64(entrySize))
		return err
	}
	lo, hi := int64(0), n // the answer is the last slot below hi
	for lo < hi {
		mid := lo + (hi-lo)/2
		if err := read(mid); err != nil {
			return 0, nil, err
		}
		if key(buf) <= target {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	slot := lo - 1
	if slot < 0 {
		return -1, nil, nil
	}
	if err := read(slot); err != nil {
		return 0, nil, err
	}
	return slot, buf, nil
}

func offsetKey(b []byte) int64 { return int64(binary.BigEndian.Uint32(b[0:4])) }

func timeKey(b []byte) int64 { return int64(binary.BigEndian.Uint64(b[0:8])) }
