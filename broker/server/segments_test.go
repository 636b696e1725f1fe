package server_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/clustertest"
	"github.com/raftline/raftline/broker/fsm"
	"github.com/raftline/raftline/broker/server"
)

// segmentFiles lists a node's segment files of one partition with their
// sizes, in offset order.
func segmentFiles(t *testing.T, n *clustertest.Node, topic string, partition string) map[string]int64 {
	t.Helper()
	dir := filepath.Join(n.Cfg.DataDir, "partitions", topic, partition)
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, e := range es {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = info.Size()
	}
	return out
}

// segment.bytes set with CreateTopics reaches every replica's log through
// the replicated topic: each node rolls the partition's segment files at the
// same offsets, at about 1 MiB, on disk. Values outside the bounds are
// INVALID_CONFIG, with the reason.
func TestCluster_DiskSegmentBytes_FromCreateTopics_RollsAtOneMiBOnEveryNode(t *testing.T) {
	c := clustertest.Start(t, clustertest.Options{Configure: func(cfg *server.Config) { cfg.Storage = fsm.Disk }})
	adm := kadm.NewClient(c.Client())
	ctx := clustertest.Ctx(t)
	mib := "1048576"
	resp, err := adm.CreateTopic(ctx, 1, -1, map[string]*string{"segment.bytes": &mib}, "rolled")
	if err != nil || resp.Err != nil {
		t.Fatalf("create: %v, %v", err, resp.Err)
	}
	tiny, short := "14", "1000"
	for _, tc := range []struct {
		config string
		value  *string
	}{{"segment.bytes", &tiny}, {"segment.ms", &short}} {
		// kadm returns the topic's error both ways.
		resp, _ := adm.CreateTopic(ctx, 1, -1, map[string]*string{tc.config: tc.value}, "refused-"+strings.ReplaceAll(tc.config, ".", "-"))
		if !errors.Is(resp.Err, kerr.InvalidConfig) || !strings.Contains(resp.ErrMessage, tc.config) {
			t.Fatalf("%s=%s: %v (%q); want INVALID_CONFIG naming it", tc.config, *tc.value, resp.Err, resp.ErrMessage)
		}
	}

	cl := c.Client(kgo.DefaultProduceTopic("rolled"), kgo.ProducerBatchMaxBytes(200<<10), kgo.ProducerBatchCompression(kgo.NoCompression()))
	value := make([]byte, 100<<10)
	for i := range 35 { // about 3.5 MiB in batches of about 100 KiB
		value[0] = byte(i)
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	c.WaitReplicasIdentical()
	want := segmentFiles(t, c.Nodes[0], "rolled", "0")
	names := make([]string, 0, len(want))
	for name, size := range want {
		names = append(names, name)
		if size > 1<<20 {
			t.Errorf("node 1: %s holds %d bytes, more than segment.bytes", name, size)
		}
	}
	slices.Sort(names)
	if len(names) != 4 {
		t.Fatalf("node 1: segments %v, want 4 of about 1 MiB for 3.5 MiB", want)
	}
	for _, name := range names[:len(names)-1] {
		if want[name] < 1<<20-(110<<10) {
			t.Errorf("node 1: %s rolled at %d bytes, want within a batch of 1 MiB", name, want[name])
		}
	}
	for _, n := range c.Nodes[1:] {
		got := segmentFiles(t, n, "rolled", "0")
		if len(got) != len(want) {
			t.Fatalf("node %d: segments %v, node 1 %v", n.ID, got, want)
		}
		for name, size := range want {
			if got[name] != size {
				t.Fatalf("node %d: segments %v, node 1 %v", n.ID, got, want)
			}
		}
	}
}
