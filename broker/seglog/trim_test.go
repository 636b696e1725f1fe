package seglog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// tenSegments holds ten segments of three 100-byte batches each (offsets
// 0-29), appended at 0, 10, ..., 290.
func tenSegments(t *testing.T) *fixture {
	f := newFixture(t, Options{SegmentBytes: 300, IndexIntervalBytes: 100})
	for i := range 30 {
		f.append(sized(int64(1000+i), 100, byte('a'+i%26)), int64(i*10))
	}
	if n := len(f.l.Segments()); n != 10 {
		t.Fatalf("fixture has %d segments, want 10", n)
	}
	return f
}

func TestRetain_ByAppendTime_DeletesWholeSegmentsWhoseNewestBatchIsOld(t *testing.T) {
	f := tenSegments(t)
	// Retention.ms as the state machine would decide it: drop a segment
	// whose largest append time is before now-ms.
	now, ms := int64(1000), int64(905)
	n, err := f.l.Retain(func(s SegmentInfo, _ int64) bool { return s.MaxAppendTimeMs >= now-ms })
	if err != nil {
		t.Fatal(err)
	}
	// Segment 0 (appended at 0-20) and 1 (30-50) and 2 (60-80) are older
	// than 95; segment 3 (90-110) has batches newer.
	if n != 3 {
		t.Fatalf("Retain deleted %d segments, want 3", n)
	}
	if start, next := f.l.Offsets(); start != 9 || next != 30 {
		t.Fatalf("Offsets() = %d, %d; want 9, 30", start, next)
	}
	if f.l.Size() != 2100 {
		t.Fatalf("Size() = %d, want 2100", f.l.Size())
	}
	for _, b := range []int64{0, 3, 6} {
		if _, err := os.Stat(filepath.Join(f.dir, segmentName(b, extLog))); !os.IsNotExist(err) {
			t.Errorf("segment %d still on disk: %v", b, err)
		}
		for _, ext := range []string{extIndex, extTimeIndex, extAppendTime} {
			if _, err := os.Stat(filepath.Join(f.dir, segmentName(b, ext))); !os.IsNotExist(err) {
				t.Errorf("segment %d%s still on disk", b, ext)
			}
		}
	}
	if _, err := f.l.AppendBatches(nil, 8, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read below the start: %v, want ErrOffsetOutOfRange", err)
	}
	f.checkAll()
	// A restart keeps the start offset.
	f.reopen()
	if start, _ := f.l.Offsets(); start != 9 {
		t.Fatalf("start after reopen %d, want 9", start)
	}
}

func TestRetain_BySize_KeepSeesBytesHeld(t *testing.T) {
	f := tenSegments(t)
	var seen []int64
	n, err := f.l.Retain(func(s SegmentInfo, size int64) bool {
		seen = append(seen, size)
		return size-s.Bytes < 2500 // Kafka's rule: delete only while what stays is at least retention.bytes
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || fmt.Sprint(seen) != "[3000 2700]" {
		t.Fatalf("deleted %d, keep saw %v; want 1, [3000 2700]", n, seen)
	}
	if got := segmentBases(f.l); got[0] != 3 || f.l.Size() != 2700 {
		t.Fatalf("segments %v size %d", got, f.l.Size())
	}
}

func TestRetain_Everything_EmptyActiveSegmentAtHighWatermark(t *testing.T) {
	f := tenSegments(t)
	n, err := f.l.Retain(func(SegmentInfo, int64) bool { return false })
	if err != nil || n != 10 {
		t.Fatalf("Retain: %d, %v; want 10", n, err)
	}
	if start, next := f.l.Offsets(); start != 30 || next != 30 || f.l.Size() != 0 {
		t.Fatalf("Offsets() = %d, %d size %d; want 30, 30, 0", start, next, f.l.Size())
	}
	if got := segmentBases(f.l); fmt.Sprint(got) != "[30]" {
		t.Fatalf("segments %v, want [30]", got)
	}
	// Nothing more to delete, and the offsets survive a restart.
	if n, _ := f.l.Retain(func(SegmentInfo, int64) bool { return false }); n != 0 {
		t.Fatalf("second Retain deleted %d", n)
	}
	f.reopen()
	if start, next := f.l.Offsets(); start != 30 || next != 30 {
		t.Fatalf("after reopen Offsets() = %d, %d; want 30, 30", start, next)
	}
	if b := f.append(batch(1, "x"), 1000); b != 30 {
		t.Fatalf("append after full retention at %d, want 30", b)
	}
}

func TestSetStart_InsideSegment_ReadsBelowOutOfRange_WholeSegmentsBelowDeleted(t *testing.T) {
	f := tenSegments(t)
	if err := f.l.SetStart(7); err != nil {
		t.Fatal(err)
	}
	// Segments 0-2 and 3-5 are wholly below 7; 6-8 holds it and stays.
	if got := segmentBases(f.l); got[0] != 6 {
		t.Fatalf("first segment %d, want 6", got[0])
	}
	if start, _ := f.l.Offsets(); start != 7 {
		t.Fatalf("start %d, want 7", start)
	}
	if _, err := f.l.AppendBatches(nil, 6, 100); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("read at 6: %v, want ErrOffsetOutOfRange", err)
	}
	f.checkAll()
	// Lower or equal: nothing changes. Past the high watermark: refused.
	if err := f.l.SetStart(3); err != nil {
		t.Fatal(err)
	}
	if start, _ := f.l.Offsets(); start != 7 {
		t.Fatalf("SetStart(3) moved the start to %d", start)
	}
	if err := f.l.SetStart(31); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("SetStart(31): %v, want ErrOffsetOutOfRange", err)
	}
	// A restart keeps it once synced.
	f.reopen()
	if start, _ := f.l.Offsets(); start != 7 {
		t.Fatalf("start after reopen %d, want 7", start)
	}
	// Up to the high watermark: the log is empty and goes on from there.
	if err := f.l.SetStart(30); err != nil {
		t.Fatal(err)
	}
	if start, next := f.l.Offsets(); start != 30 || next != 30 {
		t.Fatalf("SetStart(30): Offsets() = %d, %d", start, next)
	}
}

func TestTruncateTo_MidSegment_ThenAppendAgain(t *testing.T) {
	f := tenSegments(t)
	// Offset 25 is the second batch of segment 24.
	if err := f.l.TruncateTo(25); err != nil {
		t.Fatal(err)
	}
	f.forget(25)
	if _, next := f.l.Offsets(); next != 25 {
		t.Fatalf("next %d, want 25", next)
	}
	if got := segmentBases(f.l); got[len(got)-1] != 24 || len(got) != 9 {
		t.Fatalf("segments %v, want the last at 24", got)
	}
	if _, err := os.Stat(filepath.Join(f.dir, segmentName(27, extLog))); !os.IsNotExist(err) {
		t.Fatalf("segment 27 still on disk: %v", err)
	}
	f.checkAll()
	// Appends go on from 25 with different bytes, in the same segment.
	f.append(sized(5000, 100, 'Z'), 500)
	f.append(sized(5001, 100, 'Y'), 510)
	f.append(sized(5002, 100, 'X'), 520)
	if got := segmentBases(f.l); fmt.Sprint(got[len(got)-2:]) != "[24 27]" {
		t.Fatalf("segments after re-append %v", got)
	}
	f.checkAll()
	f.crash()
	f.checkAll()
	// The time and append-time indexes followed the cut.
	if off, ts, ok, _ := f.l.OffsetForTimestamp(1025); !ok || off != 25 || ts != 5000 {
		t.Fatalf("OffsetForTimestamp(1025) = %d (ts %d), %v; want 25 (5000)", off, ts, ok)
	}
	seg := f.l.Segments()[8]
	if seg.Base != 24 || seg.MaxAppendTimeMs != 510 || seg.FirstAppendTimeMs != 240 {
		t.Fatalf("segment 24 after cut and re-append: %+v", seg)
	}
}

func TestTruncateTo_AcrossSegments_AndAtSegmentBoundaries(t *testing.T) {
	f := tenSegments(t)
	if err := f.l.TruncateTo(12); err != nil { // the first offset of segment 12: it is emptied
		t.Fatal(err)
	}
	f.forget(12)
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 3 6 9 12]" {
		t.Fatalf("segments %v: %+v", got, f.l.Segments())
	}
	if s := f.l.Segments()[4]; s.Bytes != 0 || s.Next != 12 {
		t.Fatalf("segment 12 after cut: %+v", s)
	}
	f.checkAll()
	if err := f.l.TruncateTo(9); err != nil { // across: segment 12 goes, 9 is emptied
		t.Fatal(err)
	}
	f.forget(9)
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 3 6 9]" {
		t.Fatalf("segments %v", got)
	}
	if _, err := os.Stat(filepath.Join(f.dir, segmentName(12, extLog))); !os.IsNotExist(err) {
		t.Fatalf("segment 12 still on disk: %v", err)
	}
	b := f.append(sized(1, 100, 'q'), 1)
	if b != 9 {
		t.Fatalf("append at %d, want 9", b)
	}
	f.checkAll()
	f.reopen()
	f.checkAll()
	if err := f.l.TruncateTo(4); err != nil { // inside segment 3, across 6 and 9
		t.Fatal(err)
	}
	f.forget(4)
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 3]" || f.l.Size() != 400 {
		t.Fatalf("segments %v size %d; want [0 3], 400", got, f.l.Size())
	}
	f.append(sized(2, 100, 'r'), 2)
	f.crash()
	f.checkAll()
}

func TestTruncateTo_RefusesForwardAndInsideBatch_BelowFirstSegmentRestarts(t *testing.T) {
	f := newFixture(t, Options{})
	f.append(batch(1, "a", "b", "c"), 0) // 0-2
	f.append(batch(2, "d"), 0)           // 3
	if err := f.l.TruncateTo(5); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("TruncateTo(5): %v, want ErrOffsetOutOfRange", err)
	}
	if err := f.l.TruncateTo(1); err == nil {
		t.Fatal("TruncateTo inside a batch succeeded")
	}
	if f.l.Err() != nil {
		t.Fatalf("a refused truncation failed the log: %v", f.l.Err())
	}
	f.checkAll()
	// Below the first segment (retention after the snapshot deleted what
	// the replay will append again): the log restarts empty there.
	if _, err := f.l.Retain(func(SegmentInfo, int64) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if err := f.l.TruncateTo(2); err != nil {
		t.Fatal(err)
	}
	if start, next := f.l.Offsets(); start != 2 || next != 2 || fmt.Sprint(segmentBases(f.l)) != "[2]" {
		t.Fatalf("Offsets() = %d, %d, segments %v; want 2, 2, [2]", start, next, segmentBases(f.l))
	}
	f.forget(0)
	if b := f.append(batch(3, "e"), 0); b != 2 {
		t.Fatalf("append at %d, want 2", b)
	}
	f.reopen()
	f.checkAll()
}
