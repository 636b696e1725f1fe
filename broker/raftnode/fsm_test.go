package raftnode

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
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

// A partition whose disk fails stops the node the way an entry it cannot
// interpret does: one ERROR line, "cannot apply raft entry; stopping", whose
// error names the failed operation and the file, then a panic that ends the
// process before the replica can apply anything past the entry.
func TestAdapterApply_StorageFailure_LogsOpAndPathAndStops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "partitions")
	state, err := fsm.Open(fsm.Options{Storage: fsm.Disk, Dir: dir, Segments: seglog.Options{SegmentBytes: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	var logs bytes.Buffer
	a := &adapter{state: state, log: slog.New(slog.NewTextHandler(&logs, nil)), commits: newCommitTracker("1", nil)}
	index := uint64(0)
	apply := func(c fsm.Command) (panicked any) {
		data, err := fsm.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		index++
		defer func() { panicked = recover() }()
		a.Apply(&raft.Log{Type: raft.LogCommand, Index: index, Data: data})
		return nil
	}
	produce := fsm.Command{Op: fsm.OpProduce, TimeMs: 1, Produce: []fsm.ProducePartition{{Topic: "t", Batches: [][]byte{plainBatch("v")}}}}
	if p := apply(fsm.Command{Op: fsm.OpCreateTopic, TimeMs: 1, Topic: &fsm.CreateTopic{Name: "t", Partitions: 1}}); p != nil {
		t.Fatal(p)
	}
	if p := apply(produce); p != nil {
		t.Fatal(p)
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
	p := apply(produce)
	if p == nil {
		t.Fatal("a storage failure did not stop the node")
	}
	msg := fmt.Sprint(p)
	line := logs.String()
	t.Logf("panic: %s\nlog: %s", msg, line)
	for _, want := range []string{"seglog: remove", pdir} {
		if !strings.Contains(msg, want) || !strings.Contains(line, want) {
			t.Errorf("panic %q or log %q lacks %q", msg, line, want)
		}
	}
	if !strings.Contains(line, "level=ERROR") || !strings.Contains(line, "cannot apply raft entry; stopping") || strings.Count(line, "\n") != 1 {
		t.Errorf("log %q is not one ERROR line saying the node stops", line)
	}
}
