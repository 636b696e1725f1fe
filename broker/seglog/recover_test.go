package seglog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// syncedThenTail appends five batches, syncs, and appends two more: offsets
// 0-4 are durable, 5-6 only in the page cache.
func syncedThenTail(t *testing.T, opts Options) *fixture {
	f := newFixture(t, opts)
	for i := range 5 {
		f.append(sized(int64(i), 120, byte('a'+i)), int64(i))
	}
	if err := f.l.Sync(); err != nil {
		t.Fatal(err)
	}
	f.append(sized(5, 120, 'f'), 5)
	f.append(sized(6, 120, 'g'), 6)
	return f
}

func (f *fixture) path(base int64, ext string) string {
	return filepath.Join(f.dir, segmentName(base, ext))
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	fl, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.Write(b); err != nil {
		t.Fatal(err)
	}
	fl.Close()
}

func flipByte(t *testing.T, path string, fromEnd int64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[int64(len(data))-fromEnd] ^= 0x40
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_TornTail_TruncatedToLastWholeBatch(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, f *fixture)
		next   int64
	}{
		{"garbage after the last batch", func(t *testing.T, f *fixture) {
			appendFile(t, f.path(0, extLog), []byte("this is not a record batch, it is what a torn write leaves behind"))
		}, 7},
		{"zeros after the last batch", func(t *testing.T, f *fixture) {
			appendFile(t, f.path(0, extLog), make([]byte, 4096))
		}, 7},
		{"the first half of a batch", func(t *testing.T, f *fixture) {
			appendFile(t, f.path(0, extLog), served(sized(7, 120, 'h'), 7)[:60])
		}, 7},
		{"a whole batch but its last byte", func(t *testing.T, f *fixture) {
			appendFile(t, f.path(0, extLog), served(sized(7, 120, 'h'), 7)[:119])
		}, 7},
		{"a bit flipped in the last batch", func(t *testing.T, f *fixture) {
			flipByte(t, f.path(0, extLog), 3)
		}, 6},
		{"a batch with the wrong offset", func(t *testing.T, f *fixture) {
			appendFile(t, f.path(0, extLog), served(sized(7, 120, 'h'), 9))
		}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := syncedThenTail(t, Options{IndexIntervalBytes: 200})
			f.kill()
			tt.damage(t, f)
			f.open()
			if _, next := f.l.Offsets(); next != tt.next {
				t.Fatalf("next after recovery %d, want %d", next, tt.next)
			}
			if st, _ := os.Stat(f.path(0, extLog)); st.Size() != tt.next*120 {
				t.Fatalf("log file %d bytes, want %d (whole batches)", st.Size(), tt.next*120)
			}
			f.forget(tt.next)
			f.checkAll()
			// Appends continue from the cut, and survive a clean restart.
			f.append(sized(100, 120, 'z'), 100)
			f.reopen()
			f.checkAll()
		})
	}
}

func TestOpen_TornTailAcrossSegments_LaterSegmentsDropped(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 250})
	for i := range 4 {
		f.append(sized(int64(i), 120, byte('a'+i)), int64(i)) // segments 0 and 2
	}
	if err := f.l.Sync(); err != nil {
		t.Fatal(err)
	}
	for i := 4; i < 9; i++ {
		f.append(sized(int64(i), 120, byte('a'+i)), int64(i)) // segments 4, 6, 8
	}
	f.kill()
	flipByte(t, f.path(4, extLog), 5) // the second batch of segment 4
	f.open()
	if _, next := f.l.Offsets(); next != 5 {
		t.Fatalf("next %d, want 5", next)
	}
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 2 4]" {
		t.Fatalf("segments %v, want [0 2 4]", got)
	}
	for _, b := range []int64{6, 8} {
		if _, err := os.Stat(f.path(b, extLog)); !os.IsNotExist(err) {
			t.Fatalf("segment %d after the cut still on disk", b)
		}
	}
	f.forget(5)
	f.checkAll()
}

func TestOpen_DamagedSyncedBytes_ErrorNotSilentLoss(t *testing.T) {
	t.Run("bit flipped inside the synced part of the active segment", func(t *testing.T) {
		f := syncedThenTail(t, Options{})
		f.kill()                                  // the segment holds unsynced bytes, so it is read through
		flipByte(t, f.path(0, extLog), 7*120-100) // inside batch 0
		_, err := Open(f.dir, f.opts)
		mustErr(t, err, ErrCorrupt)
	})
	t.Run("synced segment shorter than synced", func(t *testing.T) {
		f := syncedThenTail(t, Options{})
		f.kill()
		if err := os.Truncate(f.path(0, extLog), 3*120); err != nil {
			t.Fatal(err)
		}
		_, err := Open(f.dir, f.opts)
		mustErr(t, err, ErrCorrupt)
	})
	t.Run("append-time index damaged", func(t *testing.T) {
		f := syncedThenTail(t, Options{})
		f.kill()
		flipByte(t, f.path(0, extAppendTime), 7*12-4) // the first entry, synced
		_, err := Open(f.dir, f.opts)
		mustErr(t, err, ErrCorrupt)
	})
	t.Run("append-time index of a synced segment damaged", func(t *testing.T) {
		f := syncedThenTail(t, Options{})
		f.l.Close()
		f.l = nil
		flipByte(t, f.path(0, extAppendTime), 1)
		_, err := Open(f.dir, f.opts)
		mustErr(t, err, ErrCorrupt)
	})
	t.Run("the last synced segment lost", func(t *testing.T) {
		f := tenSegmentsClosed(t)
		for _, ext := range segmentExts {
			os.Remove(f.path(27, ext))
		}
		_, err := Open(f.dir, f.opts)
		mustErr(t, err, ErrCorrupt)
	})
	t.Run("a synced segment in the middle lost", func(t *testing.T) {
		f := tenSegmentsClosed(t)
		os.Remove(f.path(12, extLog))
		_, err := Open(f.dir, f.opts)
		mustErr(t, err, ErrCorrupt)
	})
	t.Run("checkpoint damaged", func(t *testing.T) {
		f := syncedThenTail(t, Options{})
		f.kill()
		flipByte(t, filepath.Join(f.dir, checkpointName), 20)
		_, err := Open(f.dir, f.opts)
		mustErr(t, err, ErrCorrupt)
	})
}

func TestOpen_MissingOrCorruptIndex_RebuiltFromLog(t *testing.T) {
	opts := Options{SegmentBytes: 1000, IndexIntervalBytes: 100}
	// Batch i holds offsets 2i and 2i+1 and max timestamp 1001+10i.
	build := func(t *testing.T) *fixture {
		f := newFixture(t, opts)
		for i := range 30 {
			f.append(batch(int64(1000+i*10), fmt.Sprintf("value %d", i), "second"), int64(i))
		}
		if err := f.l.Close(); err != nil {
			t.Fatal(err)
		}
		f.l = nil
		return f
	}
	ref := build(t)
	refLog, err := Open(ref.dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	segs := segmentBases(refLog)
	refLog.Close()
	first, last := segs[0], segs[len(segs)-1]
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %v", segs)
	}
	indexOf := func(f *fixture, base int64) []byte {
		b, err := os.ReadFile(f.path(base, extIndex))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		damage func(t *testing.T, f *fixture)
	}{
		{"index files deleted", func(t *testing.T, f *fixture) {
			for _, b := range []int64{first, last} {
				os.Remove(f.path(b, extIndex))
				os.Remove(f.path(b, extTimeIndex))
			}
		}},
		{"index entry pointing elsewhere", func(t *testing.T, f *fixture) {
			flipByte(t, f.path(first, extIndex), 1) // the last entry's position
		}},
		{"time index garbage", func(t *testing.T, f *fixture) {
			os.WriteFile(f.path(first, extTimeIndex), bytes.Repeat([]byte{0xff}, 24), 0o644)
		}},
		{"index of partial entries", func(t *testing.T, f *fixture) {
			appendFile(t, f.path(last, extIndex), []byte{1, 2, 3})
		}},
		{"checkpoint deleted: everything read through", func(t *testing.T, f *fixture) {
			os.Remove(filepath.Join(f.dir, checkpointName))
			os.Remove(f.path(first, extIndex))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := build(t)
			tt.damage(t, f)
			f.open()
			f.checkAll()
			for _, b := range segs {
				if !bytes.Equal(indexOf(f, b), indexOf(ref, b)) {
					t.Errorf("index of segment %d rebuilt differently", b)
				}
			}
			for _, ts := range []int64{-5, 999, 1001, 1002, 1105, 1290, 1291} {
				i := max(0, (ts-1001+9)/10)
				off, _, ok, err := f.l.OffsetForTimestamp(ts)
				if err != nil || !ok || off != 2*i {
					t.Errorf("OffsetForTimestamp(%d) = %d, %v, %v; want %d", ts, off, ok, err, 2*i)
				}
			}
			if _, _, ok, _ := f.l.OffsetForTimestamp(1292); ok {
				t.Error("OffsetForTimestamp past the last timestamp found a batch")
			}
		})
	}
}

func TestOpen_AfterCrash_AppendTimesOfUnsyncedTailKept(t *testing.T) {
	f := newFixture(t, Options{SegmentMs: 100})
	f.append(batch(1, "a"), 1000)
	f.append(batch(2, "b"), 1050)
	f.append(batch(3, "c"), 1101) // rolls
	f.append(batch(4, "d"), 1150)
	f.crash() // nothing synced: every segment is read through
	segs := f.l.Segments()
	if len(segs) != 2 || segs[0].FirstAppendTimeMs != 1000 || segs[0].MaxAppendTimeMs != 1050 || segs[1].FirstAppendTimeMs != 1101 || segs[1].MaxAppendTimeMs != 1150 {
		t.Fatalf("segments after crash %+v", segs)
	}
	// The roll decision after the crash is the one before it.
	f.append(batch(5, "e"), 1201)
	f.append(batch(6, "f"), 1202)
	if got := segmentBases(f.l); fmt.Sprint(got) != "[0 2 5]" {
		t.Fatalf("segments %v, want [0 2 5]", got)
	}
}

func TestOpen_LeftoversOfADeletionRemoved(t *testing.T) {
	f := tenSegmentsClosed(t)
	// A crash while deleting segment 0: its log file went first.
	os.Remove(f.path(0, extLog))
	os.WriteFile(filepath.Join(f.dir, "checkpoint.tmp"), []byte("half"), 0o644)
	f.open()
	for _, name := range []string{segmentName(0, extIndex), segmentName(0, extTimeIndex), segmentName(0, extAppendTime), "checkpoint.tmp"} {
		if _, err := os.Stat(filepath.Join(f.dir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind", name)
		}
	}
	if start, next := f.l.Offsets(); start != 3 || next != 30 {
		t.Fatalf("Offsets() = %d, %d; want 3, 30", start, next)
	}
}

func tenSegmentsClosed(t *testing.T) *fixture {
	f := tenSegments(t)
	if err := f.l.Close(); err != nil {
		t.Fatal(err)
	}
	f.l = nil
	return f
}

func TestRead_DamagedBytesInATrustedSegment_ErrCorruptNeverAWrongBatch(t *testing.T) {
	f := tenSegmentsClosed(t)
	// Open trusts synced segments without reading their log files; the
	// damage shows when a read reaches it.
	flipByte(t, f.path(3, extLog), 150) // inside the batch at offset 4
	f.open()
	for off := int64(0); off < 30; off++ {
		got, err := f.l.AppendBatches([]byte("kept"), off, 0)
		if off == 4 {
			mustErr(t, err, ErrCorrupt)
			if string(got) != "kept" {
				t.Fatalf("dst changed on error: %q", got)
			}
			continue
		}
		if err != nil {
			t.Fatalf("AppendBatches(%d): %v", off, err)
		}
		if err := f.isBatchHolding(got[4:], off); err != nil {
			t.Fatalf("AppendBatches(%d): %v", off, err)
		}
	}
	// A read running into it stops with the error rather than skip it.
	if _, err := f.l.AppendBatches(nil, 3, 1<<20); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read across the damage: %v, want ErrCorrupt", err)
	}
	if f.l.Err() != nil {
		t.Fatalf("a read error failed the log: %v", f.l.Err())
	}
}
