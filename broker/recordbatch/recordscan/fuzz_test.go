package recordscan

import (
	"encoding/binary"
	"testing"

	"github.com/raftline/raftline/broker/recordbatch"
)

// Any bytes: an error or an answer that is a record of the batch at or after
// both bounds, never a panic.
func FuzzFirstAtOrAfter(f *testing.F) {
	for _, c := range codecs {
		b := fiveRecords(f, c.codec, 0)
		f.Add(b, int64(1004), int64(102))
		f.Add(b[:len(b)-7], int64(1020), int64(0))
		small := build(f, c.codec, 7, 50, 0, rec{0, "x"}, rec{-3, "y"})
		f.Add(small, int64(0), int64(0))
	}
	f.Add(fiveRecords(f, 0, attrLogAppendTime), int64(1000), int64(101))
	f.Fuzz(func(t *testing.T, batch []byte, ts, minOffset int64) {
		off, stamp, ok, err := FirstAtOrAfter(batch, ts, minOffset)
		if err != nil || !ok {
			if ok {
				t.Fatalf("found %d with an error %v", off, err)
			}
			return
		}
		h, herr := recordbatch.ParseHeader(batch)
		if herr != nil {
			t.Fatalf("found offset %d in a batch whose header does not parse: %v", off, herr)
		}
		base := int64(binary.BigEndian.Uint64(batch))
		if off < minOffset || stamp < ts || off < base || off > base+int64(h.LastOffsetDelta) {
			t.Fatalf("found %d at %d for ts %d from %d, in a batch of offsets %d..%d", off, stamp, ts, minOffset, base, base+int64(h.LastOffsetDelta))
		}
		// The largest from the same offset is at least as late (unless a
		// record past the one found does not parse).
		moff, mstamp, mok, merr := MaxAtOrAfter(batch, minOffset)
		if merr == nil && (!mok || mstamp < stamp || moff < minOffset || moff > base+int64(h.LastOffsetDelta)) {
			t.Fatalf("MaxAtOrAfter(%d) = %d at %d (%v, %v), after FirstAtOrAfter found %d at %d", minOffset, moff, mstamp, mok, merr, off, stamp)
		}
	})
}
