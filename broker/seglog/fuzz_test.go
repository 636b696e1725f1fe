package seglog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// fuzzTemplate is a log as a crash leaves it: four segments of batches of
// one to three records, the first twelve batches synced, eight more only
// written, so Open takes both its paths (trusted segments and a tail read
// through). files holds every file's bytes; want the batches.
type fuzzTemplate struct {
	opts  Options
	files map[string][]byte
	names []string // the files a fuzz input may damage, sorted
	want  map[int64][]byte
	last  map[int64]int64
	maxTs map[int64]int64
	next  int64
}

func newFuzzTemplate(t testing.TB) *fuzzTemplate {
	ft := &fuzzTemplate{opts: Options{SegmentBytes: 600, IndexIntervalBytes: 100}, files: map[string][]byte{}, maxTs: map[int64]int64{}}
	f := newFixture(t, ft.opts)
	for i := range 20 {
		vals := make([]string, 1+i%3)
		for j := range vals {
			vals[j] = fmt.Sprintf("v%d.%d", i, j)
		}
		ts := int64(1000 + 10*i)
		if i%7 == 3 {
			ts -= 55 // a producer clock running behind
		}
		b := batch(ts, vals...)
		base := f.append(b, int64(i))
		ft.maxTs[base] = ts + int64(len(vals)-1)
		if i == 11 {
			if err := f.l.Sync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, ft.next = f.l.Offsets()
	ft.want, ft.last = f.want, f.last
	f.kill()
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(f.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		ft.files[e.Name()] = data
		if e.Name() != checkpointName {
			ft.names = append(ft.names, e.Name())
		}
	}
	sort.Strings(ft.names)
	if len(ft.names) < 12 {
		t.Fatalf("template has files %v, want several segments", ft.names)
	}
	return ft
}

// expectedForTimestamp is the answer OffsetForTimestamp must give over the
// batches held between start and next.
func (ft *fuzzTemplate) expectedForTimestamp(ts, start, next int64) (int64, bool) {
	var bases []int64
	for b := range ft.want {
		bases = append(bases, b)
	}
	sort.Slice(bases, func(i, j int) bool { return bases[i] < bases[j] })
	for _, b := range bases {
		if b >= next || ft.last[b] < start {
			continue
		}
		if ft.maxTs[b] >= ts {
			return max(b, start), true
		}
	}
	return -1, false
}

func FuzzOpenSegment(f *testing.F) {
	ft := newFuzzTemplate(f)
	idx := func(base int64, ext string) uint8 {
		return uint8(slicesIndex(ft.names, segmentName(base, ext)))
	}
	bases := segmentBasesOf(ft.names)
	first, tail := bases[0], bases[len(bases)-1]
	f.Add(uint8(0), uint16(0), []byte{}, uint8(0))                       // untouched
	f.Add(idx(first, extLog), uint16(100), []byte{0xff, 0xff}, uint8(0)) // a synced batch damaged
	f.Add(idx(tail, extLog), uint16(70), []byte("torn"), uint8(0))       // the unsynced tail damaged
	f.Add(idx(tail, extLog), uint16(130), []byte{}, uint8(1))            // the tail cut short
	f.Add(idx(first, extIndex), uint16(0), []byte{}, uint8(3))           // an index lost
	f.Add(idx(first, extIndex), uint16(4), []byte{0, 0, 0, 9}, uint8(0)) // an entry pointing elsewhere
	f.Add(idx(tail, extTimeIndex), uint16(0), bytes.Repeat([]byte{0x7f}, 12), uint8(2))
	f.Add(idx(first, extTimeIndex), uint16(3), []byte{1, 2, 3}, uint8(0))
	f.Add(idx(tail, extAppendTime), uint16(0), []byte{}, uint8(1))
	f.Fuzz(func(t *testing.T, which uint8, pos uint16, patch []byte, op uint8) {
		dir := t.TempDir()
		target := ft.names[int(which)%len(ft.names)]
		for name, data := range ft.files {
			data = bytes.Clone(data)
			if name == target {
				p := int(pos) % (len(data) + 1)
				switch op % 4 {
				case 0: // overwrite
					if end := p + len(patch); end > len(data) {
						data = append(data, make([]byte, end-len(data))...)
					}
					copy(data[p:], patch)
				case 1: // cut
					data = data[:p]
				case 2: // grow
					data = append(data, patch...)
				case 3: // lose
					continue
				}
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		l, err := Open(dir, ft.opts)
		if err != nil {
			return // refusing damaged data is an answer
		}
		defer abandon(l) // no fsyncs: thousands of inputs run
		start, next := l.Offsets()
		if start > next || next > ft.next || start < 0 {
			t.Fatalf("Offsets() = %d, %d; the template held 0..%d", start, next, ft.next)
		}
		for off := start; off < next; off++ {
			for _, maxBytes := range []int{0, 1 << 20} {
				got, err := l.AppendBatches(nil, off, maxBytes)
				if err != nil {
					if !errors.Is(err, ErrCorrupt) {
						t.Fatalf("AppendBatches(%d): %v, want batches or ErrCorrupt", off, err)
					}
					continue
				}
				if err := ft.checkRun(got, off); err != nil {
					t.Fatalf("AppendBatches(%d, %d): %v", off, maxBytes, err)
				}
			}
		}
		logDamaged := strings.HasSuffix(target, extLog)
		for _, ts := range []int64{0, 1000, 1001, 1045, 1100, 1150, 1191, 1192, 5000} {
			off, _, ok, err := l.OffsetForTimestamp(ts)
			if err != nil {
				continue
			}
			if ok && (off < start || off >= next) {
				t.Fatalf("OffsetForTimestamp(%d) = %d outside %d..%d", ts, off, start, next)
			}
			// Indexes are checked or rebuilt by Open, so only a damaged log
			// file's headers can mislead the search.
			if wantOff, wantOK := ft.expectedForTimestamp(ts, start, next); !logDamaged && (ok != wantOK || off != wantOff) {
				t.Fatalf("OffsetForTimestamp(%d) = %d, %v; want %d, %v", ts, off, ok, wantOff, wantOK)
			}
		}
		b := batch(7777, "after recovery")
		if base, err := l.Append(b, 1, 7777, 100); err == nil {
			got, err := l.AppendBatches(nil, base, 0)
			if err != nil || !bytes.Equal(got, served(b, base)) {
				t.Fatalf("batch appended after recovery reads back %d bytes, %v", len(got), err)
			}
		}
	})
}

func FuzzReadIndex(f *testing.F) {
	ft := newFuzzTemplate(f)
	dir := f.TempDir()
	for name, data := range ft.files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			f.Fatal(err)
		}
	}
	l, err := Open(dir, ft.opts)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.Close() })
	seg := l.segs[0]
	good := ft.files[segmentName(0, extIndex)]
	f.Add(good, uint32(3))
	f.Add(good[:len(good)-3], uint32(0))
	f.Add(putIndexEntry(putIndexEntry(nil, 5, 0), 1, 400), uint32(4))
	f.Add(putIndexEntry(nil, 0, 1<<31), uint32(100))
	f.Add(bytes.Repeat([]byte{0xff}, 40), uint32(1<<31))
	f.Fuzz(func(t *testing.T, index []byte, target uint32) {
		// The search alone, over any bytes.
		n := int64(len(index) / indexEntrySize)
		slot, e, err := searchIndex(bytes.NewReader(index), n, indexEntrySize, offsetKey, int64(target))
		switch {
		case err != nil:
			t.Fatalf("searchIndex: %v", err)
		case slot < -1 || slot >= n:
			t.Fatalf("slot %d outside -1..%d", slot, n-1)
		case slot >= 0 && (offsetKey(e) > int64(target) || !bytes.Equal(e, index[slot*8:slot*8+8])):
			t.Fatalf("slot %d entry %x for target %d", slot, e, target)
		}

		// The same bytes as the offset and time index of a live segment,
		// behind the check Open makes: reads must still be right or fail.
		for _, fl := range []*file{seg.index, seg.timeIndex} {
			if err := fl.f.Truncate(0); err != nil {
				t.Fatal(err)
			}
			if _, err := fl.f.WriteAt(index, 0); err != nil {
				t.Fatal(err)
			}
		}
		l.mu.Lock()
		seg.indexEntries, seg.timeEntries = n, int64(len(index)/timeEntrySize)
		if n > 0 {
			r, p := indexEntry(index[(n-1)*8:])
			seg.lastIndexRel, seg.lastIndexPos = r, int64(p)
		}
		l.mu.Unlock()
		for off := seg.base; off < seg.next; off++ {
			got, err := l.AppendBatches(nil, off, int(target%2000))
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("AppendBatches(%d): %v, want a batch or ErrCorrupt", off, err)
				}
				continue
			}
			if err := ft.checkRun(got, off); err != nil {
				t.Fatalf("AppendBatches(%d) through a damaged index: %v", off, err)
			}
		}
		start, next := l.Offsets()
		if off, _, ok, err := l.OffsetForTimestamp(int64(target % 1300)); err == nil && ok && (off < start || off >= next) {
			t.Fatalf("OffsetForTimestamp through a damaged time index: %d outside %d..%d", off, start, next)
		}
	})
}

// checkRun checks that data is a run of batches exactly as appended, the
// first holding offset, each following the one before.
func (ft *fuzzTemplate) checkRun(data []byte, offset int64) error {
	if len(data) == 0 {
		return fmt.Errorf("no batch for offset %d", offset)
	}
	for first := true; len(data) > 0; first = false {
		h, err := parseHeader(data)
		if err != nil || h.length > int64(len(data)) {
			return fmt.Errorf("returned bytes are not whole batches: %v", err)
		}
		want, ok := ft.want[h.base]
		if !ok || !equalButLeaderEpoch(data[:h.length], want) {
			return fmt.Errorf("the batch at %d is not the one appended there", h.base)
		}
		if (first && (h.base > offset || h.last < offset)) || (!first && h.base != offset) {
			return fmt.Errorf("batch %d..%d where offset %d was due", h.base, h.last, offset)
		}
		data, offset = data[h.length:], h.last+1
	}
	return nil
}

// equalButLeaderEpoch compares two batches except for their partition
// leader epoch: the one field of a stored batch that neither Kafka's CRC nor
// the log's checks cover (see DESIGN.md), so damage there is not detected.
func equalButLeaderEpoch(a, b []byte) bool {
	return len(a) == len(b) && len(a) >= 16 && bytes.Equal(a[:12], b[:12]) && bytes.Equal(a[16:], b[16:])
}

func slicesIndex(names []string, name string) int {
	for i, n := range names {
		if n == name {
			return i
		}
	}
	panic("no file " + name)
}

// segmentBasesOf lists the bases of the segments among file names.
func segmentBasesOf(names []string) []int64 {
	var out []int64
	for _, n := range names {
		if b, ext, ok := parseSegmentName(n); ok && ext == extLog {
			out = append(out, b)
		}
	}
	return out
}
