package seglog

import (
	"bytes"
	"errors"
	"os"
	"testing"
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
func TestRemove_DeletesTheDirectory(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 300})
	for i := range 6 {
		f.append(sized(1000, 100, 'a'), int64(i))
	}
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
	if err := f.l.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}
