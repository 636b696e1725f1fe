package seglog

import (
	"encoding/binary"
	"fmt"
	"math"
)

// headerSize is the fixed header of a magic-2 record batch.
const headerSize = 61

// batchHeader is what the log reads from a stored batch's header.
type batchHeader struct {
	base   int64 // base offset, as written in by Append
	length int64 // the whole batch, header included
	last   int64 // last offset
	maxTs  int64
	crc    uint32 // CRC-32C of the bytes from the attributes on
}

// parseHeader reads the header at the start of b (at least headerSize bytes)
// and checks what the header alone can show: a length of at least a header,
// magic 2, a record count that agrees with the last offset delta. The length
// against the file and the CRC are the caller's to check.
func parseHeader(b []byte) (batchHeader, error) {
	h := batchHeader{
		base:   int64(binary.BigEndian.Uint64(b[0:8])),
		length: int64(int32(binary.BigEndian.Uint32(b[8:12]))) + 12,
		crc:    binary.BigEndian.Uint32(b[17:21]),
		maxTs:  int64(binary.BigEndian.Uint64(b[35:43])),
	}
	if h.length < headerSize {
		return h, fmt.Errorf("batch length %d is shorter than a header", h.length)
	}
	if magic := b[16]; magic != 2 {
		return h, fmt.Errorf("magic %d, want 2", magic)
	}
	delta := int32(binary.BigEndian.Uint32(b[23:27]))
	count := int32(binary.BigEndian.Uint32(b[57:61]))
	if count <= 0 || delta != count-1 {
		return h, fmt.Errorf("%d records with last offset delta %d", count, delta)
	}
	if h.base < 0 || h.base > math.MaxInt64-int64(delta) {
		return h, fmt.Errorf("base offset %d", h.base)
	}
	h.last = h.base + int64(delta)
	return h, nil
}
