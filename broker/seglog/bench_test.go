package seglog

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// Run: go test -run '^$' -bench . -benchtime 2s ./broker/seglog
// The page cache is warm throughout: "cold" is a reader far behind the tail,
// in sealed segments whose index is searched in its file, not a cold disk.

func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1024, 16 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{SegmentBytes: 16 << 20})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			data := sized(1, size, 'b')
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			for i := range b.N {
				if _, err := l.Append(data, 1, 1, int64(i)); err != nil {
					b.Fatal(err)
				}
				if i%4096 == 4095 { // keep the disk used bounded: ~64 MiB
					if _, err := l.Retain(func(_ SegmentInfo, size int64) bool { return size <= 64<<20 }); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// readLog is 64 MiB of 1 KiB batches in 8 MiB segments, reopened so that
// nothing of it is in the log's memory.
func readLog(b *testing.B) (*Log, int64) {
	dir := b.TempDir()
	opts := Options{SegmentBytes: 8 << 20}
	l, err := Open(dir, opts)
	if err != nil {
		b.Fatal(err)
	}
	data := sized(1, 1024, 'r')
	const n = 64 << 10
	for i := range n {
		if _, err := l.Append(data, 1, 1, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	if l, err = Open(dir, opts); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l, n
}

func BenchmarkRead(b *testing.B) {
	l, n := readLog(b)
	var buf []byte
	read := func(b *testing.B, off int64, maxBytes int) {
		var err error
		if buf, err = l.AppendBatches(buf[:0], off, maxBytes); err != nil || len(buf) == 0 {
			b.Fatalf("read at %d: %d bytes, %v", off, len(buf), err)
		}
	}
	// A consumer at the tail asking for what is new: the last batch.
	b.Run("tail-1batch", func(b *testing.B) {
		for range b.N {
			read(b, n-1, 1<<20)
		}
	})
	// A consumer catching up from a random point far behind: 1 MiB fetches.
	b.Run("cold-1MiB", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 2))
		b.SetBytes(1 << 20)
		for range b.N {
			read(b, rng.Int64N(n-2048), 1<<20)
		}
	})
	// Index lookups alone: one batch at a random offset.
	b.Run("cold-1batch", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(3, 4))
		for range b.N {
			read(b, rng.Int64N(n), 0)
		}
	})
	b.Run("sequential-1MiB", func(b *testing.B) {
		b.SetBytes(1 << 20)
		off := int64(0)
		for range b.N {
			read(b, off, 1<<20)
			off += 1000
			if off >= n-1024 {
				off = 0
			}
		}
	})
}

func byteSize(n int) string {
	if n >= 1024 {
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}
