package seglog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/raftline/raftline/broker/recordbatch"
	"github.com/raftline/raftline/broker/recordbatch/batchtest"
)

// batch builds a plain magic-2 record batch as a producer sends it: one
// record per value, base offset 0, timestamps firstTs, firstTs+1, ...
func batch(firstTs int64, values ...string) []byte { return batchtest.Plain(firstTs, values...) }

// sized is a one-record batch of size bytes (or a byte or two more when a
// varint's width makes size impossible; at least about 70), its value filled
// with fill.
func sized(ts int64, size int, fill byte) []byte {
	v := max(size-70, 1)
	b := batch(ts, strings.Repeat(string(fill), v))
	for range 4 {
		if len(b) == size || v+size-len(b) < 1 {
			break
		}
		v += size - len(b)
		b = batch(ts, strings.Repeat(string(fill), v))
	}
	return b
}

// served is b as the log serves it at base.
func served(b []byte, base int64) []byte {
	out := bytes.Clone(b)
	binary.BigEndian.PutUint64(out, uint64(base))
	return out
}

// fixture is a log and what it should hold: every batch appended, as served,
// by base offset.
type fixture struct {
	t    testing.TB
	dir  string
	opts Options
	l    *Log
	want map[int64][]byte
	last map[int64]int64 // base -> last offset
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir() + "/p0", opts: opts, want: map[int64][]byte{}, last: map[int64]int64{}}
	f.open()
	t.Cleanup(func() {
		if f.l != nil {
			f.l.Close()
		}
	})
	return f
}

func (f *fixture) open() {
	f.t.Helper()
	l, err := Open(f.dir, f.opts)
	if err != nil {
		f.t.Fatalf("Open(%s): %v", f.dir, err)
	}
	f.l = l
}

// reopen closes the log (syncing it) and opens it again.
func (f *fixture) reopen() {
	f.t.Helper()
	if err := f.l.Close(); err != nil {
		f.t.Fatalf("Close: %v", err)
	}
	f.open()
}

// kill closes the log's files without syncing, as a killed process leaves
// them: the page cache keeps what was written, the checkpoint stays at the
// last sync.
func (f *fixture) kill() {
	f.t.Helper()
	abandon(f.l)
	f.l = nil
}

// abandon closes a log's files without syncing.
func abandon(l *Log) {
	l.mu.Lock()
	l.closed = true
	closeFiles(l.segs)
	l.mu.Unlock()
}

// crash kills the log and opens it again.
func (f *fixture) crash() {
	f.t.Helper()
	f.kill()
	f.open()
}

// append appends b at appendMs and records what must be read back.
func (f *fixture) append(b []byte, appendMs int64) int64 {
	f.t.Helper()
	h, err := recordbatch.ParseHeader(b)
	if err != nil {
		f.t.Fatalf("test batch: %v", err)
	}
	base, err := f.l.Append(b, int64(h.RecordCount), h.MaxTimestamp, appendMs)
	if err != nil {
		f.t.Fatalf("Append: %v", err)
	}
	f.want[base] = served(b, base)
	f.last[base] = base + int64(h.RecordCount) - 1
	return base
}

// forget drops what the fixture expects from offset next on.
func (f *fixture) forget(next int64) {
	for b := range f.want {
		if b >= next {
			delete(f.want, b)
			delete(f.last, b)
		}
	}
}

// checkAll reads every offset from the start offset to the high watermark
// one batch at a time and checks each answer is the batch holding it.
func (f *fixture) checkAll() {
	f.t.Helper()
	start, next := f.l.Offsets()
	for off := start; off < next; off++ {
		got, err := f.l.AppendBatches(nil, off, 0)
		if err != nil {
			f.t.Fatalf("AppendBatches(%d): %v", off, err)
		}
		if err := f.isBatchHolding(got, off); err != nil {
			f.t.Fatalf("AppendBatches(%d): %v", off, err)
		}
	}
}

// isBatchHolding checks that got is exactly the batch appended that holds
// offset.
func (f *fixture) isBatchHolding(got []byte, offset int64) error {
	for base, b := range f.want {
		if base <= offset && offset <= f.last[base] {
			if !bytes.Equal(got, b) {
				return fmt.Errorf("got %d bytes, want the %d-byte batch at %d", len(got), len(b), base)
			}
			return nil
		}
	}
	return fmt.Errorf("no batch appended holds offset %d", offset)
}

// bases lists the base offsets of the batches in data.
func bases(t testing.TB, data []byte) []int64 {
	t.Helper()
	var out []int64
	for len(data) > 0 {
		h, err := recordbatch.Parse(data)
		if err != nil {
			t.Fatalf("returned bytes are not whole valid batches: %v", err)
		}
		out = append(out, int64(binary.BigEndian.Uint64(data)))
		data = data[h.Length:]
	}
	return out
}

func segmentBases(l *Log) []int64 {
	var out []int64
	for _, s := range l.Segments() {
		out = append(out, s.Base)
	}
	return out
}

func mustErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }
