package fsm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/raftline/raftline/broker/recordbatch"
	"github.com/raftline/raftline/broker/recordbatch/batchtest"
	"github.com/raftline/raftline/broker/seglog"
)

// batch builds a magic-2 record batch as a producer sends it (see
// batchtest.Build). producerID -1 makes a plain (non-idempotent) batch.
func batch(producerID int64, epoch int16, baseSeq int32, firstTs int64, values ...string) []byte {
	return batchtest.Build(producerID, epoch, baseSeq, firstTs, values...)
}

// plain is a non-idempotent batch stamped at ts.
func plain(ts int64, values ...string) []byte { return batch(-1, -1, -1, ts, values...) }

// replica applies encoded entries to one State at increasing Raft indexes,
// as raftnode does.
type replica struct {
	t     testing.TB
	s     *State
	index uint64
}

func newReplica(t testing.TB, st storage) *replica { return &replica{t: t, s: st.open(t)} }

// storage is a partition store the state machine's tests run against.
type storage struct {
	name string
	open func(t testing.TB) *State
}

// storages are every store a State can keep its partitions in. On disk,
// every batch gets a segment of its own, so that retention, which deletes
// whole segments there, decides per batch as it does in memory.
var storages = []storage{
	{"memory", func(testing.TB) *State { return New() }},
	{"disk", func(t testing.TB) *State { return openDisk(t, seglog.Options{SegmentBytes: 1}) }},
}

// openDisk opens a State keeping its partitions on disk in a directory of
// the test's, closed when the test ends.
func openDisk(t testing.TB, segments seglog.Options) *State {
	t.Helper()
	s, err := Open(Options{Storage: Disk, Dir: filepath.Join(t.TempDir(), "partitions"), Segments: segments})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eachStorage runs f as a subtest per store.
func eachStorage(t *testing.T, f func(t *testing.T, st storage)) {
	for _, st := range storages {
		t.Run(st.name, func(t *testing.T) { f(t, st) })
	}
}

// apply encodes c and applies it at the next index.
func (r *replica) apply(c Command) ApplyResult {
	r.t.Helper()
	data, err := Encode(c)
	if err != nil {
		r.t.Fatalf("Encode(%s): %v", c.Op, err)
	}
	r.index++
	res, err := r.s.Apply(r.index, data)
	if err != nil {
		r.t.Fatalf("Apply(%s): %v", c.Op, err)
	}
	return res
}

func (r *replica) createTopic(name string, partitions int32, configs map[string]string) {
	r.t.Helper()
	res := r.apply(Command{Op: OpCreateTopic, TimeMs: 1, Topic: &CreateTopic{Name: name, Partitions: partitions, Configs: configs}})
	if res.Err != nil {
		r.t.Fatalf("create topic %q: %v", name, res.Err)
	}
}

// produce applies one entry with batches for one partition and returns its
// result.
func (r *replica) produce(timeMs int64, topic string, partition int32, batches ...[]byte) PartitionResult {
	r.t.Helper()
	res := r.apply(Command{Op: OpProduce, TimeMs: timeMs, Produce: []ProducePartition{{Topic: topic, Partition: partition, Batches: batches}}})
	if len(res.Partitions) != 1 {
		r.t.Fatalf("produce returned %d partition results, want 1", len(res.Partitions))
	}
	return res.Partitions[0]
}

// mustProduce is produce that fails the test on a partition error.
func (r *replica) mustProduce(timeMs int64, topic string, partition int32, batches ...[]byte) int64 {
	r.t.Helper()
	pr := r.produce(timeMs, topic, partition, batches...)
	if pr.Err != nil {
		r.t.Fatalf("produce to %s/%d: %v", topic, partition, pr.Err)
	}
	return pr.BaseOffset
}

func (r *replica) initProducer() int64 {
	r.t.Helper()
	return r.apply(Command{Op: OpInitProducer, TimeMs: 1}).ProducerID
}

func (r *replica) log(topic string, partition int32) PartitionLog {
	r.t.Helper()
	tp := r.s.Topic(topic)
	if tp == nil || int(partition) >= len(tp.Partitions) {
		r.t.Fatalf("no partition %s/%d", topic, partition)
	}
	return tp.Partitions[partition]
}

// describe renders everything observable about a State except producers:
// nodes, and each topic's id, configs, partition digests and leader
// epochs. Two replicas
// that applied the same entries describe identically.
func describe(s *State) string {
	var b strings.Builder
	for _, n := range s.Brokers() {
		fmt.Fprintf(&b, "node %+v\n", n)
	}
	for _, t := range s.Topics() {
		keys := make([]string, 0, len(t.Configs))
		for k := range t.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&b, "topic %s id %x configs", t.Name, t.ID)
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%s", k, t.Configs[k])
		}
		b.WriteString("\n")
		for i, p := range t.Partitions {
			d, err := p.Digest()
			if err != nil {
				fmt.Fprintf(&b, "  %d digest: %v\n", i, err)
				continue
			}
			fmt.Fprintf(&b, "  %d %+v epochs %v\n", i, d, s.LeaderEpochs(t.Name, int32(i)))
		}
	}
	return b.String()
}

// snapshotBytes writes s's snapshot out.
func snapshotBytes(t testing.TB, s *State) []byte {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return buf.Bytes()
}

// digest is the partition's digest.
func (r *replica) digest(topic string, partition int32) Digest {
	r.t.Helper()
	return mustDigest(r.t, r.log(topic, partition))
}

func mustDigest(t testing.TB, log PartitionLog) Digest {
	t.Helper()
	d, err := log.Digest()
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

// servedBatch is one batch as a partition serves it.
type servedBatch struct {
	BaseOffset, LastOffset int64
	Data                   []byte // base offset written in
}

// served reads the partition from offset to its end, split into batches.
func served(t testing.TB, log PartitionLog, offset int64) []servedBatch {
	t.Helper()
	data, err := log.AppendBatches(nil, offset, 1<<30)
	if err != nil {
		t.Fatalf("AppendBatches(%d): %v", offset, err)
	}
	var out []servedBatch
	for len(data) > 0 {
		h, err := recordbatch.Parse(data)
		if err != nil {
			t.Fatalf("served bytes do not parse: %v", err)
		}
		base := int64(binary.BigEndian.Uint64(data))
		out = append(out, servedBatch{base, base + int64(h.LastOffsetDelta), data[:h.Length:h.Length]})
		data = data[h.Length:]
	}
	return out
}

// takenSnapshot is a snapshot as a store keeps it: the head, and a copy of
// each file it holds (taken before the snapshot lets go of its pins).
type takenSnapshot struct {
	head  []byte
	files map[string][]byte
}

// open opens the snapshot's files, as raftnode does through its store.
func (ts takenSnapshot) open(name string) (io.ReadCloser, error) {
	b, ok := ts.files[name]
	if !ok {
		return nil, fmt.Errorf("snapshot has no file %q", name)
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

// restore restores ts into r.
func (ts takenSnapshot) restore(r *replica) error {
	return r.s.Restore(bytes.NewReader(ts.head), ts.open)
}

// takeSnapshot writes s's snapshot out with its files.
func takeSnapshot(t testing.TB, s *State) takenSnapshot {
	t.Helper()
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	if err := snap.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	var buf bytes.Buffer
	if _, err := snap.WriteTo(&buf); err != nil {
		t.Fatalf("WriteTo: %v", err)
	}
	return capture(t, snap, buf.Bytes())
}

// capture copies the files of snap, whose head is head.
func capture(t testing.TB, snap *Snapshot, head []byte) takenSnapshot {
	t.Helper()
	ts := takenSnapshot{head: head, files: map[string][]byte{}}
	for _, f := range snap.Files() {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) < f.Length {
			t.Fatalf("%s: %d bytes pinned, the snapshot holds %d", f.Name, len(b), f.Length)
		}
		ts.files[f.Name] = b[:f.Length]
	}
	return ts
}
