package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// A snapshot of partitions on disk lists their segment files instead of
// carrying batches. Installed into an empty directory from those files, the
// segments are the same ones. A node keeping partitions in memory refuses
// it with a clear error; a memory snapshot restores on disk.
func TestDiskSnapshot_RestoresTheSameSegments_AndRefusesMemory(t *testing.T) {
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
	snap := takeSnapshot(t, orig.s)
	if n, max := len(snap.head), 4096; n > max {
		t.Fatalf("snapshot head of %d bytes: it copies data", n)
	}
	var segs int
	for p := range int32(2) {
		segs += len(orig.log("events", p).(diskLog).l.Segments())
	}
	if len(snap.files) != 2*segs {
		t.Fatalf("snapshot holds %d files, want a log and an append-time index for each of %d segments", len(snap.files), segs)
	}

	got := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	if err := snap.restore(got); err != nil {
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
	if !bytes.Equal(snapshotBytes(t, got.s), snap.head) {
		t.Fatal("restored state snapshots to a different head")
	}

	mem := newReplica(t, storages[0])
	err := snap.restore(mem)
	if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), "--storage") {
		t.Fatalf("memory replica restoring a disk snapshot: %v, want ErrBadSnapshot naming --storage", err)
	}
	if mem.s.Err() != nil {
		t.Fatalf("refusing the snapshot failed the state: %v", mem.s.Err())
	}
	// A memory snapshot (batches in it) restores on disk.
	memSrc := newReplica(t, storages[0])
	memSrc.createTopic("events", 2, nil)
	for i, at := range appendTimes {
		memSrc.mustProduce(at, "events", int32(i%2), plain(at, "v", strings.Repeat("x", 30*i)))
	}
	back := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	if err := back.s.Restore(bytes.NewReader(snapshotBytes(t, memSrc.s)), nil); err != nil {
		t.Fatal(err)
	}
	if a, b := describe(memSrc.s), describe(back.s); a != b {
		t.Fatalf("memory snapshot restored on disk:\n%s\nvs\n%s", b, a)
	}

	// The replicas go on alike: the same entries give the same segments.
	for _, r := range []*replica{orig, got} {
		r.mustProduce(1400, "events", 1, plain(1400, "after"))
		r.mustProduce(1401, "events", 0, batch(pid, 0, 12, 1401, "idem"))
		r.apply(Command{Op: OpRetention, TimeMs: 1400 + topicrules.DefaultRetentionMs})
	}
	if a, b := describe(orig.s), describe(got.s); a != b {
		t.Fatalf("diverged after restore:\n%s\nvs\n%s", b, a)
	}
	for p := range int32(2) {
		if a, b := segmentsOf(t, orig, "events", p), segmentsOf(t, got, "events", p); a != b {
			t.Fatalf("partition %d diverged after restore: segments\n%s\nwant\n%s", p, b, a)
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

// entryLog records the entries a replica applies, to apply them again
// after a restart, as Raft replays its log from the snapshot's index.
type entryLog struct {
	r    *replica
	cmds []Command
}

func (e *entryLog) apply(c Command) {
	e.cmds = append(e.cmds, c)
	e.r.apply(c)
}

func (e *entryLog) produce(at int64, topic string, p int32, batches ...[]byte) {
	e.apply(Command{Op: OpProduce, TimeMs: at, Produce: []ProducePartition{{Topic: topic, Partition: p, Batches: batches}}})
}

// inode identifies a file, to tell a kept file from a copy.
func inode(t *testing.T, path string) uint64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// A node that restarts keeps its partitions' files: restoring its own
// snapshot cuts them back to the snapshot's offsets (the batches applied
// after it are gone, written or half-written) and copies nothing; applying
// the entries after the snapshot again gives the state it had, segment for
// segment, including segments retention deleted after the snapshot.
func TestDiskRestart_KeepsItsFiles_CutBackToTheSnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	r := diskReplica(t, dir)
	r.createTopic("t", 2, map[string]string{topicrules.ConfigRetentionMs: "1000"})
	r.createTopic("gone", 1, nil)
	pid := r.initProducer()
	for i := range int64(12) {
		at := 1000 + 40*i
		r.mustProduce(at, "t", int32(i%2), plain(at, "v", strings.Repeat("x", 40)))
		r.mustProduce(at, "t", 0, batch(pid, 0, int32(i), at, "idem"))
	}
	snap := takeSnapshot(t, r.s)
	snapIndex := r.index
	// The segment active at the snapshot outlives the retention pass below.
	segs := r.log("t", 0).(diskLog).l.Segments()
	kept := filepath.Join(dir, "t", "0", fmt.Sprintf("%020d.log", segs[len(segs)-1].Base))
	before := inode(t, kept)

	// After the snapshot: more batches, a retention pass that deletes the
	// oldest segments, a topic deleted and one created.
	after := &entryLog{r: r}
	for i := range int64(6) {
		at := 2000 + 40*i
		after.produce(at, "t", int32(i%2), plain(at, "later", strings.Repeat("y", 40)))
	}
	after.apply(Command{Op: OpRetention, TimeMs: 2300})
	after.apply(Command{Op: OpDeleteTopic, TimeMs: 2600, Delete: "gone"})
	after.apply(Command{Op: OpCreateTopic, TimeMs: 2601, Topic: &CreateTopic{Name: "new", Partitions: 1}})
	after.produce(2602, "new", 0, plain(2602, "n"))
	after.produce(2603, "t", 0, batch(pid, 0, 12, 2603, "idem"))
	if start, _ := r.log("t", 0).Offsets(); start == 0 {
		t.Fatal("setup: retention deleted nothing")
	}
	want := describe(r.s)
	wantSegs := segmentsOf(t, r, "t", 0) + segmentsOf(t, r, "t", 1)
	r.s.Close() // a stop: the files stay as they are

	if err := os.MkdirAll(dir+".pin/7/t/0", 0o755); err != nil {
		t.Fatal(err)
	}
	again := diskReplica(t, dir)
	if _, err := os.Stat(dir + ".pin"); !os.IsNotExist(err) {
		t.Fatalf("pins of an unfinished snapshot left: %v", err)
	}
	if err := snap.restore(again); err != nil {
		t.Fatal(err)
	}
	if got := inode(t, kept); got != before {
		t.Fatal("restoring the node's own snapshot copied its segment files")
	}
	if got := entries(t, dir); fmt.Sprint(got) != "[gone t]" {
		t.Fatalf("partitions directory holds %v after the restore, want the snapshot's topics", got)
	}
	again.index = snapIndex
	for _, c := range after.cmds {
		again.apply(c)
	}
	if got := describe(again.s); got != want {
		t.Fatalf("after replay:\n%s\nwant\n%s", got, want)
	}
	if got := segmentsOf(t, again, "t", 0) + segmentsOf(t, again, "t", 1); got != wantSegs {
		t.Fatalf("segments after replay\n%s\nwant\n%s", got, wantSegs)
	}
}

// With no snapshot, Raft replays its log from the first entry: creating a
// topic again starts its partitions afresh over what a previous run left.
func TestDiskRestart_WithoutSnapshot_CreatesPartitionsAfresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	r := diskReplica(t, dir)
	r.createTopic("t", 1, nil)
	r.mustProduce(1000, "t", 0, plain(1000, "a"))
	r.s.Close()

	again := diskReplica(t, dir)
	again.createTopic("t", 1, nil)
	if off := again.mustProduce(1000, "t", 0, plain(1000, "a")); off != 0 {
		t.Fatalf("replayed produce at %d, want 0", off)
	}
}

// A restore from another node's snapshot replaces the live partitions:
// topics the snapshot lacks lose their directories, a topic created again
// under the same name and a partition whose files differ are installed from
// the snapshot's files.
func TestDiskRestore_ReplacesTheLivePartitions(t *testing.T) {
	src := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	src.createTopic("t", 1, nil)
	src.createTopic("u", 1, nil)
	for i := range int64(10) {
		src.mustProduce(1000+i, "t", 0, plain(1000+i, "from the snapshot", strings.Repeat("s", 50)))
		src.mustProduce(1000+i, "u", 0, plain(1000+i, "u", strings.Repeat("u", 50)))
	}
	snap := takeSnapshot(t, src.s)

	dir := filepath.Join(t.TempDir(), "partitions")
	r := diskReplica(t, dir)
	r.index = 100 // another topic id
	r.createTopic("t", 2, nil)
	r.createTopic("other", 1, nil)
	r.mustProduce(1000, "t", 1, plain(1000, "live"))
	r.mustProduce(1000, "other", 0, plain(1000, "live"))
	if err := snap.restore(r); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); fmt.Sprint(got) != "[t u]" {
		t.Fatalf("partitions directory holds %v after restore", got)
	}
	if got := entries(t, filepath.Join(dir, "t")); fmt.Sprint(got) != "[0]" {
		t.Fatalf("topic directory holds %v after restore", got)
	}
	if a, b := describe(src.s), describe(r.s); a != b {
		t.Fatalf("restored:\n%s\nwant\n%s", b, a)
	}
	if off := r.mustProduce(1011, "t", 0, plain(1011, "next")); off != 20 {
		t.Fatalf("produce after restore at %d, want 20", off)
	}
}

// A restarting node whose own files no longer hold its snapshot (a synced
// segment lost its last bytes) takes the snapshot's copy of them; a
// snapshot file that is itself damaged stops the state with an error that
// names it, rather than serve it.
func TestDiskRestart_DamagedOwnFiles_TakesTheSnapshots_DamagedSnapshotFails(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	r := diskReplica(t, dir)
	r.createTopic("t", 1, nil)
	for i := range int64(10) {
		r.mustProduce(1000+i, "t", 0, plain(1000+i, "v", strings.Repeat("x", 50)))
	}
	snap := takeSnapshot(t, r.s)
	want := describe(r.s)
	r.s.Close()

	seg := filepath.Join(dir, "t", "0", "00000000000000000000.log")
	st, err := os.Stat(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(seg, st.Size()-3); err != nil {
		t.Fatal(err)
	}
	again := diskReplica(t, dir)
	if err := snap.restore(again); err != nil {
		t.Fatal(err)
	}
	if got := describe(again.s); got != want {
		t.Fatalf("restored:\n%s\nwant\n%s", got, want)
	}
	if again.s.Err() != nil {
		t.Fatal(again.s.Err())
	}

	damaged := takenSnapshot{head: snap.head, files: map[string][]byte{}}
	for name, content := range snap.files {
		c := bytes.Clone(content)
		if strings.HasSuffix(name, ".log") && len(c) > 0 {
			c[len(c)/2] ^= 0xff
		}
		damaged.files[name] = c
	}
	fresh := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	err = damaged.restore(fresh)
	if !errors.Is(err, ErrStorage) || !strings.Contains(err.Error(), "t/0") {
		t.Fatalf("restore from damaged files: %v, want a storage failure naming the partition", err)
	}
	if fresh.s.Err() == nil {
		t.Fatal("the state goes on after a restore that failed half-way")
	}
}

// Topic names in a snapshot become directories: a name no topic may have is
// a bad snapshot, and nothing is written outside the partitions directory.
func TestDiskRestore_TopicNameNotAllowed_ErrBadSnapshot(t *testing.T) {
	root := t.TempDir()
	r := diskReplica(t, filepath.Join(root, "partitions"))
	for _, name := range []string{"../escape", "..", "a/b", ""} {
		meta := fmt.Sprintf(`{"topics":[{"name":%q,"partitions":[{"start":0,"next":0,"batches":0}]}]}`, name)
		if err := r.s.Restore(bytes.NewReader(metaSnapshot(meta)), nil); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("topic %q: Restore = %v, want ErrBadSnapshot", name, err)
		}
	}
	if got := entries(t, root); fmt.Sprint(got) != "[partitions]" {
		t.Fatalf("restores wrote %v next to the partitions directory", got)
	}
	dup := `{"topics":[{"name":"t","partitions":[{"start":0,"next":0,"batches":0}]},{"name":"t","partitions":[{"start":0,"next":0,"batches":0}]}]}`
	if err := r.s.Restore(bytes.NewReader(metaSnapshot(dup)), nil); !errors.Is(err, ErrBadSnapshot) {
		t.Errorf("topic listed twice: Restore = %v, want ErrBadSnapshot", err)
	}
	for name, meta := range map[string]string{
		"offsets without batches": `{"topics":[{"name":"t","partitions":[{"start":0,"next":5,"batches":0}]}]}`,
		"negative offsets":        `{"topics":[{"name":"t","partitions":[{"start":-3,"next":-3,"batches":0}]}]}`,
	} {
		if err := r.s.Restore(bytes.NewReader(metaSnapshot(meta)), nil); !errors.Is(err, ErrBadSnapshot) {
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

// Taking a snapshot on the apply goroutine syncs nothing: the fsyncs run
// when the snapshot is written (Snapshot.Sync), while entries go on being
// applied, and a retention pass meanwhile does not wait for them.
func TestDiskSnapshot_SyncsWhenWritten_NotWhenTaken(t *testing.T) {
	var syncs atomic.Int64
	s, err := Open(Options{Storage: Disk, Dir: filepath.Join(t.TempDir(), "partitions"),
		Segments: seglog.Options{SegmentBytes: 400, OnSync: func(time.Duration) { syncs.Add(1) }}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	r := &replica{t: t, s: s}
	r.createTopic("t", 2, map[string]string{topicrules.ConfigRetentionMs: "100"})
	for i := range int64(20) {
		r.mustProduce(1000+i, "t", int32(i%2), plain(1000+i, "v", strings.Repeat("x", 60)))
	}
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	if n := syncs.Load(); n != 0 {
		t.Fatalf("taking the snapshot synced %d partitions", n)
	}
	// Retention deletes captured segments before the snapshot is written.
	r.mustProduce(5000, "t", 0, plain(5000, "late"))
	r.apply(Command{Op: OpRetention, TimeMs: 5000})
	if start, _ := r.log("t", 0).Offsets(); start == 0 {
		t.Fatal("setup: retention deleted nothing")
	}
	if err := snap.Sync(); err != nil {
		t.Fatal(err)
	}
	if n := syncs.Load(); n != 2 {
		t.Fatalf("writing the snapshot synced %d partitions, want 2", n)
	}
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got := diskReplica(t, filepath.Join(t.TempDir(), "partitions"))
	if err := capture(t, snap, buf.Bytes()).restore(got); err != nil {
		t.Fatal(err)
	}
	if d := got.digest("t", 0); d.Start != 0 || d.Next != 20 {
		t.Fatalf("restored %+v, want the partition as it was when the snapshot was taken", d)
	}
}
