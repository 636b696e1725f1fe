package recordbatch

import (
	"bytes"
	"testing"
)

func FuzzParseBatch(f *testing.F) {
	valid := testBatch{producerID: 5, epoch: 1, baseSeq: 0, firstTs: 1_700_000_000_000, values: []string{"k", "value"}}.encode()
	f.Add(valid)
	f.Add(valid[:HeaderSize])
	f.Add(valid[:len(valid)-1])
	f.Add(append(append([]byte(nil), valid...), plainBatch("x")...))
	f.Add(plainBatch("a", "b", "c"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := append([]byte(nil), in...)
		h, err := Parse(in)
		if !bytes.Equal(in, orig) {
			t.Fatal("Parse modified its input")
		}
		Split(in)
		if err != nil {
			return
		}
		if h.Length < HeaderSize || h.Length > len(in) {
			t.Fatalf("accepted batch Length %d outside %d..%d", h.Length, HeaderSize, len(in))
		}
		if h.RecordCount <= 0 || h.LastOffsetDelta != h.RecordCount-1 {
			t.Fatalf("accepted batch with %d records and last offset delta %d", h.RecordCount, h.LastOffsetDelta)
		}
		own := append([]byte(nil), in[:h.Length]...)
		again, err := Parse(own)
		if err != nil {
			t.Fatalf("accepted batch does not re-parse on its own: %v", err)
		}
		if again != h {
			t.Fatalf("re-parse differs: %+v vs %+v", again, h)
		}
		SetBaseOffset(own, 99)
		SetPartitionLeaderEpoch(own, 3)
		if moved, err := Parse(own); err != nil || moved != h {
			t.Fatalf("after SetBaseOffset: %+v, %v; want %+v", moved, err, h)
		}
	})
}
