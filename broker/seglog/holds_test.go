package seglog

import (
	"testing"
)

// A log holds its own manifest, and still does after more appends (the
// active segment grew: its first bytes are read and compared), after
// retention deleted segments the manifest lists, and after a reopen. It
// does not hold a manifest whose files differ, nor one that reaches past
// its end.
func TestHolds(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 1000, IndexIntervalBytes: 100})
	for i := range 30 {
		f.append(batch(int64(1000+i), "value", "more"), int64(100+i))
	}
	if err := f.l.SetStart(3); err != nil {
		t.Fatal(err)
	}
	m, err := f.l.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	holds := func(m Manifest) bool {
		t.Helper()
		ok, err := f.l.Holds(m)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !holds(m) {
		t.Fatal("a log does not hold its own manifest")
	}
	f.append(batch(2000, "later"), 200)
	active := f.l.segs[len(f.l.segs)-1]
	if lm := m.Files[len(m.Files)-2]; active.base != lm.Base || active.log.size <= lm.Length {
		t.Fatalf("setup: the manifest's last segment (base %d, %d bytes) did not grow", lm.Base, lm.Length)
	}
	if !holds(m) {
		t.Fatal("appending more makes the log not hold what it held")
	}
	if _, err := f.l.Retain(func(s SegmentInfo, size int64) bool { return s.Base > 0 }); err != nil {
		t.Fatal(err)
	}
	if !holds(m) {
		t.Fatal("deleting the first segment makes the log not hold the rest")
	}
	if err := f.l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := Open(f.dir, f.opts)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if ok, err := l.Holds(m); err != nil || !ok {
		t.Fatalf("reopened: Holds = %v, %v", ok, err)
	}

	changed := m
	changed.Files = append([]File(nil), m.Files...)
	last := len(changed.Files) - 2 // the last segment's log file
	changed.Files[last].CRC32C ^= 1
	if ok, _ := l.Holds(changed); ok {
		t.Fatal("holds a manifest whose last segment differs")
	}
	ahead := m
	ahead.Next = m.Next + 100
	if ok, _ := l.Holds(ahead); ok {
		t.Fatal("holds a manifest that reaches past its end")
	}
	longer := m
	longer.Files = append([]File(nil), m.Files...)
	longer.Files[last].Length += 1 << 20
	if ok, _ := l.Holds(longer); ok {
		t.Fatal("holds a file longer than its own")
	}
}
