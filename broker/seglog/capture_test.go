package seglog

import (
	"fmt"
	"reflect"
	"testing"
)

// A capture lists what Manifest would, and appends after it do not change
// what it lists. Once its sync has run, a crash (nothing synced since)
// reopens with the checkpoint it wrote: the log still holds the manifest
// and serves every batch.
func TestCapture_ListsTheLogNow_RunMakesItDurable(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 600, IndexIntervalBytes: 100})
	for i := range 20 {
		f.append(batch(int64(1000+i), fmt.Sprintf("value %d", i)), int64(100+i))
	}
	m, p, err := f.l.Capture()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		f.append(batch(int64(2000+i), fmt.Sprintf("later %d", i)), int64(200+i))
	}
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if err := p.Run(); err != nil { // once only
		t.Fatal(err)
	}
	ck, err := readCheckpoint(f.dir)
	if err != nil || ck == nil {
		t.Fatalf("checkpoint after Run: %v, %v", ck, err)
	}
	if ck.Next != m.Next || ck.Start != m.Start {
		t.Fatalf("checkpoint holds %d..%d, the capture %d..%d", ck.Start, ck.Next, m.Start, m.Next)
	}
	synced, err := f.l.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(synced.Files[:len(m.Files)-2], m.Files[:len(m.Files)-2]) {
		t.Fatal("the capture lists other files than the log holds")
	}

	f.crash()
	if ok, err := f.l.Holds(m); err != nil || !ok {
		t.Fatalf("after a crash the log does not hold the capture: %v, %v", ok, err)
	}
	f.checkAll()
}

// A capture's sync that runs after a newer checkpoint was written (a Sync,
// a Close) leaves the newer one; one that runs after retention deleted a
// captured segment reports it.
func TestCapture_LateRunKeepsTheNewerCheckpoint_ReportsDroppedSegments(t *testing.T) {
	f := newFixture(t, Options{SegmentBytes: 600, IndexIntervalBytes: 100})
	for i := range 10 {
		f.append(batch(int64(1000+i), "v"), int64(100+i))
	}
	_, p, err := f.l.Capture()
	if err != nil {
		t.Fatal(err)
	}
	f.append(batch(3000, "after"), 300)
	if err := f.l.Sync(); err != nil {
		t.Fatal(err)
	}
	_, next := f.l.Offsets()
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	if ck, _ := readCheckpoint(f.dir); ck == nil || ck.Next != next {
		t.Fatalf("checkpoint %+v after a late Run, want the newer sync's next %d", ck, next)
	}

	// Retention deletes a captured segment before the sync runs: it is
	// reported, not synced, and the checkpoint lists it, as Open allows.
	f = newFixture(t, Options{SegmentBytes: 600, IndexIntervalBytes: 100})
	for i := range 10 {
		f.append(batch(int64(1000+i), "v"), int64(100+i))
	}
	_, q, err := f.l.Capture()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Retain(func(s SegmentInfo, size int64) bool { return s.Base > 0 }); err != nil {
		t.Fatal(err)
	}
	if err := q.Run(); err != nil {
		t.Fatal(err)
	}
	if d := q.Dropped(); len(d) != 1 || d[0] != 0 {
		t.Fatalf("Dropped() = %v, want the first segment", d)
	}
	f.forget(0)
	f.crash()
	if start, _ := f.l.Offsets(); start == 0 {
		t.Fatal("reopened with the deleted segment")
	}
}
