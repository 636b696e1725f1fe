// Package recordscan reads the records inside a stored record batch, one at
// a time, for the one question the broker asks of them: which is the first
// record at or after a timestamp (ListOffsets). Kafka answers it with a
// record's offset and timestamp, not a batch's, so a batch's records must be
// read, decompressing the batch when its producer compressed it.
//
// Only what the answer needs is decoded: each record's length, timestamp
// delta and offset delta; its key, value and headers are skipped. A
// compressed batch is decompressed as a stream, never into one buffer, so a
// small batch that decompresses to gigabytes costs what its codec's window
// costs (bounded below), not what it decompresses to. Batches are the
// producer's bytes, checked only by their CRC: anything that does not parse
// is an error, never a panic or a wrong answer.
//
// raftline stores and serves batches without decoding records
// (broker/recordbatch); this package is the exception, used only by
// timestamp lookups.
package recordscan

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"

	"github.com/raftline/raftline/broker/recordbatch"
)

// Bounds on what decompressing one batch may hold in memory. Producers'
// defaults stay far below them (zstd windows of 8 MiB or less, snappy blocks
// of one batch or 32 KiB); a batch past them is an error, and the caller
// answers from the batch's header instead.
const (
	// maxZstdWindow bounds a zstd frame's window, the memory its
	// streaming decoder holds.
	maxZstdWindow = 16 << 20
	// maxSnappyBlock bounds one snappy block decoded whole: a raw snappy
	// batch (franz-go, librdkafka) is one block, a Java producer's
	// (xerial framing) one per 32 KiB.
	maxSnappyBlock = 16 << 20
	// maxRecordBytes bounds the record bytes read through for one batch,
	// so that a small batch decompressing to gigabytes costs a bounded
	// time too (franz-go's consumers refuse batches past 1 GiB).
	maxRecordBytes = 256 << 20
)

// Errors: a batch whose records do not parse, and one past the bounds above.
var (
	ErrCorrupt  = errors.New("corrupt records")
	ErrTooLarge = errors.New("records too large to scan")
)

// attrLogAppendTime marks a batch whose records all carry the batch's max
// timestamp, set by the broker (message.timestamp.type=LogAppendTime).
const attrLogAppendTime = 0x08

// FirstAtOrAfter reads the magic-2 batch at the start of batch, as served
// (its base offset written in), and returns the offset and timestamp of its
// first record whose timestamp is at least ts and whose offset is at least
// minOffset; ok is false when no record is both. A record's timestamp is the
// batch's first timestamp plus the record's delta, or the batch's max
// timestamp in a LogAppendTime batch, as Kafka reads them.
func FirstAtOrAfter(batch []byte, ts, minOffset int64) (offset, timestamp int64, ok bool, err error) {
	offset, timestamp = -1, -1
	err = eachRecord(batch, ts, minOffset, func(off, recTs int64) bool {
		if recTs >= ts && off >= minOffset {
			offset, timestamp, ok = off, recTs, true
			return false
		}
		return true
	})
	if err != nil || !ok {
		return -1, -1, false, err
	}
	return offset, timestamp, true, nil
}

// MaxAtOrAfter reads the batch as FirstAtOrAfter does and returns the
// offset and timestamp of its first record with the largest timestamp among
// those whose offset is at least minOffset; ok is false when it has none
// (ListOffsets' MAX_TIMESTAMP, for the batch the log start offset cuts into).
func MaxAtOrAfter(batch []byte, minOffset int64) (offset, timestamp int64, ok bool, err error) {
	offset, timestamp = -1, -1
	err = eachRecord(batch, -1<<63, minOffset, func(off, recTs int64) bool {
		if off >= minOffset && (!ok || recTs > timestamp) {
			offset, timestamp, ok = off, recTs, true
		}
		return true
	})
	if err != nil || !ok {
		return -1, -1, false, err
	}
	return offset, timestamp, true, nil
}

// eachRecord calls fn with each record's offset and timestamp, in order,
// until fn returns false, unless the header rules out every record (no
// timestamp reaches ts, or no offset minOffset).
func eachRecord(batch []byte, ts, minOffset int64, fn func(offset, timestamp int64) bool) error {
	h, err := recordbatch.ParseHeader(batch)
	if err != nil {
		return err
	}
	base := int64(binary.BigEndian.Uint64(batch[0:8]))
	if h.MaxTimestamp < ts || base+int64(h.LastOffsetDelta) < minOffset {
		return nil // the header rules the batch out
	}
	r, closeFn, err := decompressed(batch[recordbatch.HeaderSize:h.Length], h.Compression())
	if err != nil {
		return err
	}
	defer closeFn()
	rd := &countingReader{r: bufio.NewReaderSize(&boundedReader{r: r, left: maxRecordBytes}, 4<<10)}
	for i := int32(0); i < h.RecordCount; i++ {
		length, err := rd.varint()
		if err != nil {
			return corrupt(i, "length: %v", err)
		}
		rd.n = 0
		if _, err := rd.ReadByte(); err != nil { // attributes, unused
			return corrupt(i, "attributes: %v", err)
		}
		tsDelta, err := rd.varint()
		if err != nil {
			return corrupt(i, "timestamp delta: %v", err)
		}
		offsetDelta, err := rd.varint()
		if err != nil {
			return corrupt(i, "offset delta: %v", err)
		}
		if length < rd.n {
			return corrupt(i, "length %d is shorter than its first fields", length)
		}
		if offsetDelta < 0 || offsetDelta > int64(h.LastOffsetDelta) {
			return corrupt(i, "offset delta %d outside 0..%d", offsetDelta, h.LastOffsetDelta)
		}
		recTs := h.FirstTimestamp + tsDelta
		if h.Attributes&attrLogAppendTime != 0 {
			recTs = h.MaxTimestamp
		}
		if !fn(base+offsetDelta, recTs) {
			return nil
		}
		if err := rd.skip(length - rd.n); err != nil {
			return corrupt(i, "body: %v", err)
		}
	}
	return nil
}

// corrupt reports a record that does not parse; a read that failed on a
// bound stays ErrTooLarge.
func corrupt(record int32, format string, args ...any) error {
	for _, a := range args {
		if err, ok := a.(error); ok && errors.Is(err, ErrTooLarge) {
			return fmt.Errorf("record %d: %w", record, err)
		}
	}
	return fmt.Errorf("%w: record %d: %s", ErrCorrupt, record, fmt.Sprintf(format, args...))
}

// boundedReader fails a read past left bytes.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("%w: the records run past %d bytes", ErrTooLarge, int64(maxRecordBytes))
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// countingReader reads varints and counts the bytes read since n was last
// set, so a record's fixed fields can be measured against its length.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// varint reads a zig-zag varint, as Kafka's records encode their fields.
func (c *countingReader) varint() (int64, error) {
	v, err := binary.ReadVarint(c)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return v, err
}

// skip discards n bytes, reading them through (a decompressing stream
// cannot seek).
func (c *countingReader) skip(n int64) error {
	for n > 0 {
		k := int(min(n, 1<<30))
		d, err := c.r.Discard(k)
		n -= int64(d)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// decompressed returns a reader of the records in body, compressed with
// codec (the batch's attributes: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd),
// and what releases it.
func decompressed(body []byte, codec int) (io.Reader, func(), error) {
	nothing := func() {}
	src := bytes.NewReader(body)
	switch codec {
	case 0:
		return src, nothing, nil
	case 1:
		zr, err := gzip.NewReader(src)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		return zr, nothing, nil
	case 2:
		return snappyReader(body)
	case 3:
		return lz4.NewReader(src), nothing, nil
	case 4:
		zr, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxZstdWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: zstd: %v", ErrCorrupt, err)
		}
		return zr, zr.Close, nil
	}
	return nil, nil, fmt.Errorf("%w: compression codec %d", ErrCorrupt, codec)
}

// xerialMagic begins a snappy stream framed as Java's snappy-java writes it:
// the magic, two 4-byte versions, then blocks each prefixed by its
// big-endian length.
var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

const xerialHeaderSize = 16

// snappyReader decodes a raw snappy block, or xerial-framed blocks one at a
// time.
func snappyReader(body []byte) (io.Reader, func(), error) {
	nothing := func() {}
	if len(body) >= xerialHeaderSize && bytes.HasPrefix(body, xerialMagic) {
		return &xerialReader{rest: body[xerialHeaderSize:]}, nothing, nil
	}
	out, err := decodeSnappyBlock(body)
	if err != nil {
		return nil, nil, err
	}
	return bytes.NewReader(out), nothing, nil
}

func decodeSnappyBlock(block []byte) ([]byte, error) {
	n, err := s2.DecodedLen(block)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	if n > maxSnappyBlock {
		return nil, fmt.Errorf("%w: a snappy block of %d bytes decoded, more than %d", ErrTooLarge, n, maxSnappyBlock)
	}
	out, err := s2.Decode(nil, block)
	if err != nil {
		return nil, fmt.Errorf("%w: snappy: %v", ErrCorrupt, err)
	}
	return out, nil
}

// xerialReader yields the decoded blocks of a xerial snappy stream in turn.
type xerialReader struct {
	rest []byte // blocks not yet decoded
	cur  []byte // what is left of the current block
}

func (x *xerialReader) Read(p []byte) (int, error) {
	for len(x.cur) == 0 {
		if len(x.rest) == 0 {
			return 0, io.EOF
		}
		if len(x.rest) < 4 {
			return 0, fmt.Errorf("%w: snappy: a partial block length", ErrCorrupt)
		}
		n := binary.BigEndian.Uint32(x.rest)
		if uint64(n) > uint64(len(x.rest)-4) {
			return 0, fmt.Errorf("%w: snappy: a block of %d bytes in %d", ErrCorrupt, n, len(x.rest)-4)
		}
		block := x.rest[4 : 4+n]
		x.rest = x.rest[4+n:]
		out, err := decodeSnappyBlock(block)
		if err != nil {
			return 0, err
		}
		x.cur = out
	}
	k := copy(p, x.cur)
	x.cur = x.cur[k:]
	return k, nil
}
