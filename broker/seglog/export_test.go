package seglog

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/raftline/raftline/broker/recordbatch"
)

func TestCreate_EmptyLogAtOffset_ReplacesTheDirectory(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 300})
	for i := range 5 {
		f.append(sized(1000, 100, 'a'), int64(i))
	}
	f.l.Close()
	f.l = nil

	l, err := Create(f.dir, 40, Options{SegmentBytes: 300})
	if err != nil {
		t.Fatal(err)
	}
	if start, next := l.Offsets(); start != 40 || next != 40 || l.Size() != 0 {
		t.Fatalf("created log: Offsets() = %d, %d, Size() = %d; want 40, 40, 0", start, next, l.Size())
	}
	entries, _ := os.ReadDir(f.dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 4 || names[0] != segmentName(40, extAppendTime) {
		t.Fatalf("directory holds %v, want the four files of one segment at 40", names)
	}
	b := batch(1000, "x", "y")
	if base, err := l.Append(b, 2, 1001, 7); err != nil || base != 40 {
		t.Fatalf("Append = %d, %v; want 40", base, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f.open()
	if start, next := f.l.Offsets(); start != 40 || next != 42 {
		t.Fatalf("reopened: Offsets() = %d, %d; want 40, 42", start, next)
	}
	got, err := f.l.AppendBatches(nil, 40, 1<<20)
	if err != nil || !bytes.Equal(got, served(b, 40)) {
		t.Fatalf("reopened: AppendBatches = %d bytes, %v", len(got), err)
	}
	if _, err := Create(f.dir+"/x", -1, Options{}); err == nil {
		t.Fatal("Create at a negative offset succeeded")
	}
}

// exported is every batch an Export yields, with the bytes copied.
type exported struct {
	b          Batch
	appendTime int64
}

func exportAll(t *testing.T, e *Export) []exported {
	t.Helper()
	var out []exported
	err := e.Batches(func(b Batch, appendTime int64) error {
		b.Data = bytes.Clone(b.Data)
		out = append(out, exported{b, appendTime})
		return nil
	})
	if err != nil {
		t.Fatalf("Batches: %v", err)
	}
	return out
}

// An export sees the log as it was, whatever happens to the log after:
// appends, retention deleting every segment it holds. Appending what it
// yields, each batch with the append time it gives, to a log created at its
// start offset rebuilds the log as it was: same digest, same segments, same
// append-time files, even where the append times went back.
func TestExport_PointInTime_RebuildsTheSameLog(t *testing.T) {
	// Segments roll at 300 bytes (three batches) or 30 ms after their first
	// batch; append times go back inside segments.
	opts := Options{SegmentBytes: 300, SegmentMs: 30, IndexIntervalBytes: 100}
	f := newFixture(t, opts)
	appendTimes := []int64{10, 20, 15, 30, 25, 30, 40, 35, 80, 75, 90, 85, 120, 100}
	for i, at := range appendTimes {
		f.append(sized(int64(1000+i), 90+10*(i%3), byte('a'+i)), at)
	}
	// Retention moves the start off offset 0.
	if _, err := f.l.Retain(func(s SegmentInfo, _ int64) bool { return s.Base > 0 }); err != nil {
		t.Fatal(err)
	}
	want, err := f.l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	wantSegs := fmt.Sprint(f.l.Segments())
	if n := len(f.l.Segments()); n < 4 {
		t.Fatalf("setup: %d segments", n)
	}
	var wantTimes [][]byte
	for _, s := range f.l.Segments() {
		wantTimes = append(wantTimes, readFile(t, filepath.Join(f.dir, segmentName(s.Base, extAppendTime))))
	}

	e, err := f.l.Export()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for i := range 10 {
		f.append(sized(2000, 100, 'z'), int64(100+i))
	}
	if _, err := f.l.Retain(func(SegmentInfo, int64) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if start, next := e.Offsets(); start != want.Start || next != want.Next {
		t.Fatalf("Offsets() = %d, %d; want %d, %d", start, next, want.Start, want.Next)
	}
	n, size, err := e.Count()
	if err != nil {
		t.Fatal(err)
	}
	got := exportAll(t, e)
	if n != len(got) || size != want.Bytes {
		t.Fatalf("Count() = %d batches, %d bytes; Batches yields %d, the log held %d bytes", n, size, len(got), want.Bytes)
	}

	dir := t.TempDir() + "/rebuilt"
	l, err := Create(dir, want.Start, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, x := range got {
		h, err := recordbatch.ParseHeader(x.b.Data)
		if err != nil {
			t.Fatal(err)
		}
		base, err := l.Append(x.b.Data, int64(h.RecordCount), x.b.MaxTimestamp, x.appendTime)
		if err != nil || base != x.b.BaseOffset {
			t.Fatalf("Append = %d, %v; want %d", base, err, x.b.BaseOffset)
		}
	}
	if d, err := l.Digest(); err != nil || d != want {
		t.Fatalf("rebuilt digest %+v, %v; want %+v", d, err, want)
	}
	if segs := fmt.Sprint(l.Segments()); segs != wantSegs {
		t.Fatalf("rebuilt segments %s, want %s", segs, wantSegs)
	}
	for i, s := range l.Segments() {
		if got := readFile(t, filepath.Join(dir, segmentName(s.Base, extAppendTime))); !bytes.Equal(got, wantTimes[i]) {
			t.Fatalf("segment %d: append-time index differs", s.Base)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExport_DamagedBytes_ErrCorrupt(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 300})
	for i := range 6 {
		f.append(sized(1000, 100, 'a'), int64(i))
	}
	e, err := f.l.Export()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	path := filepath.Join(f.dir, segmentName(3, extLog))
	data := readFile(t, path)
	data[150] ^= 0xff // inside the second batch's records: its CRC no longer holds
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := e.Batches(func(Batch, int64) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Batches over damaged bytes: %v, want ErrCorrupt", err)
	}
	// A function's error ends the walk.
	boom := errors.New("boom")
	calls := 0
	if err := e.Batches(func(Batch, int64) error { calls++; return boom }); !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("Batches returned %v after %d calls, want boom after 1", err, calls)
	}
	f.l.Close()
	if _, err := f.l.Export(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Export of a closed log: %v, want ErrClosed", err)
	}
}

func TestRemove_DeletesTheDirectory_ExportStillReadable(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 300})
	for i := range 6 {
		f.append(sized(1000, 100, 'a'), int64(i))
	}
	e, err := f.l.Export()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := f.l.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.dir); !os.IsNotExist(err) {
		t.Fatalf("directory still there: %v", err)
	}
	if _, err := f.l.Append(sized(1000, 100, 'b'), 1, 1000, 9); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Remove: %v, want ErrClosed", err)
	}
	if _, err := f.l.AppendBatches(nil, 0, 100); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Remove: %v, want ErrClosed", err)
	}
	if got := exportAll(t, e); len(got) != 6 {
		t.Fatalf("export taken before Remove yields %d batches, want 6", len(got))
	}
	if err := f.l.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

// DeleteRecords moves the start inside a segment. The export still yields
// that segment's batches below the start, so a log rebuilt from it, given
// the start with SetStart, has the same segments and digest as the
// original, and rolls at the same offsets after it.
func TestExport_StartInsideASegment_RebuildsTheSameSegments(t *testing.T) {
	opts := Options{SegmentBytes: 300}
	f := newFixture(t, opts)
	for i := range 7 {
		f.append(sized(int64(1000+i), 100, byte('a'+i)), int64(10+i))
	}
	// Segments hold offsets 0-2, 3-5 and 6; the start moves to 4.
	if err := f.l.SetStart(4); err != nil {
		t.Fatal(err)
	}
	want, err := f.l.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if want.Start != 4 || f.l.Segments()[0].Base != 3 {
		t.Fatalf("setup: start %d, first segment at %d", want.Start, f.l.Segments()[0].Base)
	}
	e, err := f.l.Export()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	n, size, err := e.Count()
	if err != nil {
		t.Fatal(err)
	}
	got := exportAll(t, e)
	if n != len(got) || n != 4 || size != want.Bytes || got[0].b.BaseOffset != 3 {
		t.Fatalf("Count() = %d batches, %d bytes, the first yielded at %d; want 4 batches from offset 3, %d bytes", n, size, got[0].b.BaseOffset, want.Bytes)
	}
	l, err := Create(t.TempDir()+"/rebuilt", got[0].b.BaseOffset, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, x := range got {
		h, err := recordbatch.ParseHeader(x.b.Data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(x.b.Data, int64(h.RecordCount), x.b.MaxTimestamp, x.appendTime); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.SetStart(want.Start); err != nil {
		t.Fatal(err)
	}
	if d, err := l.Digest(); err != nil || d != want {
		t.Fatalf("rebuilt digest %+v, %v; want %+v", d, err, want)
	}
	after := sized(2000, 100, 'z')
	for _, log := range []*Log{f.l, l} {
		if _, err := log.Append(after, 1, 2000, 20); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := fmt.Sprint(f.l.Segments()), fmt.Sprint(l.Segments()); a != b {
		t.Fatalf("rebuilt segments %s, want %s", b, a)
	}
	if _, err := l.Read(3, 1<<20); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("Read below the rebuilt start: %v, want ErrOffsetOutOfRange", err)
	}
}
