package seglog

import (
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

// onDisk is what the segment files in dir take, by the same measures as
// Stats: .log files counted and summed, the three index files summed.
func onDisk(t *testing.T, dir string) Stats {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var st Stats
	for _, e := range entries {
		_, ext, ok := parseSegmentName(e.Name())
		if !ok {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if ext == extLog {
			st.Segments++
			st.LogBytes += fi.Size()
		} else {
			st.IndexBytes += fi.Size()
		}
	}
	return st
}

// checkStats fails unless the log's Stats equal what its files hold.
func checkStats(t *testing.T, l *Log, when string) Stats {
	t.Helper()
	got, want := l.Stats(), onDisk(t, l.Dir())
	if got != want {
		t.Fatalf("%s: Stats() = %+v, the files hold %+v", when, got, want)
	}
	return got
}

// Stats comes from sizes kept in memory, so it must follow every change to
// the files: appends that add index entries, rolls, the time index entry a
// sync seals, retention, truncation, recovery after a crash, a reopen that
// trusts synced files, and an install.
func TestStats_EqualsTheFilesThroughEveryChange(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 1000, IndexIntervalBytes: 100})
	if st := checkStats(t, f.l, "empty"); st.Segments != 1 || st.LogBytes != 0 || st.IndexBytes != 0 {
		t.Fatalf("empty log: %+v, want one empty segment and no bytes", st)
	}
	for i := range 40 {
		f.append(sized(int64(1000+i), 120, 'a'), int64(100+i))
	}
	st := checkStats(t, f.l, "after 40 appends")
	if st.Segments < 4 || st.IndexBytes == 0 || st.LogBytes != f.l.Size() {
		t.Fatalf("after 40 appends of ~120 bytes into 1000-byte segments: %+v, Size %d", st, f.l.Size())
	}
	if err := f.l.Sync(); err != nil {
		t.Fatal(err)
	}
	checkStats(t, f.l, "after Sync")
	for i := range 5 {
		f.append(sized(int64(2000+i), 120, 'b'), int64(200+i))
	}
	f.crash() // the five appends since the sync are recovered from the files
	checkStats(t, f.l, "after a crash")
	if _, err := f.l.Retain(func(s SegmentInfo, _ int64) bool { return s.MaxAppendTimeMs >= 120 }); err != nil {
		t.Fatal(err)
	}
	checkStats(t, f.l, "after retention")
	_, next := f.l.Offsets()
	if err := f.l.TruncateTo(next - 3); err != nil {
		t.Fatal(err)
	}
	checkStats(t, f.l, "after TruncateTo")
	f.reopen()
	checkStats(t, f.l, "after a reopen")

	m, err := f.l.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	dst := newFixture(t, Options{SegmentBytes: 1000, IndexIntervalBytes: 100})
	if err := dst.l.Install(m, func(name string) (io.Reader, error) { return f.l.OpenSegment(name) }); err != nil {
		t.Fatal(err)
	}
	if got, want := checkStats(t, dst.l, "after Install"), f.l.Stats(); got.Segments != want.Segments || got.LogBytes != want.LogBytes {
		t.Fatalf("installed log %+v, source %+v", got, want)
	}
}

// OnSync hears of every sync, with its duration, and of nothing else.
func TestOptions_OnSync_ToldOfEverySync(t *testing.T) {
	var (
		mu    sync.Mutex
		syncs []time.Duration
	)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(syncs) }
	opts := Options{SegmentBytes: 1000, OnSync: func(d time.Duration) {
		mu.Lock()
		syncs = append(syncs, d)
		mu.Unlock()
	}}
	f := newFixture(t, opts)
	for i := range 20 {
		f.append(sized(int64(1000+i), 120, 'a'), int64(100+i))
	}
	if n := count(); n != 0 {
		t.Fatalf("%d syncs reported after appends alone; the write path never syncs", n)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"Sync", f.l.Sync},
		{"Manifest", func() error { _, err := f.l.Manifest(); return err }},
		{"TruncateTo", func() error { return f.l.TruncateTo(5) }},
		{"Close", f.l.Close},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if n := count(); n != i+1 {
			t.Fatalf("after %s: %d syncs reported, want %d", s.name, n, i+1)
		}
	}
	f.l = nil
	for i, d := range syncs {
		// Each sync fsyncs at least the checkpoint and the directory.
		if d <= 0 {
			t.Errorf("sync %d (%s) reported %v", i, steps[i].name, d)
		}
	}
}

// Stats is read for every partition at every metrics scrape.
func BenchmarkStats_TenSegments(b *testing.B) {
	f := newFixture(b, Options{SegmentBytes: 1000})
	for i := range 80 {
		f.append(sized(int64(i), 120, 'a'), int64(i))
	}
	if n := f.l.Stats().Segments; n < 10 {
		b.Fatalf("%d segments", n)
	}
	b.ReportAllocs()
	for b.Loop() {
		f.l.Stats()
	}
}
