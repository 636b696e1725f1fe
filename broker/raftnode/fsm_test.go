package raftnode

import (
	"bytes"
	"errors"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/seglog"
)

// plainBatch is a one-record magic-2 batch as a producer sends it.
func plainBatch(value string) []byte {
	r := kmsg.Record{Value: []byte(value)}
	r.Length = int32(len(r.AppendTo(nil)) - 1)
	rb := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, FirstTimestamp: 1, MaxTimestamp: 1,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: 1, Records: r.AppendTo(nil)}
	rb.Length = int32(len(rb.AppendTo(nil)) - 12)
	rb.CRC = int32(crc32.Checksum(rb.AppendTo(nil)[21:], crc32.MakeTable(crc32.Castagnoli)))
	return rb.AppendTo(nil)
}

// A partition whose disk fails is a storage fault: the adapter reports it
// once per entry, naming the operation and the file, answers the entry with
// the failure instead of panicking, and every later entry is refused the
// same way, so nothing is applied past it.
func TestAdapterApply_StorageFailure_ReportsTheFaultAndRefusesLaterEntries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	state, err := fsm.Open(fsm.Options{Storage: fsm.Disk, Dir: dir, Segments: seglog.Options{SegmentBytes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	var logs bytes.Buffer
	type report struct {
		op   StorageOp
		path string
		err  error
	}
	var reports []report
	a := &adapter{state: state, log: slog.New(slog.NewTextHandler(&logs, nil)), commits: newCommitTracker("1", nil),
		fault: func(op StorageOp, path string, err error) { reports = append(reports, report{op, path, err}) }}
	index := uint64(0)
	apply := func(c fsm.Command) fsm.ApplyResult {
		t.Helper()
		data, err := fsm.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		index++
		res, ok := a.Apply(&raft.Log{Type: raft.LogCommand, Index: index, Data: data}).(fsm.ApplyResult)
		if !ok {
			t.Fatalf("entry %d: no ApplyResult", index)
		}
		return res
	}
	produce := fsm.Command{Op: fsm.OpProduce, TimeMs: 1, Produce: []fsm.ProducePartition{{Topic: "t", Batches: [][]byte{plainBatch("v")}}}}
	if res := apply(fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: "t", Partitions: 1}}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := apply(produce); res.Err != nil || res.Partitions[0].Err != nil {
		t.Fatalf("healthy produce: %+v", res)
	}

	// The partition's directory becomes a file: the next batch's segment
	// (one per batch here) cannot be made.
	pdir := filepath.Join(dir, "t", "0")
	if err := os.Rename(pdir, pdir+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pdir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res := apply(produce)
	if len(reports) != 1 {
		t.Fatalf("%d faults reported, want 1: %+v", len(reports), reports)
	}
	r := reports[0]
	t.Logf("fault: %s %s: %v", r.op, r.path, r.err)
	if r.op != OpPartitionWrite || !strings.HasPrefix(r.path, pdir) || !strings.Contains(r.err.Error(), "seglog: remove") ||
		!errors.Is(r.err, fsm.ErrStorage) {
		t.Errorf("fault %s %q %v: want partition_write under %s, a seglog error", r.op, r.path, r.err, pdir)
	}
	if res.Err == nil || res.Partitions[0].Err != kerr.KafkaStorageError {
		t.Errorf("the failed entry was answered %+v, want KAFKA_STORAGE_ERROR", res)
	}
	if later := apply(produce); !errors.Is(later.Err, fsm.ErrStorage) || len(reports) != 2 {
		t.Errorf("an entry after the failure was answered %+v (%d reports), want refused with ErrStorage", later, len(reports))
	}
	if logs.Len() != 0 {
		t.Errorf("the adapter logged %q: the node logs the fault, once", logs.String())
	}
}
