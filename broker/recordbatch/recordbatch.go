// Package recordbatch reads the fixed header of Kafka record batches (magic 2)
// as they arrive in Produce requests: it splits a request's records into
// batches, checks each one's length, magic and CRC-32C, and rewrites the base
// offset when the FSM assigns offsets. Records inside a batch are never
// decoded here: raftline stores and serves batches as the producer sent them,
// compressed or not.
package recordbatch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the size of a magic-2 record batch header.
const HeaderSize = 61

// Sentinel errors, mapped to Kafka error codes by the protocol layer.
var (
	ErrCorrupt          = errors.New("corrupt record batch")
	ErrUnsupportedMagic = errors.New("unsupported record batch magic")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the part of a batch header raftline acts on.
type Header struct {
	Length          int // whole batch size in bytes, header included
	LastOffsetDelta int32
	Attributes      int16
	FirstTimestamp  int64
	MaxTimestamp    int64
	ProducerID      int64
	ProducerEpoch   int16
	BaseSequence    int32
	RecordCount     int32
}

// Compression reports the batch's compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
func (h Header) Compression() int { return int(h.Attributes & 0x07) }

// IsControl reports whether the batch is a transaction control batch.
func (h Header) IsControl() bool { return h.Attributes&0x20 != 0 }

// Parse reads and checks the batch at the start of b: its length fits in b,
// its magic is 2, its record count agrees with its offset delta, and its CRC
// matches.
func Parse(b []byte) (Header, error) {
	h, err := ParseHeader(b)
	if err != nil {
		return h, err
	}
	if crc := binary.BigEndian.Uint32(b[17:21]); crc != crc32.Checksum(b[21:h.Length], castagnoli) {
		return h, fmt.Errorf("%w: CRC mismatch", ErrCorrupt)
	}
	return h, nil
}

// ParseHeader is Parse without the CRC check, for batches whose CRC was
// already checked when they arrived (the FSM applying a leader's entry, a
// fetch counting stored records).
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorrupt, len(b))
	}
	length := int64(int32(binary.BigEndian.Uint32(b[8:12]))) + 12
	if length < HeaderSize || length > int64(len(b)) {
		return h, fmt.Errorf("%w: batch length %d outside 61..%d", ErrCorrupt, length, len(b))
	}
	if magic := b[16]; magic != 2 {
		return h, fmt.Errorf("%w: %d", ErrUnsupportedMagic, magic)
	}
	h.Length = int(length)
	h.Attributes = int16(binary.BigEndian.Uint16(b[21:23]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[23:27]))
	h.FirstTimestamp = int64(binary.BigEndian.Uint64(b[27:35]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[35:43]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[43:51]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[51:53]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[53:57]))
	h.RecordCount = int32(binary.BigEndian.Uint32(b[57:61]))
	if h.RecordCount <= 0 || h.LastOffsetDelta != h.RecordCount-1 {
		return h, fmt.Errorf("%w: %d records with last offset delta %d", ErrCorrupt, h.RecordCount, h.LastOffsetDelta)
	}
	return h, nil
}

// Split parses every batch in a Produce request's records field.
func Split(records []byte) ([][]byte, []Header, error) {
	var batches [][]byte
	var headers []Header
	for len(records) > 0 {
		h, err := Parse(records)
		if err != nil {
			return nil, nil, err
		}
		batches = append(batches, records[:h.Length])
		headers = append(headers, h)
		records = records[h.Length:]
	}
	if len(batches) == 0 {
		return nil, nil, fmt.Errorf("%w: no record batch", ErrCorrupt)
	}
	return batches, headers, nil
}

// SetBaseOffset writes the batch's base offset. The offset is outside the CRC,
// so the batch stays valid.
func SetBaseOffset(b []byte, offset int64) { binary.BigEndian.PutUint64(b[0:8], uint64(offset)) }

// SetPartitionLeaderEpoch writes the leader epoch field, also outside the CRC.
func SetPartitionLeaderEpoch(b []byte, epoch int32) {
	binary.BigEndian.PutUint32(b[12:16], uint32(epoch))
}
