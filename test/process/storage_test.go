//go:build unix

package process

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// With --storage disk every partition lives in segment files under
// <data-dir>/partitions/<topic>/<partition>. A cluster crashed as a whole
// (SIGKILL: nothing synced on the way out) and started again rebuilds them
// from its Raft logs, or from its snapshots and the entries after them, over
// the files it had written, and must serve exactly the records it
// acknowledged, once each, to a client raftline did not write (kcat,
// librdkafka), with byte-identical replicas.
func TestProcess_DiskStorage_WholeClusterCrash_KcatReadsEveryRecordOnce(t *testing.T) {
	t.Run("FromLog", func(t *testing.T) { diskClusterCrash(t, false) })
	t.Run("FromSnapshotAndLog", func(t *testing.T) { diskClusterCrash(t, true) })
}

func diskClusterCrash(t *testing.T, snapshots bool) {
	kcat := kcatPath(t)
	extra := []string{"--storage", "disk"}
	if snapshots {
		extra = append(extra, "--snapshot-threshold", "64", "--snapshot-interval", "200ms")
	}
	c := newCluster(t, 3, extra...)
	c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	const topic, partitions = "ondisk", 3
	cl := newClient(t, c.kafkaAddrs())
	createTopic(t, cl, topic, partitions)
	c.waitTopic(topic, partitions, c.nodes...)
	s := startStream(t, cl, topic)
	s.waitAcked(1500, 60*time.Second)
	acks := s.finish()
	if snapshots {
		acks = c.produceUntilSnapshotAndTail(t, cl, topic, acks)
	}
	cl.Close()
	before := c.waitDigestsEqual(30*time.Second, nil, c.nodes...)
	for _, nd := range c.nodes {
		for p := range partitions {
			dir := filepath.Join(nd.dataDir, "partitions", topic, strconv.Itoa(p))
			if n := logBytes(t, dir); n == 0 {
				t.Fatalf("node %d: no record bytes in segment files under %s", nd.id, dir)
			}
		}
	}

	for _, nd := range c.nodes {
		c.kill(nd)
	}
	for _, nd := range c.nodes {
		c.restart(nd)
	}
	c.waitReady(c.nodes...)
	c.waitLeader()
	after := c.waitDigestsEqual(60*time.Second, before, c.nodes...)
	for _, nd := range c.nodes {
		log, err := nd.logSinceStart()
		if err != nil {
			t.Fatal(err)
		}
		// hashicorp/raft's message after loading the local snapshot.
		if restored := strings.Contains(log, "restored from snapshot"); restored != snapshots {
			t.Fatalf("node %d restored from a snapshot at start-up: %v, want %v", nd.id, restored, snapshots)
		}
	}

	out := runKcat(t, kcat, nil, "-C", "-b", strings.Join(c.kafkaAddrs(), ","), "-t", topic, "-o", "beginning", "-e", "-f", `%p|%o|%k|%s\n`)
	got := map[int32][]*kgo.Record{}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		f := strings.SplitN(line, "|", 4)
		if len(f) != 4 {
			t.Fatalf("kcat printed %q", line)
		}
		p, perr := strconv.Atoi(f[0])
		off, oerr := strconv.ParseInt(f[1], 10, 64)
		if perr != nil || oerr != nil {
			t.Fatalf("kcat printed %q", line)
		}
		got[int32(p)] = append(got[int32(p)], &kgo.Record{Partition: int32(p), Offset: off, Key: []byte(f[2]), Value: []byte(f[3])})
	}
	ends := map[int32]int64{}
	for _, d := range after {
		if d.Topic == topic {
			ends[d.Partition] = d.HighWatermark
		}
	}
	checkAcked(t, acks, got, ends)
	checkEnds(t, after, topic, ends)
	t.Logf("%d records in %d partitions read back by kcat after the crash; high watermarks %v", len(acks), partitions, ends)
}

// logBytes is the size of the segment log files in a partition's directory.
func logBytes(t testing.TB, dir string) int64 {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".log") {
			fi, err := e.Info()
			if err != nil {
				t.Fatal(err)
			}
			n += fi.Size()
		}
	}
	return n
}
