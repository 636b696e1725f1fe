//go:build linux

package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/raftline/raftline/broker/snapstore"
)

// Compaction settings for the streamed catch-up: a snapshot every 64
// entries, and enough entries kept after one that a follower which has
// installed a snapshot usually catches up from the log while producers
// keep writing; with TestProcess_NodeDownDuringCompaction_CatchesUpBySnapshot's
// 16 the leader compacts past it during each install, and it installs
// snapshot after snapshot until one lands close enough.
const streamedTrailingLogs = 256

// The lines hashicorp/raft logs on a follower that installs a snapshot its
// leader sent: the stream copied into the local store (with --storage disk
// the frame, the head and every segment file; the count is a float64,
// bytes=2.6464899e+07, exact for any size a test makes), the restore with
// the id the local store gave it, and the install done.
var (
	copiedSnapshotLine = regexp.MustCompile(`msg="copied to local snapshot".* bytes=([0-9.e+]+)`)
	restoreLine        = regexp.MustCompile(`msg="snapshot restore progress".* id=(\S+)`)
)

// installedSnapshot is one snapshot a node installed from its leader.
type installedSnapshot struct {
	id     string // in the node's snapshot store
	copied int64  // bytes received
}

// installsOf lists the snapshots nd installed from its leader since it
// started, from its log, failing the test at once if the log shows that
// the node's log store refused entries after one (it would retry for ever).
func installsOf(t testing.TB, nd *node) []installedSnapshot {
	t.Helper()
	log, err := nd.logSinceStart()
	if err != nil {
		t.Fatal(err)
	}
	var out []installedSnapshot
	var next installedSnapshot
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "failed to append to logs") {
			t.Fatalf("node %d cannot append after catching up: %s", nd.id, line)
		}
		if m := copiedSnapshotLine.FindStringSubmatch(line); m != nil {
			f, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				t.Fatalf("node %d logged %q", nd.id, line)
			}
			next = installedSnapshot{copied: int64(f)}
		}
		if m := restoreLine.FindStringSubmatch(line); m != nil && next.copied > 0 {
			next.id = m[1]
		}
		if strings.Contains(line, "Installed remote snapshot") {
			if next.copied == 0 || next.id == "" {
				t.Fatalf("node %d installed a remote snapshot without logging its copy and restore first:\n%s", nd.id, log)
			}
			out = append(out, next)
			next = installedSnapshot{}
		}
	}
	return out
}

// A follower that was down while the leader compacted its Raft log past
// what it holds is sent a snapshot, and with --storage disk a snapshot is
// the partitions' segment files, streamed and checked by length and CRC-32C
// (broker/snapstore) before they replace the follower's own. It must
// install them and catch up while producers keep writing with acks=all;
// then every replica is byte-identical and every acknowledged record is
// read back exactly once, at the offset it was acknowledged at.
func TestProcess_NodeDownDuringCompaction_CatchesUpByStreamedSegments_UnderLoad(t *testing.T) {
	c := newCluster(t, 3, "--storage", "disk",
		"--snapshot-threshold", strconv.Itoa(snapshotThreshold),
		"--trailing-logs", strconv.Itoa(streamedTrailingLogs),
		"--snapshot-interval", "200ms")
	leader := c.waitLeader()
	waitRegistered(t, httpAddrs(c.nodes))
	cl := newClient(t, c.kafkaAddrs(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// The load: as fast as the cluster takes it, with at most 64
		// records buffered in the client.
		kgo.MaxBufferedRecords(64))
	const topic, partitions = "streamed", 2
	// Segments of 1 MiB, the least, so a snapshot lists many files.
	createCheckedTopic(t, cl, topic, partitions, map[string]string{
		"retention.bytes": "-1", "retention.ms": "-1", "segment.bytes": strconv.Itoa(1 << 20)})
	c.waitTopic(topic, partitions, c.nodes...)
	var parts []topicPartition
	for p := range int32(partitions) {
		parts = append(parts, topicPartition{topic, p})
	}
	shape := valueShape{min: 512, max: 4 << 10}
	w := newCheckedWriter(t, cl, shape, parts)
	w.start()

	var down *node
	for _, nd := range c.nodes {
		if nd != leader {
			down = nd
			break
		}
	}
	// The follower goes with segment files of its own in every partition,
	// which the streamed ones must replace.
	w.waitAcked(4<<20, 60*time.Second)
	waitFor(t, 30*time.Second, fmt.Sprintf("node %d to hold rolled segments of every partition", down.id), func() error {
		for _, tp := range parts {
			fs, err := segmentFiles(partitionDir(down, tp))
			if err != nil {
				return err
			}
			if len(fs) < 2 {
				return fmt.Errorf("%s: %d segment", tp, len(fs))
			}
		}
		return nil
	})
	ackedBeforeStop := w.ackedBytes()
	c.stop(down)
	own := map[topicPartition]map[string]segmentFile{}
	for _, tp := range parts {
		fs, err := segmentFiles(partitionDir(down, tp))
		if err != nil {
			t.Fatal(err)
		}
		own[tp] = fs
	}
	v, err := clusterOf(leader.http)
	if err != nil {
		t.Fatal(err)
	}
	// As in TestProcess_NodeDownDuringCompaction_CatchesUpBySnapshot: once
	// every live node has a snapshot past target, whichever leads has
	// compacted away the entries the follower lacks.
	missedFrom := v.LastIndex + 1
	target := missedFrom + streamedTrailingLogs + 16
	live := c.live()
	waitFor(t, 90*time.Second, fmt.Sprintf("every live node to snapshot past index %d, and 16 MiB more to be written", target), func() error {
		if err := w.firstErr(); err != nil {
			t.Fatalf("produce failed: %v", err)
		}
		state := []string{fmt.Sprintf("%s acknowledged since node %d stopped", mib(w.ackedBytes()-ackedBeforeStop), down.id)}
		done := w.ackedBytes()-ackedBeforeStop >= 16<<20
		for _, nd := range live {
			idx, err := snapshotIndex(nd.dataDir)
			if err != nil {
				return err
			}
			done = done && idx >= target
			state = append(state, fmt.Sprintf("node %d's newest snapshot is at index %d", nd.id, idx))
		}
		if !done {
			return errors.New(strings.Join(state, "; "))
		}
		return nil
	})

	// Back with a snapshot interval longer than the test, so that it takes
	// no snapshot of its own and the last one it receives stays in its
	// store (which keeps the newest two) until the test looks at its
	// files. A threshold would not do: right after an install its log
	// store is empty, and hashicorp/raft, comparing the last log index
	// (0) with the snapshot's, snapshots again at every interval until an
	// entry arrives.
	down.Args = append(slices.Clone(down.Args), "--snapshot-interval", "1h")
	c.restart(down)
	restarted := time.Now()
	waitFor(t, 2*time.Minute, fmt.Sprintf("node %d to install a snapshot the leader streamed", down.id), func() error {
		if err := down.ExitErr(); err != nil {
			t.Fatalf("node %d: %v", down.id, err)
		}
		if len(installsOf(t, down)) == 0 {
			return errors.New("no \"Installed remote snapshot\" line in its log since the restart")
		}
		return nil
	})
	installed := time.Since(restarted)
	// Caught up under load: applied what the leader had committed once
	// the snapshot was in, while records kept coming, and more records
	// are acknowledged after that.
	now := c.waitLeader()
	lv, err := clusterOf(now.http)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, fmt.Sprintf("node %d to apply index %d", down.id, lv.CommitIndex), func() error {
		dv, err := clusterOf(down.http)
		if err != nil {
			return err
		}
		if dv.AppliedIndex < lv.CommitIndex {
			return fmt.Errorf("node %d has applied up to %d", down.id, dv.AppliedIndex)
		}
		return nil
	})
	caughtUp := time.Since(restarted)
	ackedAtCatchUp := w.ackedRecords()
	waitFor(t, 60*time.Second, "records acknowledged after the catch-up", func() error {
		if err := w.firstErr(); err != nil {
			t.Fatalf("produce failed: %v", err)
		}
		if n := w.ackedRecords() - ackedAtCatchUp; n < 200 {
			return fmt.Errorf("%d records acknowledged since", n)
		}
		return nil
	})
	w.finish()

	// The last snapshot the follower installed, still in its store: the
	// segment files of every partition, as listed, with the records
	// acknowledged before it stopped.
	installs := installsOf(t, down)
	last := installs[len(installs)-1]
	received := checkReceivedSnapshot(t, down, last, parts)
	if received.Index < target {
		t.Fatalf("node %d installed snapshot %s at index %d; the leader's were past %d", down.id, received.ID, received.Index, target)
	}
	if received.bytes < ackedBeforeStop {
		t.Fatalf("node %d received segment files of %d bytes; %d bytes of values had been acknowledged before it stopped", down.id, received.bytes, ackedBeforeStop)
	}
	t.Logf("node %d stopped at index %d; restarted, it installed %d snapshot(s) streamed by the leader, the first within %v, and applied index %d %v after its start; the last, at index %d, was %s, holding %d files of %s (segments and their append-time indexes); %d records of %s acknowledged in all",
		down.id, missedFrom-1, len(installs), installed.Round(time.Millisecond), lv.CommitIndex, caughtUp.Round(time.Millisecond),
		received.Index, mib(last.copied), len(received.Files), mib(received.bytes), w.ackedRecords(), mib(w.ackedBytes()))

	digests := c.waitDigestsEqual(60*time.Second, nil, c.nodes...)
	w.checkDigests(digests)
	consumeChecked(t, c.kafkaAddrs(), shape, w.ends())
	c.checkFetchMatchesDigests(digests)

	// The follower's partitions are the streamed files now: each of its
	// own segment files was replaced, none kept (seglog.Log.Install swaps
	// the directory), and nothing is left of the swap.
	for _, tp := range parts {
		dir := partitionDir(down, tp)
		fs, err := segmentFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) <= len(own[tp]) {
			t.Errorf("%s: node %d holds %d segments, as many as before it stopped", dir, down.id, len(fs))
		}
		for name, f := range own[tp] {
			// An inode number alone may be reused once a swap has
			// removed the file that had it.
			if g, ok := fs[name]; ok && g == f {
				t.Errorf("%s/%s is the file node %d wrote itself (inode %d, %d bytes, modified %v), not the streamed one", dir, name, down.id, f.ino, f.size, f.modTime)
			}
		}
		for _, leftover := range []string{dir + ".staging", dir + ".old"} {
			if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s is left after the install (%v)", leftover, err)
			}
		}
	}
}

// receivedSnapshot is a snapshot in a node's store (broker/snapstore's
// meta.json), with the bytes of the files it lists.
type receivedSnapshot struct {
	ID    string
	Index uint64
	Files []snapstore.File
	bytes int64
}

// checkReceivedSnapshot checks the snapshot nd installed as in: the store
// holds it, it lists segment files of every partition of parts, each file
// is there with the length and CRC-32C listed, and they add up to no more
// than the bytes received.
func checkReceivedSnapshot(t testing.TB, nd *node, in installedSnapshot, parts []topicPartition) receivedSnapshot {
	t.Helper()
	dir := filepath.Join(nd.dataDir, "raft", "snapshots", in.id)
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatalf("node %d's store no longer holds the snapshot it installed last: %v", nd.id, err)
	}
	var s receivedSnapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	segments := map[string]int{} // partition -> .log files
	for _, f := range s.Files {
		b, err := os.ReadFile(filepath.Join(dir, "files", filepath.FromSlash(f.Name)))
		if err != nil {
			t.Fatalf("node %d's snapshot %s lists %s: %v", nd.id, s.ID, f.Name, err)
		}
		if int64(len(b)) != f.Length || crc32.Checksum(b, castagnoli) != f.CRC32C {
			t.Fatalf("node %d's snapshot %s: %s holds %d bytes with CRC-32C %08x; it lists %d bytes, %08x",
				nd.id, s.ID, f.Name, len(b), crc32.Checksum(b, castagnoli), f.Length, f.CRC32C)
		}
		s.bytes += f.Length
		if strings.HasSuffix(f.Name, ".log") {
			segments[path.Dir(f.Name)]++
		}
	}
	for _, tp := range parts {
		if segments[tp.String()] == 0 {
			t.Fatalf("node %d's snapshot %s (index %d) lists no segment file of %s: %v", nd.id, s.ID, s.Index, tp, s.Files)
		}
	}
	if s.bytes > in.copied {
		t.Fatalf("node %d's snapshot %s lists %d bytes of files, but %d bytes were copied from the leader", nd.id, s.ID, s.bytes, in.copied)
	}
	return s
}
