package server_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/recordbatch"
	"github.com/raftline/raftline/broker/server"
)

// eachStorage runs f as a subtest per partition store, with cluster options
// that start every node on it.
func eachStorage(t *testing.T, f func(t *testing.T, opts clustertest.Options)) {
	for _, st := range []fsm.Storage{fsm.Memory, fsm.Disk} {
		t.Run(string(st), func(t *testing.T) {
			f(t, clustertest.Options{Configure: func(cfg *server.Config) { cfg.Storage = st }})
		})
	}
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

// configured adds f to what opts configures on every node.
func configured(opts clustertest.Options, f func(cfg *server.Config)) clustertest.Options {
	prev := opts.Configure
	opts.Configure = func(cfg *server.Config) {
		if prev != nil {
			prev(cfg)
		}
		f(cfg)
	}
	return opts
}

// checkNodeHolds reads a node's own copy of each partition and checks that
// its offsets run from 0 without a gap or a batch twice, up to the number of
// records acknowledged on it.
func checkNodeHolds(t *testing.T, n *clustertest.Node, topic string, acked map[int32]int64) {
	t.Helper()
	for p, want := range acked {
		part, err := n.Server().Cluster.Partition(topic, p)
		if err != nil {
			t.Fatalf("node %d: %s/%d: %v", n.ID, topic, p, err)
		}
		start, next := part.Offsets()
		if start != 0 || next != want {
			t.Fatalf("node %d: %s/%d holds offsets %d to %d, want 0 to %d", n.ID, topic, p, start, next, want)
		}
		data, err := part.AppendBatches(nil, 0, 1<<30)
		if err != nil {
			t.Fatalf("node %d: %s/%d: %v", n.ID, topic, p, err)
		}
		expect := int64(0)
		for len(data) > 0 {
			h, err := recordbatch.Parse(data)
			if err != nil {
				t.Fatalf("node %d: %s/%d: served bytes at offset %d: %v", n.ID, topic, p, expect, err)
			}
			if base := int64(binary.BigEndian.Uint64(data)); base != expect {
				t.Fatalf("node %d: %s/%d: batch at offset %d, want %d", n.ID, topic, p, base, expect)
			}
			expect += int64(h.RecordCount)
			data = data[h.Length:]
		}
		if expect != want {
			t.Fatalf("node %d: %s/%d: batches end before %d, want %d", n.ID, topic, p, expect, want)
		}
	}
}

// Partitions on disk: a follower restarted after a snapshot restores it,
// keeping its own segment files (cut back to the snapshot, not copied), and
// replays the Raft log after it; one restarted without a snapshot replays
// the whole log. Neither applies a record twice over the files it had
// written: each holds every acknowledged record once, at its offset, and
// the same bytes as the others.
func TestCluster_DiskNodesRestarted_SameDigestsNoRecordTwice(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) { cfg.Storage = fsm.Disk }})
	c.CreateTopic("restart", 2)
	cl := c.Client(kgo.DefaultProduceTopic("restart"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	ctx := clustertest.Ctx(t)
	var acks []ack
	acked := map[int32]int64{}
	produce := func(n int) {
		t.Helper()
		for i := range n {
			res := cl.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("r-%d-%d", len(acks), i))})
			if err := res.FirstErr(); err != nil {
				t.Fatal(err)
			}
			r := res[0].Record
			acks = append(acks, ack{r.Partition, r.Offset, r.Key, r.Value})
			acked[r.Partition] = max(acked[r.Partition], r.Offset+1)
		}
	}
	produce(150)
	followers := c.Followers()
	snapshotted, replayed := followers[0], followers[1]
	c.WaitReplicasIdentical()
	if err := snapshotted.Server().Node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	produce(100)
	c.WaitReplicasIdentical()
	segment := filepath.Join(snapshotted.Cfg.DataDir, "partitions", "restart", "0", "00000000000000000000.log")
	before := inode(t, segment)

	for _, n := range []*clustertest.Node{snapshotted, replayed} {
		c.Restart(n)
		c.WaitStable()
		c.WaitReplicasIdentical()
		checkNodeHolds(t, n, "restart", acked)
	}
	if inode(t, segment) != before {
		t.Fatal("the snapshotted node copied its segment files at the restart instead of keeping them")
	}
	if got := snapshotted.Server().Node.SnapshotsRestored(); got != 1 {
		t.Fatalf("the snapshotted node restored %d snapshots, want 1", got)
	}
	if got := replayed.Server().Node.SnapshotsRestored(); got != 0 {
		t.Fatalf("the other node restored %d snapshots, want none", got)
	}
	produce(50)
	c.WaitReplicasIdentical()
	for _, n := range c.Nodes {
		checkNodeHolds(t, n, "restart", acked)
	}
	verifyAcked(t, c, "restart", acks)
}

// A partition whose bytes on the leader's disk fail their checks is
// answered KAFKA_STORAGE_ERROR by Fetch and by ListOffsets for a
// timestamp, never with the damaged bytes; the other partitions are served.
func TestCluster_DiskDamagedSegment_FetchAnswersStorageError(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) { cfg.Storage = fsm.Disk }})
	c.CreateTopic("damaged", 2)
	cl := c.Client(kgo.DefaultProduceTopic("damaged"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx := clustertest.Ctx(t)
	for p := range int32(2) {
		for i := range 5 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte(fmt.Sprintf("v-%d-%d", p, i))}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	leader := c.Leader()
	seg := filepath.Join(leader.Cfg.DataDir, "partitions", "damaged", "0", "00000000000000000000.log")
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-3] ^= 0xff // the last record's value, under its batch's CRC
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}

	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxWaitMillis, fetch.MaxBytes = 0, 1<<20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = "damaged"
	for p := range int32(2) {
		fp := kmsg.NewFetchRequestTopicPartition()
		fp.Partition, fp.FetchOffset, fp.PartitionMaxBytes = p, 0, 1<<20
		ft.Partitions = append(ft.Partitions, fp)
	}
	fetch.Topics = append(fetch.Topics, ft)
	resp, err := fetch.RequestWith(ctx, cl.Broker(int(leader.ID)))
	if err != nil {
		t.Fatal(err)
	}
	for _, rp := range resp.Topics[0].Partitions {
		switch rp.Partition {
		case 0:
			if rp.ErrorCode != kerr.KafkaStorageError.Code || len(rp.RecordBatches) != 0 {
				t.Fatalf("damaged partition: error %d and %d bytes, want KAFKA_STORAGE_ERROR and none", rp.ErrorCode, len(rp.RecordBatches))
			}
		case 1:
			if rp.ErrorCode != 0 || len(rp.RecordBatches) == 0 {
				t.Fatalf("intact partition: error %d and %d bytes", rp.ErrorCode, len(rp.RecordBatches))
			}
		}
	}

	lo := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = "damaged"
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp = 0, 0 // the read from the first batch on meets the damaged one
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	lresp, err := lo.RequestWith(ctx, cl.Broker(int(leader.ID)))
	if err != nil {
		t.Fatal(err)
	}
	if got := lresp.Topics[0].Partitions[0]; got.ErrorCode != kerr.KafkaStorageError.Code || got.Offset != -1 {
		t.Fatalf("ListOffsets at 0: error %d offset %d, want KAFKA_STORAGE_ERROR", got.ErrorCode, got.Offset)
	}
}
