package partlog

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

// appendN appends a batch of n records whose data is size bytes of fill.
func appendN(l *Log, n int64, size int, fill byte, maxTs, appendMs int64) Batch {
	return l.Append(bytes.Repeat([]byte{fill}, size), n, maxTs, appendMs)
}

// threeBatchLog holds offsets 0-2 (100 bytes), 3-4 (50 bytes) and 5 (30 bytes).
func threeBatchLog() *Log {
	l := New(0)
	appendN(l, 3, 100, 'a', 1000, 10)
	appendN(l, 2, 50, 'b', 2000, 20)
	appendN(l, 1, 30, 'c', 3000, 30)
	return l
}

func baseOffsets(bs []Batch) []int64 {
	var out []int64
	for _, b := range bs {
		out = append(out, b.BaseOffset)
	}
	return out
}

func TestAppend_AssignsConsecutiveOffsetsFromStart(t *testing.T) {
	l := New(40)
	b1 := appendN(l, 3, 10, 'x', 0, 0)
	b2 := appendN(l, 1, 10, 'y', 0, 0)
	if b1.BaseOffset != 40 || b1.LastOffset != 42 || b1.Records() != 3 {
		t.Fatalf("first batch %d-%d (%d records), want 40-42", b1.BaseOffset, b1.LastOffset, b1.Records())
	}
	if b2.BaseOffset != 43 || b2.LastOffset != 43 {
		t.Fatalf("second batch %d-%d, want 43-43", b2.BaseOffset, b2.LastOffset)
	}
	if start, next := l.Offsets(); start != 40 || next != 44 {
		t.Fatalf("Offsets() = %d, %d; want 40, 44", start, next)
	}
	if l.Size() != 20 {
		t.Fatalf("Size() = %d, want 20", l.Size())
	}
}

func TestRead_OffsetInsideBatch_ReturnsWholeBatchHoldingIt(t *testing.T) {
	l := threeBatchLog()
	tests := []struct {
		offset int64
		want   []int64
	}{
		{0, []int64{0, 3, 5}},
		{1, []int64{0, 3, 5}},
		{2, []int64{0, 3, 5}},
		{3, []int64{3, 5}},
		{4, []int64{3, 5}},
		{5, []int64{5}},
		{6, nil}, // the high watermark: nothing yet
		{100, nil},
	}
	for _, tt := range tests {
		got := baseOffsets(l.Read(tt.offset, 1<<20))
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("Read(%d) batches at %v, want %v", tt.offset, got, tt.want)
		}
	}
}

func TestRead_MaxBytes_StopsBeforeExceedingButFirstBatchAlwaysWhole(t *testing.T) {
	l := threeBatchLog()
	tests := []struct {
		offset   int64
		maxBytes int
		want     []int64
	}{
		{0, 0, []int64{0}},         // first batch whole even with no budget
		{0, 1, []int64{0}},         // first batch (100 bytes) exceeds 1
		{0, 149, []int64{0}},       // 100+50 does not fit
		{0, 150, []int64{0, 3}},    // exactly fits
		{0, 179, []int64{0, 3}},    // 100+50+30 does not fit
		{0, 180, []int64{0, 3, 5}}, // exactly fits
		{3, 10, []int64{3}},
		{3, 80, []int64{3, 5}},
	}
	for _, tt := range tests {
		got := l.Read(tt.offset, tt.maxBytes)
		if fmt.Sprint(baseOffsets(got)) != fmt.Sprint(tt.want) {
			t.Errorf("Read(%d, %d) batches at %v, want %v", tt.offset, tt.maxBytes, baseOffsets(got), tt.want)
		}
		size := 0
		for _, b := range got[1:] {
			size += len(b.Data)
		}
		if len(got) > 1 && size+len(got[0].Data) > tt.maxBytes {
			t.Errorf("Read(%d, %d) returned %d bytes", tt.offset, tt.maxBytes, size+len(got[0].Data))
		}
	}
}

// AppendBatches serves what Read returns, each batch with its base offset
// written in, after what dst held, growing dst once.
func TestAppendBatches_ServesWhatReadReturns_GrowsDstOnce(t *testing.T) {
	l := threeBatchLog()
	for _, tt := range []struct {
		offset   int64
		maxBytes int
	}{{0, 0}, {0, 149}, {0, 150}, {1, 1 << 20}, {4, 1 << 20}, {6, 1 << 20}} {
		var want []byte
		for _, b := range l.Read(tt.offset, tt.maxBytes) {
			want = b.AppendTo(want)
		}
		got := l.AppendBatches([]byte("dst:"), tt.offset, tt.maxBytes)
		if string(got[:4]) != "dst:" || !bytes.Equal(got[4:], want) {
			t.Errorf("AppendBatches(%d, %d) = %q, want dst: then %q", tt.offset, tt.maxBytes, got, want)
		}
	}
	if allocs := testing.AllocsPerRun(20, func() { l.AppendBatches(nil, 0, 1<<20) }); allocs != 1 {
		t.Errorf("AppendBatches allocates %v times, want once (dst)", allocs)
	}
}

func TestTrim_DropsFromFrontWhileKeepIsFalse_StartMovesNextDoesNot(t *testing.T) {
	l := threeBatchLog()
	var seen []int64
	n := l.Trim(func(b Batch, size int64) bool {
		seen = append(seen, size)
		return b.AppendTimeMs >= 20
	})
	if n != 1 {
		t.Fatalf("Trim dropped %d batches, want 1", n)
	}
	// keep is told the bytes held with b still in the log.
	if fmt.Sprint(seen) != "[180 80]" {
		t.Fatalf("keep saw sizes %v, want [180 80]", seen)
	}
	if start, next := l.Offsets(); start != 3 || next != 6 {
		t.Fatalf("Offsets() = %d, %d; want 3, 6", start, next)
	}
	if l.Size() != 80 {
		t.Fatalf("Size() = %d, want 80", l.Size())
	}
	// A read below the log start gets nothing (Fetch answers
	// OFFSET_OUT_OF_RANGE); from the start, the batches still held.
	if got := l.Read(0, 1<<20); got != nil {
		t.Fatalf("Read(0) after trim: %v, want nothing", baseOffsets(got))
	}
	if got := baseOffsets(l.Read(3, 1<<20)); fmt.Sprint(got) != "[3 5]" {
		t.Fatalf("Read(3) after trim: %v, want [3 5]", got)
	}
	// Appends continue from the high watermark.
	if b := appendN(l, 2, 5, 'd', 4000, 40); b.BaseOffset != 6 {
		t.Fatalf("append after trim at %d, want 6", b.BaseOffset)
	}
}

func TestTrim_KeepTrueForFirstBatch_DropsNothing(t *testing.T) {
	l := threeBatchLog()
	before := l.Digest()
	if n := l.Trim(func(Batch, int64) bool { return true }); n != 0 {
		t.Fatalf("Trim dropped %d, want 0", n)
	}
	if l.Digest() != before {
		t.Fatal("log changed when nothing was trimmed")
	}
}

func TestTrim_EverythingDropped_StartEqualsHighWatermark(t *testing.T) {
	l := threeBatchLog()
	if n := l.Trim(func(Batch, int64) bool { return false }); n != 3 {
		t.Fatalf("Trim dropped %d, want 3", n)
	}
	if start, next := l.Offsets(); start != 6 || next != 6 {
		t.Fatalf("Offsets() = %d, %d; want 6, 6", start, next)
	}
	if l.Size() != 0 || len(l.Read(0, 1<<20)) != 0 {
		t.Fatalf("empty log has Size %d and reads %d batches", l.Size(), len(l.Read(0, 1<<20)))
	}
	if b := appendN(l, 1, 1, 'e', 0, 0); b.BaseOffset != 6 {
		t.Fatalf("append after full trim at %d, want 6", b.BaseOffset)
	}
}

func TestOffsetForTimestamp_ReturnsFirstBatchAtOrAfterTimestamp(t *testing.T) {
	l := threeBatchLog() // max timestamps 1000, 2000, 3000
	tests := []struct {
		ts     int64
		base   int64
		exists bool
	}{
		{0, 0, true},
		{1000, 0, true},
		{1001, 3, true},
		{2000, 3, true},
		{2500, 5, true},
		{3000, 5, true},
		{3001, 0, false},
	}
	for _, tt := range tests {
		b, ok := l.OffsetForTimestamp(tt.ts)
		if ok != tt.exists || (ok && b.BaseOffset != tt.base) {
			t.Errorf("OffsetForTimestamp(%d) = batch %d, %v; want %d, %v", tt.ts, b.BaseOffset, ok, tt.base, tt.exists)
		}
	}
	if _, ok := New(0).OffsetForTimestamp(0); ok {
		t.Error("empty log found a batch")
	}
}

func TestOffsetForTimestamp_OutOfOrderTimestamps_FirstMatchInLogOrder(t *testing.T) {
	l := New(0)
	appendN(l, 1, 1, 'a', 500, 0)
	appendN(l, 1, 1, 'b', 100, 0) // a producer with a slow clock
	appendN(l, 1, 1, 'c', 900, 0)
	if b, ok := l.OffsetForTimestamp(200); !ok || b.BaseOffset != 0 {
		t.Fatalf("OffsetForTimestamp(200) = %d, %v; want 0, true", b.BaseOffset, ok)
	}
	if b, ok := l.OffsetForTimestamp(600); !ok || b.BaseOffset != 2 {
		t.Fatalf("OffsetForTimestamp(600) = %d, %v; want 2, true", b.BaseOffset, ok)
	}
}

func TestDigest_EqualForSameAppends_DiffersOnAnyDifference(t *testing.T) {
	a, b := threeBatchLog(), threeBatchLog()
	if a.Digest() != b.Digest() {
		t.Fatalf("same appends, different digests: %+v vs %+v", a.Digest(), b.Digest())
	}
	d := a.Digest()
	if d.Start != 0 || d.Next != 6 || d.Bytes != 180 || len(d.SHA256) != 64 {
		t.Fatalf("digest %+v, want start 0 next 6 bytes 180 and a hex SHA-256", d)
	}

	oneByte := threeBatchLog()
	appendN(oneByte, 1, 1, 'z', 0, 0)
	otherByte := threeBatchLog()
	appendN(otherByte, 1, 1, 'y', 0, 0)
	if oneByte.Digest().SHA256 == otherByte.Digest().SHA256 {
		t.Error("logs differing in one byte have the same SHA-256")
	}
	trimmed := threeBatchLog()
	trimmed.Trim(func(b Batch, _ int64) bool { return b.BaseOffset > 0 })
	if trimmed.Digest() == a.Digest() {
		t.Error("trimmed log has the same digest as the untrimmed one")
	}
	if New(0).Digest() == New(5).Digest() {
		t.Error("empty logs with different start offsets have the same digest")
	}
}

func TestSnapshot_IsPointInTimeAndRestoresToEqualLog(t *testing.T) {
	l := threeBatchLog()
	start, next, batches := l.Snapshot()
	want := l.Digest()

	appendN(l, 4, 10, 'n', 5000, 50)
	l.Trim(func(b Batch, _ int64) bool { return b.BaseOffset >= 3 })

	if len(batches) != 3 || batches[0].BaseOffset != 0 {
		t.Fatalf("snapshot changed after later writes: %v", baseOffsets(batches))
	}
	r := Restore(start, next, batches)
	if got := r.Digest(); got != want {
		t.Fatalf("restored digest %+v, want %+v", got, want)
	}
	if r.Size() != 180 {
		t.Fatalf("restored Size() = %d, want 180", r.Size())
	}
	if b := appendN(r, 1, 1, 'r', 0, 0); b.BaseOffset != 6 {
		t.Fatalf("append to restored log at %d, want 6", b.BaseOffset)
	}
}

func TestLog_ConcurrentReadersWithOneWriter(t *testing.T) {
	l := New(0)
	const appends = 500
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start, next := l.Offsets()
				bs := l.Read(start, 64)
				for i := 1; i < len(bs); i++ {
					if bs[i].BaseOffset != bs[i-1].LastOffset+1 {
						t.Errorf("gap between batches %d and %d", bs[i-1].LastOffset, bs[i].BaseOffset)
						return
					}
				}
				l.OffsetForTimestamp(int64(next))
				l.Digest()
				if next >= appends*2 {
					return
				}
			}
		}()
	}
	for i := range appends {
		appendN(l, 2, 8, byte(i), int64(i), int64(i))
		if i%50 == 0 {
			l.Trim(func(b Batch, size int64) bool { return size <= 256 })
		}
	}
	wg.Wait()
}

// DeleteRecords into the middle of a batch: the batches wholly below go, the
// batch holding the new start stays whole, and nothing below the start is
// served from it, as Kafka keeps the segment holding its log start offset.
func TestSetStart_DropsBatchesBelow_KeepsStraddlingBatch_ServesNothingBelow(t *testing.T) {
	l := threeBatchLog() // 0-2 (100 bytes), 3-4 (50 bytes), 5 (30 bytes)
	if !l.SetStart(4) {
		t.Fatal("SetStart(4) did not move the start")
	}
	if start, next := l.Offsets(); start != 4 || next != 6 {
		t.Fatalf("Offsets() = %d, %d; want 4, 6", start, next)
	}
	if l.Size() != 80 {
		t.Fatalf("Size() = %d, want 80: the batch holding offset 4 stays whole", l.Size())
	}
	for offset, want := range map[int64][]int64{0: nil, 2: nil, 3: nil, 4: {3, 5}, 5: {5}, 6: nil} {
		if got := baseOffsets(l.Read(offset, 1<<20)); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("Read(%d) batches at %v, want %v", offset, got, want)
		}
		var served []byte
		for _, b := range l.Read(offset, 1<<20) {
			served = b.AppendTo(served)
		}
		if got := l.AppendBatches(nil, offset, 1<<20); !bytes.Equal(got, served) {
			t.Errorf("AppendBatches(%d) serves %d bytes, Read %d", offset, len(got), len(served))
		}
	}
	// Timestamps: the kept batch still answers for its offsets at or above
	// the start; the dropped ones answer nothing.
	if b, ok := l.OffsetForTimestamp(0); !ok || b.BaseOffset != 3 {
		t.Errorf("OffsetForTimestamp(0) = batch %d, %v; want the batch at 3", b.BaseOffset, ok)
	}

	// Retention afterwards keeps the start where SetStart put it while it
	// keeps the straddling batch.
	l.Trim(func(Batch, int64) bool { return true })
	if start, _ := l.Offsets(); start != 4 {
		t.Fatalf("start after a retention pass that kept everything: %d, want 4", start)
	}
	l.Trim(func(b Batch, _ int64) bool { return b.BaseOffset >= 5 })
	if start, _ := l.Offsets(); start != 5 {
		t.Fatalf("start after retention dropped the straddling batch: %d, want 5", start)
	}
}

func TestSetStart_AtBatchBoundaryAndHighWatermark_NoOpBelowStart(t *testing.T) {
	l := threeBatchLog()
	if !l.SetStart(3) {
		t.Fatal("SetStart(3) did not move the start")
	}
	if start, _ := l.Offsets(); start != 3 || l.Size() != 80 {
		t.Fatalf("start %d, %d bytes; want 3 and 80", start, l.Size())
	}
	// At or below the current start: nothing changes.
	before := l.Digest()
	if l.SetStart(3) || l.SetStart(1) || l.Digest() != before {
		t.Fatal("SetStart at or below the start changed the log")
	}
	// To the high watermark: everything goes, appends carry on from it.
	if !l.SetStart(6) {
		t.Fatal("SetStart(6) did not move the start")
	}
	if start, next := l.Offsets(); start != 6 || next != 6 || l.Size() != 0 {
		t.Fatalf("after SetStart(high watermark): %d..%d, %d bytes; want 6..6, 0", start, next, l.Size())
	}
	if b := appendN(l, 2, 10, 'n', 0, 0); b.BaseOffset != 6 {
		t.Fatalf("append after SetStart at %d, want 6", b.BaseOffset)
	}
	// Past the high watermark it stops there: the caller refuses it first.
	l.SetStart(100)
	if start, next := l.Offsets(); start != 8 || next != 8 {
		t.Fatalf("SetStart past the high watermark: %d..%d, want 8..8", start, next)
	}
}

// A snapshot carries the start SetStart set, and the log restored from it is
// the same log.
func TestSetStart_SnapshotRestoresSameStartAndDigest(t *testing.T) {
	l := threeBatchLog()
	l.SetStart(4)
	start, next, batches := l.Snapshot()
	r := Restore(start, next, batches)
	if r.Digest() != l.Digest() {
		t.Fatalf("restored %+v, want %+v", r.Digest(), l.Digest())
	}
	if got := r.Read(3, 1<<20); got != nil {
		t.Fatalf("restored log serves below its start: %v", baseOffsets(got))
	}
}
