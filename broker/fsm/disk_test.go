package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/raftline/raftline/broker/seglog"
	"github.com/raftline/raftline/broker/topicrules"
)

// diskReplica is a replica keeping its partitions on disk in dir, with
// segments of a few batches that also roll every 50 ms of append time.
func diskReplica(t *testing.T, dir string) *replica {
	t.Helper()
	s, err := Open(Options{Storage: Disk, Dir: dir, Segments: seglog.Options{SegmentBytes: 400, SegmentMs: 50}})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return &replica{t: t, s: s}
}

func segmentsOf(t *testing.T, r *replica, topic string, partition int32) string {
	t.Helper()
	return fmt.Sprint(r.log(topic, partition).(diskLog).l.Segments())
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// A snapshot of partitions on disk holds several batches per segment, with
// append times that go back inside a segment. Restored on disk, the segments
// are the same ones; restored in memory, and the memory state's snapshot
// restored on disk again, the records are the same.
func TestDiskSnapshot_RestoresTheSameSegments_AndCrossesToMemory(t *testing.T) {
	orig := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	orig.createTopic("events", 2, nil)
	pid := orig.initProducer()
	appendTimes := []int64{1000, 1010, 1005, 1020, 1070, 1065, 1080, 1200, 1190, 1210, 1300, 1299}
	for i, at := range appendTimes {
		orig.mustProduce(at, "events", int32(i%2), plain(at, "v", strings.Repeat("x", 30*i)))
		orig.mustProduce(at, "events", 0, batch(pid, 0, int32(i), at, "idem"))
	}
	orig.apply(Command{Op: OpRetention, TimeMs: 1240}) // retention.ms is a week: nothing goes
	for p := range int32(2) {
		if n := len(orig.log("events", p).(diskLog).l.Segments()); n < 3 {
			t.Fatalf("setup: partition %d has %d segments", p, n)
		}
	}
	snap := snapshotBytes(t, orig.s)

	got := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	if err := got.s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if a, b := describe(orig.s), describe(got.s); a != b {
		t.Fatalf("restored state differs:\n%s\nvs\n%s", a, b)
	}
	for p := range int32(2) {
		if a, b := segmentsOf(t, orig, "events", p), segmentsOf(t, got, "events", p); a != b {
			t.Fatalf("partition %d: restored segments\n%s\nwant\n%s", p, b, a)
		}
	}
	if !bytes.Equal(snapshotBytes(t, got.s), snap) {
		t.Fatal("restored state snapshots to different bytes")
	}

	mem := newReplica(t, storages[0])
	if err := mem.s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if a, b := describe(orig.s), describe(mem.s); a != b {
		t.Fatalf("restored in memory:\n%s\nvs\n%s", b, a)
	}
	back := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	if err := back.s.Restore(bytes.NewReader(snapshotBytes(t, mem.s))); err != nil {
		t.Fatal(err)
	}
	if a, b := describe(orig.s), describe(back.s); a != b {
		t.Fatalf("memory snapshot restored on disk:\n%s\nvs\n%s", b, a)
	}

	// The replicas go on alike: the same entries give the same segments.
	for _, r := range []*replica{orig, got, back} {
		r.mustProduce(1400, "events", 1, plain(1400, "after"))
		r.mustProduce(1401, "events", 0, batch(pid, 0, 12, 1401, "idem"))
		r.apply(Command{Op: OpRetention, TimeMs: 1400 + topicrules.DefaultRetentionMs})
	}
	for _, r := range []*replica{got, back} {
		if a, b := describe(orig.s), describe(r.s); a != b {
			t.Fatalf("diverged after restore:\n%s\nvs\n%s", b, a)
		}
		for p := range int32(2) {
			if a, b := segmentsOf(t, orig, "events", p), segmentsOf(t, r, "events", p); a != b {
				t.Fatalf("partition %d diverged after restore: segments\n%s\nwant\n%s", p, b, a)
			}
		}
	}
}

// Retention on disk deletes whole segments: a segment with one batch still
// inside retention.ms stays, with its older batches.
func TestDiskRetention_DeletesWholeSegmentsOnly(t *testing.T) {
	r := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	r.createTopic("t", 1, map[string]string{topicrules.ConfigRetentionMs: "100"})
	// Segments roll 50 ms after their first batch: [0 1 2] at 1000-1040,
	// [3 4] at 1060-1100 (roll at 1060), [5] at 1200.
	for _, at := range []int64{1000, 1020, 1040, 1060, 1100, 1200} {
		r.mustProduce(at, "t", 0, plain(at, "v"))
	}
	if segs := r.log("t", 0).(diskLog).l.Segments(); len(segs) != 3 || segs[1].Base != 3 || segs[2].Base != 5 {
		t.Fatalf("setup: segments %+v", segs)
	}
	// Cutoff 1050: the first segment's newest batch (1040) is older; the
	// second's (1100) is not.
	r.apply(Command{Op: OpRetention, TimeMs: 1150})
	if start, next := r.log("t", 0).Offsets(); start != 3 || next != 6 {
		t.Fatalf("Offsets() = %d, %d; want 3, 6", start, next)
	}
	// Cutoff 1099: batch 3 (1060) is older, batch 4 (1100) is not: the
	// segment stays whole.
	r.apply(Command{Op: OpRetention, TimeMs: 1199})
	if start, _ := r.log("t", 0).Offsets(); start != 3 {
		t.Fatalf("a segment with a batch inside retention was cut: start %d", start)
	}
	if bs := served(t, r.log("t", 0), 3); len(bs) != 3 || bs[0].BaseOffset != 3 {
		t.Fatalf("served %d batches from %d, want 3 from 3", len(bs), bs[0].BaseOffset)
	}
}

// Topics live in <dir>/<topic>/<partition>; deleting a topic deletes its
// directory, and a re-created one starts empty at offset 0.
func TestDiskDeleteTopic_RemovesItsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	r := diskReplica(t, dir)
	r.createTopic("gone", 3, nil)
	r.createTopic("kept", 1, nil)
	for p := range int32(3) {
		r.mustProduce(1000, "gone", p, plain(1000, "a", "b"))
	}
	r.mustProduce(1000, "kept", 0, plain(1000, "k"))
	if got := entries(t, filepath.Join(dir, "gone")); fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("topic directory holds %v, want one directory per partition", got)
	}
	if res := r.apply(Command{Op: OpDeleteTopic, TimeMs: 1001, Delete: "gone"}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Fatalf("deleted topic's directory: %v", err)
	}
	if got := entries(t, dir); fmt.Sprint(got) != "[kept]" {
		t.Fatalf("partitions directory holds %v", got)
	}
	r.createTopic("gone", 1, nil)
	if d := r.digest("gone", 0); d.Next != 0 || d.Bytes != 0 {
		t.Fatalf("re-created topic holds %+v", d)
	}
	if off := r.mustProduce(1002, "gone", 0, plain(1002, "new")); off != 0 {
		t.Fatalf("re-created topic starts at %d", off)
	}
}

// Open empties the directory: what a previous run left is rebuilt from the
// snapshot and the Raft log, never applied over.
func TestDiskOpen_EmptiesWhatAPreviousRunLeft(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	r := diskReplica(t, dir)
	r.createTopic("t", 1, nil)
	r.mustProduce(1000, "t", 0, plain(1000, "a"))
	r.s.Close()
	if err := os.MkdirAll(dir+".restore/x/0", 0o755); err != nil {
		t.Fatal(err)
	}

	again := diskReplica(t, dir)
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("reopened directory holds %v", got)
	}
	if _, err := os.Stat(dir + ".restore"); !os.IsNotExist(err) {
		t.Fatalf("restore staging left: %v", err)
	}
	again.createTopic("t", 1, nil)
	if off := again.mustProduce(1000, "t", 0, plain(1000, "a")); off != 0 {
		t.Fatalf("replayed produce at %d, want 0", off)
	}
}

// A restore replaces every live partition: topics the snapshot lacks lose
// their directories, the others are rebuilt from it.
func TestDiskRestore_ReplacesTheLivePartitions(t *testing.T) {
	src := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	src.createTopic("t", 1, nil)
	src.mustProduce(1000, "t", 0, plain(1000, "from the snapshot"))
	snap := snapshotBytes(t, src.s)

	dir := filepath.Join(t.TempDir(), "partitions")
	r := diskReplica(t, dir)
	r.createTopic("t", 2, nil)
	r.createTopic("other", 1, nil)
	r.mustProduce(1000, "t", 1, plain(1000, "live"))
	r.mustProduce(1000, "other", 0, plain(1000, "live"))
	if err := r.s.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); fmt.Sprint(got) != "[t]" {
		t.Fatalf("partitions directory holds %v after restore", got)
	}
	if got := entries(t, filepath.Join(dir, "t")); fmt.Sprint(got) != "[0]" {
		t.Fatalf("topic directory holds %v after restore", got)
	}
	if a, b := describe(src.s), describe(r.s); a != b {
		t.Fatalf("restored:\n%s\nwant\n%s", b, a)
	}
	if off := r.mustProduce(1001, "t", 0, plain(1001, "next")); off != 1 {
		t.Fatalf("produce after restore at %d, want 1", off)
	}
}

// Topic names in a snapshot become directories: a name no topic may have is
// a bad snapshot, and nothing is written outside the partitions directory.
func TestDiskRestore_TopicNameNotAllowed_ErrBadSnapshot(t *testing.T) {
	root := t.TempDir()
	r := diskReplica(t, filepath.Join(root, "partitions"))
	for _, name := range []string{"../escape", "..", "a/b", ""} {
		meta := fmt.Sprintf(`{"topics":[{"name":%q,"partitions":[{"start":0,"next":0,"batches":0}]}]}`, name)
		if err := r.s.Restore(bytes.NewReader(metaSnapshot(meta))); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("topic %q: Restore = %v, want ErrBadSnapshot", name, err)
		}
	}
	if got := entries(t, root); fmt.Sprint(got) != "[partitions]" {
		t.Fatalf("restores wrote %v next to the partitions directory", got)
	}
	dup := `{"topics":[{"name":"t","partitions":[{"start":0,"next":0,"batches":0}]},{"name":"t","partitions":[{"start":0,"next":0,"batches":0}]}]}`
	if err := r.s.Restore(bytes.NewReader(metaSnapshot(dup))); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("topic listed twice: Restore = %v, want ErrBadSnapshot", err)
	}
	for name, meta := range map[string]string{
		"offsets without batches": `{"topics":[{"name":"t","partitions":[{"start":0,"next":5,"batches":0}]}]}`,
		"negative offsets":        `{"topics":[{"name":"t","partitions":[{"start":-3,"next":-3,"batches":0}]}]}`,
	} {
		if err := r.s.Restore(bytes.NewReader(metaSnapshot(meta))); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: Restore = %v, want ErrBadSnapshot", name, err)
		}
	}
	if err := r.s.Err(); err != nil {
		t.Fatalf("a bad snapshot failed the state: %v", err)
	}
}

// A disk that fails under a partition stops the state: the entry's result
// is KAFKA_STORAGE_ERROR, Apply returns ErrStorage with the operation and
// the file, and every later entry is refused with the same error.
func TestDiskFailure_StopsTheState_NamesOpAndPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	s, err := Open(Options{Storage: Disk, Dir: dir, Segments: seglog.Options{SegmentBytes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := &replica{t: t, s: s}
	r.createTopic("t", 1, nil)
	r.createTopic("u", 1, nil)
	r.mustProduce(1000, "t", 0, plain(1000, "a"))

	// The partition's directory becomes a file: the next batch needs a new
	// segment (a batch per segment here), whose files cannot be made.
	pdir := filepath.Join(dir, "t", "0")
	if err := os.Rename(pdir, pdir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdir, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := Encode(Command{Op: OpProduce, TimeMs: 1001, Produce: []ProducePartition{{Topic: "t", Partition: 0, Batches: [][]byte{plain(1001, "b")}}}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Apply(10, data)
	if !errors.Is(err, ErrStorage) {
		t.Fatalf("Apply = %v, want ErrStorage", err)
	}
	var se *seglog.Error
	t.Logf("Apply: %v", err)
	if !errors.As(err, &se) || !strings.Contains(err.Error(), se.Op) || !strings.Contains(err.Error(), pdir) {
		t.Fatalf("error %q does not name the operation and the file under %s", err, pdir)
	}
	if len(res.Partitions) != 1 || !errors.Is(res.Partitions[0].Err, kerr.KafkaStorageError) {
		t.Fatalf("produce result %+v, want KAFKA_STORAGE_ERROR", res.Partitions)
	}
	if !errors.Is(s.Err(), ErrStorage) {
		t.Fatalf("Err() = %v", s.Err())
	}
	// Every later entry is refused, whatever its partition.
	later, _ := Encode(Command{Op: OpProduce, TimeMs: 1002, Produce: []ProducePartition{{Topic: "u", Partition: 0, Batches: [][]byte{plain(1002, "c")}}}})
	if _, err2 := s.Apply(11, later); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("the next entry: %v, want the failure %v", err2, err)
	}
	if _, next := r.log("u", 0).Offsets(); next != 0 {
		t.Fatal("an entry after the failure was applied")
	}
}
