package telemetry_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/recordbatch/batchtest"
	"github.com/raftline/raftline/broker/seglog"
	"github.com/raftline/raftline/broker/server"
)

// statfs reads the free and total bytes of the filesystem holding dir, as
// the test sees them.
func statfs(t *testing.T, dir string) (free, capacity int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize)
}

// sample is the value of the one series of name whose labels include want.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, error) {
	n := 0
	var v float64
	for _, m := range fams[name].GetMetric() {
		if hasLabels(m, want) {
			n++
			v = value(map[string]*dto.MetricFamily{name: {Metric: []*dto.Metric{m}}}, name, nil)
		}
	}
	if n != 1 {
		return 0, fmt.Errorf("%d series of %s with %v, want 1", n, name, want)
	}
	return v, nil
}

// With --storage disk, the storage metrics describe what each node holds:
// each partition's bytes, offsets, segments and index bytes agree with the
// node's own digests, the partitions' share of the disk is their files, the
// Raft log's is raft_log_size_bytes', snapshots appear once taken, free
// space and capacity are the filesystem's, the floor is the one configured,
// a follower restored from its snapshot times its segment syncs, and a
// produce the leader refuses below its floor is counted.
func TestCluster_StorageMetrics_DiskMode_DescribeWhatTheNodesHold(t *testing.T) {
	const floor = 1 << 20
	c, _ := startClusterWith(t, 3, nil, func(cfg *server.Config) {
		cfg.Storage = fsm.Disk
		cfg.Raft.FSM.Segments = seglog.Options{SegmentBytes: 64 << 10, IndexIntervalBytes: 1024}
		cfg.StorageMinFreeBytes = floor
	})
	c.CreateTopic("stored", 2)
	ctx, cancel := context.WithTimeout(clustertest.Ctx(t), 60*time.Second)
	defer cancel()
	// Round robin: a sticky partitioner can leave one partition too few
	// records to roll three segments.
	cl := c.Client(kgo.DefaultProduceTopic("stored"), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	for i := range 40 {
		// Ten at a time, so each partition gets many small batches and
		// rolls several 64 KiB segments.
		var rs []*kgo.Record
		for j := range 10 {
			rs = append(rs, &kgo.Record{Value: []byte(strings.Repeat("v", 1000) + strconv.Itoa(i*10+j))})
		}
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReplicasIdentical()

	for _, n := range c.Nodes {
		clustertest.Wait(t, 20*time.Second, fmt.Sprintf("node %d's storage metrics to describe what it holds", n.ID), func() error {
			return storageAgrees(t, c, n, floor)
		})
	}

	// A snapshot's files count once taken; restoring it on a restarted
	// follower syncs each partition's segments.
	f := c.Followers()[0]
	if err := f.Server().Node.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if v, err := sample(scrape(t, f), "raftline_storage_used_bytes", map[string]string{"kind": "snapshots"}); err != nil || v <= 0 {
		t.Fatalf("node %d after a snapshot: raftline_storage_used_bytes{kind=snapshots} = %v, %v", f.ID, v, err)
	}
	c.Restart(f)
	c.WaitReplicasIdentical()
	clustertest.Wait(t, 20*time.Second, fmt.Sprintf("restarted node %d's storage metrics", f.ID), func() error {
		if err := storageAgrees(t, c, f, floor); err != nil {
			return err
		}
		fams := scrape(t, f)
		if syncs := value(fams, "raftline_storage_sync_duration_seconds", nil); syncs < 2 {
			return fmt.Errorf("restored from a snapshot of 2 partitions, %v segment syncs timed", syncs)
		}
		if last := value(fams, "raftline_storage_sync_last_duration_seconds", nil); last <= 0 {
			return fmt.Errorf("raftline_storage_sync_last_duration_seconds = %v after segment syncs", last)
		}
		return nil
	})

	// Below its floor the leader refuses and counts each partition's
	// produce; back above, it takes them again.
	leader := c.Leader()
	_, capacity := statfs(t, leader.Cfg.DataDir)
	leader.Server().FreeSpace.SetMinFreeBytes(capacity + 1)
	if code := produceCode(ctx, t, cl, leader, "stored", 1); code != 56 {
		t.Fatalf("leader below its floor answered error code %d, want 56 (KAFKA_STORAGE_ERROR)", code)
	}
	below := map[string]string{"reason": "disk_below_floor"}
	if v, err := sample(scrape(t, leader), "raftline_produce_refusals_total", below); err != nil || v != 1 {
		t.Fatalf("after one refused produce: raftline_produce_refusals_total = %v, %v; want 1", v, err)
	}
	if v, _ := sample(scrape(t, leader), "raftline_storage_min_free_bytes", nil); v != float64(capacity+1) {
		t.Fatalf("raftline_storage_min_free_bytes = %v after the floor was raised to %d", v, capacity+1)
	}
	leader.Server().FreeSpace.SetMinFreeBytes(floor)
	if code := produceCode(ctx, t, cl, leader, "stored", 1); code != 0 {
		t.Fatalf("leader back above its floor answered error code %d", code)
	}
	if v, _ := sample(scrape(t, leader), "raftline_produce_refusals_total", below); v != 1 {
		t.Fatalf("raftline_produce_refusals_total = %v after an accepted produce, want still 1", v)
	}
}

// storageAgrees compares node n's storage metrics with its digests and its
// filesystem, and says what differs.
func storageAgrees(t *testing.T, c *clustertest.Cluster, n *clustertest.Node, floor int64) error {
	fams := scrape(t, n)
	digests := c.Digests(n)
	if len(digests) != 2 {
		return fmt.Errorf("%d partitions", len(digests))
	}
	var onDisk float64
	for key, d := range digests {
		topic, p, _ := strings.Cut(key, "/")
		ls := map[string]string{"topic": topic, "partition": p}
		get := func(name string) float64 {
			v, err := sample(fams, name, ls)
			if err != nil {
				t.Fatalf("node %d: %v", n.ID, err)
			}
			return v
		}
		size, segs, index := get("raftline_partition_size_bytes"), get("raftline_partition_segments"), get("raftline_partition_index_size_bytes")
		start, hw := get("raftline_partition_log_start_offset"), get("raftline_partition_high_watermark")
		switch {
		case size != float64(d.Bytes) || start != float64(d.LogStart) || hw != float64(d.HighWatermark):
			return fmt.Errorf("%s: size %v, log start %v, high watermark %v; the digest says %d, %d, %d", key, size, start, hw, d.Bytes, d.LogStart, d.HighWatermark)
		case segs < 3 || index <= 0:
			return fmt.Errorf("%s: %v bytes in %v segments with %v index bytes; 64 KiB segments", key, size, segs, index)
		}
		onDisk += size + index
	}
	used := func(kind string) float64 {
		v, err := sample(fams, "raftline_storage_used_bytes", map[string]string{"kind": kind})
		if err != nil {
			t.Fatalf("node %d: %v", n.ID, err)
		}
		return v
	}
	if got := used("partitions"); got != onDisk {
		return fmt.Errorf("raftline_storage_used_bytes{kind=partitions} = %v, the partitions' files hold %v", got, onDisk)
	}
	if got, want := used("raft_log"), value(fams, "raft_log_size_bytes", nil); got != want || got <= 0 {
		return fmt.Errorf("raftline_storage_used_bytes{kind=raft_log} = %v, raft_log_size_bytes = %v", got, want)
	}
	free, capacity := statfs(t, n.Cfg.DataDir)
	gotFree, _ := sample(fams, "raftline_storage_free_bytes", nil)
	gotCap, _ := sample(fams, "raftline_storage_capacity_bytes", nil)
	gotFloor, _ := sample(fams, "raftline_storage_min_free_bytes", nil)
	// Free space is read once a second and other work writes meanwhile.
	if d := gotFree - float64(free); gotCap != float64(capacity) || d > 256<<20 || d < -256<<20 {
		return fmt.Errorf("free %v of %v bytes; statfs says %d of %d", gotFree, gotCap, free, capacity)
	}
	if gotFloor != float64(floor) {
		return fmt.Errorf("raftline_storage_min_free_bytes = %v, want %d", gotFloor, floor)
	}
	if v, err := sample(fams, "raftline_storage_written_bytes_total", nil); err != nil || v <= 0 {
		return fmt.Errorf("raftline_storage_written_bytes_total = %v, %v after fsynced writes", v, err)
	}
	return nil
}

// produceCode sends one record to topic's partition on node n (Produce v7)
// and returns the partition's error code.
func produceCode(ctx context.Context, t *testing.T, cl *kgo.Client, n *clustertest.Node, topic string, partition int32) int16 {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(7)
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = partition
	rp.Records = batchtest.Plain(time.Now().UnixMilli(), "refused or not")
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Broker(int(n.ID)))
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}
