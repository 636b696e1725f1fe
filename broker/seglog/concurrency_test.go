package seglog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/raftline/raftline/broker/partlog"
	"github.com/raftline/raftline/broker/recordbatch"
)

// valueAt is the value of the one-record batch at offset i, so readers can
// check what they read without sharing the writer's bookkeeping.
func valueAt(i int64) string { return fmt.Sprintf("record-%06d-%s", i, string(rune('a'+i%26))) }

// checkRecord checks that data starts with the one-record batch at offset.
func checkRecord(data []byte, offset int64) error {
	h, err := recordbatch.Parse(data)
	if err != nil {
		return err
	}
	got := served(batch(offset+1, valueAt(offset)), offset)
	if string(data[:h.Length]) != string(got) {
		return fmt.Errorf("offset %d: read a different batch", offset)
	}
	return nil
}

func TestConcurrentReaders_DuringAppendsRollsRetentionAndSync(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 2000, IndexIntervalBytes: 200})
	const total = 3000
	var next atomic.Int64 // offsets below it are appended
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			var buf []byte
			for !stop.Load() {
				start, hw := f.l.Offsets()
				if hw == start {
					runtime.Gosched()
					continue
				}
				off := start + rng.Int64N(hw-start)
				var err error
				buf, err = f.l.AppendBatches(buf[:0], off, 1+rng.IntN(3000))
				if errors.Is(err, ErrOffsetOutOfRange) {
					continue // retention moved the start meanwhile
				}
				if err != nil {
					report(fmt.Errorf("read at %d: %w", off, err))
					return
				}
				for o, rest := off, buf; len(rest) > 0; o++ {
					if err := checkRecord(rest, o); err != nil {
						report(err)
						return
					}
					h, _ := recordbatch.Parse(rest)
					rest = rest[h.Length:]
				}
				if r == 0 {
					// Batch i has max timestamp i+1: the answer is ts-1, or the
					// start offset of the moment if retention moved past it
					// (the start only grows, so it is at most the start after).
					ts := 1 + rng.Int64N(hw)
					got, _, ok, err := f.l.OffsetForTimestamp(ts)
					startAfter, _ := f.l.Offsets()
					if err != nil || !ok || got < ts-1 || (got > ts-1 && got > startAfter) {
						report(fmt.Errorf("OffsetForTimestamp(%d) = %d, %v, %v (start now %d)", ts, got, ok, err, startAfter))
					}
				}
				if r == 1 && rng.IntN(50) == 0 {
					if _, err := f.l.Digest(); err != nil {
						report(fmt.Errorf("Digest: %w", err))
					}
				}
			}
		}()
	}
	for i := int64(0); i < total; i++ {
		if _, err := f.l.Append(batch(i+1, valueAt(i)), 1, i+1, i); err != nil {
			t.Fatal(err)
		}
		next.Store(i + 1)
		switch {
		case i%500 == 499:
			// Keep the last ~20 segments.
			if _, err := f.l.Retain(func(_ SegmentInfo, size int64) bool { return size <= 40_000 }); err != nil {
				t.Fatal(err)
			}
		case i%700 == 0:
			if err := f.l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestDigest_SameAsPartlogForTheSameAppends(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 300})
	pl := partlog.New(0)
	for i := range 12 {
		b := sized(int64(i), 60+i*9, byte('k'+i))
		h, _ := recordbatch.ParseHeader(b)
		f.append(b, int64(i))
		pl.Append(b, int64(h.RecordCount), h.MaxTimestamp, int64(i))
	}
	got, err := f.l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	want := pl.Digest()
	if got.Start != want.Start || got.Next != want.Next || got.Bytes != want.Bytes || got.SHA256 != want.SHA256 {
		t.Fatalf("seglog digest %+v, partlog digest %+v", got, want)
	}
}

func TestFailStop_WriteErrorFailsTheLogWithOpAndPath(t *testing.T) {
	f := newFixture(t, Options{})
	f.append(batch(1, "a"), 1)
	// The disk goes away under the active segment.
	f.l.mu.RLock()
	f.l.active().log.f.Close()
	f.l.mu.RUnlock()
	_, err := f.l.Append(batch(2, "b"), 1, 2, 2)
	var fe *Error
	if !errors.As(err, &fe) || fe.Op != "write" || fe.Path != f.path(0, extLog) {
		t.Fatalf("Append after the file failed: %v, want an *Error for write %s", err, f.path(0, extLog))
	}
	if f.l.Err() != err {
		t.Fatalf("Err() = %v, want %v", f.l.Err(), err)
	}
	// Every later write returns the same error; nothing is half applied.
	if _, err2 := f.l.Append(batch(3, "c"), 1, 3, 3); err2 != err {
		t.Fatalf("second Append: %v, want the first error", err2)
	}
	for name, op := range map[string]func() error{
		"Sync":       f.l.Sync,
		"TruncateTo": func() error { return f.l.TruncateTo(0) },
		"SetStart":   func() error { return f.l.SetStart(1) },
		"Retain":     func() error { _, err := f.l.Retain(func(SegmentInfo, int64) bool { return false }); return err },
		"Manifest":   func() error { _, err := f.l.Manifest(); return err },
	} {
		if got := op(); got != err {
			t.Errorf("%s on a failed log: %v, want the first error", name, got)
		}
	}
	if _, next := f.l.Offsets(); next != 1 {
		t.Fatalf("next %d after the failed append, want 1", next)
	}
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the cause is not kept: %v", err)
	}
}

func TestHeap_DoesNotGrowWithRetainedData(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 64 MiB")
	}
	// 64 MiB in 64 segments: the heap keeps a few hundred bytes per segment
	// and no record bytes. 8 MiB is far above that and far below the data.
	f := newFixture(t, Options{SegmentBytes: 1 << 20})
	data := sized(1, 1024, 'm')
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range 64 << 10 {
		if _, err := f.l.Append(data, 1, 1, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	var buf []byte
	for off := int64(0); off < 64<<10; off += 997 {
		var err error
		if buf, err = f.l.AppendBatches(buf[:0], off, 64<<10); err != nil {
			t.Fatal(err)
		}
	}
	buf = nil
	after := heap()
	if n := len(f.l.Segments()); n < 60 {
		t.Fatalf("%d segments, want about 64", n)
	}
	growth := int64(after) - int64(before)
	t.Logf("64 MiB appended and read: heap grew by %d KiB", growth>>10)
	if growth > 8<<20 {
		t.Fatalf("heap grew by %d bytes holding 64 MiB of records", growth)
	}
}
