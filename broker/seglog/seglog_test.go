package seglog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestOpen_EmptyDir_StartsAtZeroWithOneEmptySegment(t *testing.T) {
	f := newFixture(t, Options{})
	if start, next := f.l.Offsets(); start != 0 || next != 0 {
		t.Fatalf("Offsets() = %d, %d; want 0, 0", start, next)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "00000000000000000000.log")); err != nil {
		t.Fatalf("no first segment file: %v", err)
	}
	if got, err := f.l.AppendBatches(nil, 0, 1<<20); err != nil || len(got) != 0 {
		t.Fatalf("read at the high watermark: %d bytes, %v; want none", len(got), err)
	}
}

func TestOpen_BadOptions_ClearError(t *testing.T) {
	for _, o := range []Options{{SegmentBytes: -1}, {SegmentBytes: 1 << 31}, {SegmentMs: -5}, {IndexIntervalBytes: -1}} {
		if _, err := Open(t.TempDir(), o); err == nil {
			t.Errorf("Open(%+v) succeeded", o)
		}
	}
}

func TestAppend_AssignsConsecutiveOffsets_FileHoldsBatchesAsServed(t *testing.T) {
	f := newFixture(t, Options{})
	b1 := batch(1000, "a", "b", "c")
	b2 := batch(2000, "d")
	if base := f.append(b1, 10); base != 0 {
		t.Fatalf("first batch at %d, want 0", base)
	}
	if base := f.append(b2, 20); base != 3 {
		t.Fatalf("second batch at %d, want 3", base)
	}
	if start, next := f.l.Offsets(); start != 0 || next != 4 {
		t.Fatalf("Offsets() = %d, %d; want 0, 4", start, next)
	}
	if f.l.Size() != int64(len(b1)+len(b2)) {
		t.Fatalf("Size() = %d, want %d", f.l.Size(), len(b1)+len(b2))
	}
	// The caller's bytes are untouched; the file holds them with the base
	// offset written in.
	if string(b2) != string(batch(2000, "d")) {
		t.Fatal("Append modified its input")
	}
	data, err := os.ReadFile(filepath.Join(f.dir, "00000000000000000000.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := append(served(b1, 0), served(b2, 3)...); string(data) != string(want) {
		t.Fatalf("segment file differs from the batches as served")
	}
	f.checkAll()
}

func TestAppend_BadBatch_RefusedLogUnchanged(t *testing.T) {
	f := newFixture(t, Options{})
	good := batch(1000, "a", "b")
	crcBroken := slices.Clone(good)
	crcBroken[len(crcBroken)-1] ^= 1 // CRC is a read-time check, so this one is taken
	tests := []struct {
		name        string
		data        []byte
		n, maxTs, t int64
	}{
		{"not a batch", []byte("hello"), 1, 0, 0},
		{"short", good[:40], 2, 1001, 0},
		{"trailing bytes", append(slices.Clone(good), 0), 2, 1001, 0},
		{"wrong count", good, 3, 1001, 0},
		{"wrong max timestamp", good, 2, 1000, 0},
		{"negative append time", good, 2, 1001, -1},
	}
	for _, tt := range tests {
		if _, err := f.l.Append(tt.data, tt.n, tt.maxTs, tt.t); !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: got %v, want ErrBadBatch", tt.name, err)
		}
	}
	if _, next := f.l.Offsets(); next != 0 || f.l.Size() != 0 || f.l.Err() != nil {
		t.Fatalf("after refused appends: next %d size %d err %v", next, f.l.Size(), f.l.Err())
	}
}

func TestRead_MaxBytes_StopsBeforeExceedingButFirstBatchAlwaysWhole(t *testing.T) {
	f := newFixture(t, Options{})
	a, b, c := sized(1, 100, 'a'), sized(2, 50, 'b'), sized(3, 30, 'c')
	f.append(a, 0) // offset 0
	f.append(b, 0) // 1
	f.append(c, 0) // 2
	la, lb, lc := len(a), len(b), len(c)
	tests := []struct {
		offset   int64
		maxBytes int
		want     []int64
	}{
		{0, 0, []int64{0}},
		{0, 1, []int64{0}},
		{0, la + lb - 1, []int64{0}},
		{0, la + lb, []int64{0, 1}},
		{0, la + lb + lc - 1, []int64{0, 1}},
		{0, la + lb + lc, []int64{0, 1, 2}},
		{1, 10, []int64{1}},
		{1, lb + lc, []int64{1, 2}},
		{2, 1 << 20, []int64{2}},
	}
	for _, tt := range tests {
		got, err := f.l.AppendBatches([]byte("prefix"), tt.offset, tt.maxBytes)
		if err != nil {
			t.Fatalf("AppendBatches(%d, %d): %v", tt.offset, tt.maxBytes, err)
		}
		if string(got[:6]) != "prefix" {
			t.Fatal("AppendBatches did not append to dst")
		}
		if gotBases := bases(t, got[6:]); fmt.Sprint(gotBases) != fmt.Sprint(tt.want) {
			t.Errorf("AppendBatches(%d, %d) batches at %v, want %v", tt.offset, tt.maxBytes, gotBases, tt.want)
		}
	}
}

func TestRead_OutOfRange(t *testing.T) {
	f := newFixture(t, Options{})
	f.append(batch(1, "a", "b"), 0)
	for _, off := range []int64{-1, 3, 100} {
		if _, err := f.l.AppendBatches(nil, off, 100); !errors.Is(err, ErrOffsetOutOfRange) {
			t.Errorf("AppendBatches(%d): %v, want ErrOffsetOutOfRange", off, err)
		}
	}
	if got, err := f.l.AppendBatches(nil, 2, 100); err != nil || len(got) != 0 {
		t.Errorf("at the high watermark: %d bytes, %v; want nothing", len(got), err)
	}
}

func TestRoll_BySize_NoSegmentPastSegmentBytesUnlessOneBatch(t *testing.T) {
	const segBytes = 1000
	f := newFixture(t, Options{SegmentBytes: segBytes})
	sizes := []int{300, 300, 300, 300, 1500, 200, 999, 1}
	for i, n := range sizes {
		f.append(sized(int64(i), n, 'x'), int64(i))
	}
	segs := f.l.Segments()
	for i, s := range segs {
		if s.Bytes > segBytes && s.Next-s.Base != 1 {
			t.Errorf("segment %d holds %d bytes in %d batches", s.Base, s.Bytes, s.Next-s.Base)
		}
		if i > 0 && segs[i-1].Next != s.Base {
			t.Errorf("segment %d does not follow %d..%d", s.Base, segs[i-1].Base, segs[i-1].Next)
		}
		if _, err := os.Stat(filepath.Join(f.dir, segmentName(s.Base, extLog))); err != nil {
			t.Errorf("segment file: %v", err)
		}
	}
	// 300+300+300 fit; the fourth 300 rolls; 1500 alone; 200 rolls? no:
	// it follows the oversized batch, which filled its segment.
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 3 4 5 6 7]" {
		t.Fatalf("segments at %v, want [0 3 4 5 6 7]", got)
	}
	f.checkAll()
	f.reopen()
	f.checkAll()
	// One read runs on across segment boundaries, and stops before a batch
	// that would not fit.
	got, err := f.l.AppendBatches(nil, 1, 1<<20)
	if err != nil || fmt.Sprint(bases(t, got)) != "[1 2 3 4 5 6 7]" {
		t.Fatalf("read from 1 across segments: %v, %v", bases(t, got), err)
	}
	got, _ = f.l.AppendBatches(nil, 1, 300+300+300+1500)
	if fmt.Sprint(bases(t, got)) != "[1 2 3 4]" {
		t.Fatalf("read from 1 with a budget: %v", bases(t, got))
	}
	batches, err := f.l.Read(4, 1600)
	if err != nil || len(batches) != 1 || batches[0].BaseOffset != 4 || batches[0].LastOffset != 4 || string(batches[0].Data) != string(f.want[4]) || batches[0].MaxTimestamp != 4 {
		t.Fatalf("Read(4, 1600) = %+v, %v", batches, err)
	}
}

func TestRoll_ByAppendTime_UsesEntryTimeNotClock(t *testing.T) {
	f := newFixture(t, Options{SegmentMs: 1000})
	f.append(batch(1, "a"), 5_000) // segment 0 starts at 5000
	f.append(batch(2, "b"), 5_400)
	f.append(batch(3, "c"), 6_000) // exactly segment.ms later: stays
	f.append(batch(4, "d"), 6_001) // more than segment.ms: rolls
	f.append(batch(5, "e"), 3_000) // a clock that went back does not roll
	f.append(batch(6, "f"), 7_002) // more than 1000 after 6001: rolls
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 3 5]" {
		t.Fatalf("segments at %v, want [0 3 5]", got)
	}
	segs := f.l.Segments()
	if segs[0].FirstAppendTimeMs != 5000 || segs[0].MaxAppendTimeMs != 6000 || segs[1].MaxAppendTimeMs != 6001 {
		t.Fatalf("append times %+v", segs)
	}
	// The roll state survives a restart: the next append decides the same.
	f.reopen()
	f.append(batch(7, "g"), 8_002) // exactly segment.ms after 7002: stays
	f.append(batch(8, "h"), 8_003) // rolls
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 3 5 7]" {
		t.Fatalf("segments after reopen at %v, want [0 3 5 7]", got)
	}
}

func TestIndex_LookupFirstMiddleLastAndInsideBatches(t *testing.T) {
	// A small index interval and multi-record batches, so lookups go through
	// the offset index of sealed segments (binary search in the file) and of
	// the active one.
	f := newFixture(t, Options{SegmentBytes: 1500, IndexIntervalBytes: 150})
	for i := range 60 {
		vals := make([]string, 1+i%4)
		for j := range vals {
			vals[j] = fmt.Sprintf("value-%d-%d", i, j)
		}
		f.append(batch(int64(1000+i), vals...), int64(i))
	}
	segs := f.l.Segments()
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	f.l.mu.RLock()
	for _, s := range f.l.segs[:len(f.l.segs)-1] {
		if s.indexEntries < 2 {
			t.Errorf("segment %d has %d index entries; the test needs the index used", s.base, s.indexEntries)
		}
	}
	f.l.mu.RUnlock()
	f.checkAll()
	// Offsets the index names exactly, and one past each entry (inside a
	// batch or the next one), checked in every segment.
	for _, s := range f.l.segs {
		for i := int64(0); i < s.indexEntries; i++ {
			var e [8]byte
			if _, err := s.index.f.ReadAt(e[:], i*8); err != nil {
				t.Fatal(err)
			}
			rel, _ := indexEntry(e[:])
			for _, off := range []int64{s.base + int64(rel) - 1, s.base + int64(rel), s.base + int64(rel) + 1} {
				if off < 0 || off >= f.l.next {
					continue
				}
				got, err := f.l.AppendBatches(nil, off, 0)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.isBatchHolding(got, off); err != nil {
					t.Fatalf("offset %d: %v", off, err)
				}
			}
		}
	}
	f.reopen()
	f.checkAll()
}

func TestOffsetForTimestamp_BeforeExactBetweenAfter(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 300, IndexIntervalBytes: 100})
	// Max timestamps 1000, 2000, ..., 10000, two records per batch.
	for i := 1; i <= 10; i++ {
		f.append(batch(int64(i*1000-1), "x", "y"), int64(i))
	}
	if len(f.l.Segments()) < 3 {
		t.Fatalf("want several segments, got %d", len(f.l.Segments()))
	}
	tests := []struct {
		ts     int64
		offset int64
		maxTs  int64
		ok     bool
	}{
		{-1, 0, 1000, true},     // before the first
		{1000, 0, 1000, true},   // exact
		{1001, 2, 2000, true},   // between: the next batch
		{5000, 8, 5000, true},   // exact, middle
		{9999, 18, 10000, true}, // between, last
		{10000, 18, 10000, true},
		{10001, -1, -1, false}, // after the last
	}
	check := func() {
		t.Helper()
		for _, tt := range tests {
			off, maxTs, ok, err := f.l.OffsetForTimestamp(tt.ts)
			if err != nil || ok != tt.ok || (ok && (off != tt.offset || maxTs != tt.maxTs)) {
				t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v, %v; want %d, %d, %v", tt.ts, off, maxTs, ok, err, tt.offset, tt.maxTs, tt.ok)
			}
		}
	}
	check()
	f.reopen()
	check()
	f.crash() // the time indexes rebuilt from the log answer the same
	check()
}

func TestOffsetForTimestamp_OutOfOrderTimestampsAndStartOffset(t *testing.T) {
	f := newFixture(t, Options{IndexIntervalBytes: 0})
	f.append(batch(500, "a"), 0) // 0
	f.append(batch(100, "b"), 0) // 1: a producer with a slow clock
	f.append(batch(900, "c"), 0) // 2
	f.append(batch(700, "d"), 0) // 3
	for _, tt := range []struct{ ts, off int64 }{{200, 0}, {500, 0}, {600, 2}, {900, 2}} {
		if off, _, ok, err := f.l.OffsetForTimestamp(tt.ts); err != nil || !ok || off != tt.off {
			t.Errorf("OffsetForTimestamp(%d) = %d, %v, %v; want %d", tt.ts, off, ok, err, tt.off)
		}
	}
	// Below the start offset nothing is found; a batch after it is.
	if err := f.l.SetStart(1); err != nil {
		t.Fatal(err)
	}
	if off, _, ok, _ := f.l.OffsetForTimestamp(200); !ok || off != 2 {
		t.Errorf("after SetStart(1): OffsetForTimestamp(200) = %d, %v; want 2", off, ok)
	}
	if off, ts, ok, _ := f.l.OffsetForTimestamp(50); !ok || off != 1 || ts != 100 {
		t.Errorf("after SetStart(1): OffsetForTimestamp(50) = %d (ts %d), %v; want 1 (ts 100)", off, ts, ok)
	}
}

func TestDigest_EqualForSameAppends_IncludingAfterReopen(t *testing.T) {
	a := newFixture(t, Options{SegmentBytes: 500})
	b := newFixture(t, Options{SegmentBytes: 500, IndexIntervalBytes: 64}) // index spacing is local
	for i := range 20 {
		data := sized(int64(i), 60+i*7, byte('a'+i%26))
		a.append(data, int64(i*10))
		b.append(data, int64(i*10))
	}
	da, err := a.l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	db, _ := b.l.Digest()
	if da != db {
		t.Fatalf("same appends, different digests:\n%+v\n%+v", da, db)
	}
	if da.Start != 0 || da.Next != 20 || da.Bytes != a.l.Size() || len(da.SHA256) != 64 {
		t.Fatalf("digest %+v", da)
	}
	a.reopen()
	b.crash()
	da2, _ := a.l.Digest()
	db2, _ := b.l.Digest()
	if da2 != da || db2 != da {
		t.Fatalf("digest changed across reopen: %+v / %+v, was %+v", da2, db2, da)
	}
	a.append(batch(99, "z"), 999)
	if d, _ := a.l.Digest(); d == da {
		t.Fatal("digest did not change with an append")
	}
	// Segment files are identical too (not only their concatenation).
	b.append(batch(99, "z"), 999)
	for _, s := range a.l.Segments() {
		x, _ := os.ReadFile(filepath.Join(a.dir, segmentName(s.Base, extLog)))
		y, _ := os.ReadFile(filepath.Join(b.dir, segmentName(s.Base, extLog)))
		if string(x) != string(y) {
			t.Fatalf("segment %d differs between the replicas", s.Base)
		}
	}
}
